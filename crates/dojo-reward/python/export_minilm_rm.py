"""Export dojo-minilm-rm to ONNX without torch: a BERT encoder read straight from safetensors, plus the
trained reward head, with the Hugging Face sequence-classification interface.

Inputs  input_ids, attention_mask, token_type_ids: int64 [batch, sequence]
Outputs logits: float [batch, 1]      the reward (higher is better)
        embedding: float [batch, 768]  the head's features: L2-normalised mean pool ++ [CLS] hidden state

With --sentence-only (no --head) it writes the plain sentence encoder all-MiniLM-L6-v2 instead:
Outputs sentence_embedding: float [batch, hidden]  L2-normalised mean pool over real tokens

Usage: export_minilm_rm.py --safetensors F --config config.json --head head.json --out model.onnx
       export_minilm_rm.py --safetensors F --config config.json --sentence-only --out model.onnx
Needs only numpy and onnx. Position ids use a 1-D Slice, not Range+Gather: ORT 1.31's optimizer
rewrites the latter into a Slice with scalar starts and fails ("Starts must be a 1-D array").
"""
import argparse
import json
import struct

import numpy as np
import onnx
from onnx import TensorProto as T
from onnx import helper as H
from onnx import numpy_helper as NH

DTYPES = {"F32": np.float32, "I64": np.int64}


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        raw = f.read()
    out = {}
    for k, m in header.items():
        if k == "__metadata__":
            continue
        a, b = m["data_offsets"]
        out[k] = np.frombuffer(raw[a:b], dtype=DTYPES[m["dtype"]]).reshape(m["shape"])
    return out


def load_head(path, features):
    head = json.load(open(path))
    if head.get("format") != "dojo-reward-head/1":
        raise SystemExit(f"{path}: format must be dojo-reward-head/1")
    w1 = np.asarray(head["w1"], np.float32)  # [hidden, features]
    b1 = np.asarray(head["b1"], np.float32)
    w2 = np.asarray(head["w2"], np.float32)  # [hidden]
    b2 = np.float32(head["b2"])
    if w1.shape[1] != features or b1.shape != (w1.shape[0],) or w2.shape != (w1.shape[0],):
        raise SystemExit(f"{path}: head shapes {w1.shape} {b1.shape} {w2.shape} do not fit {features} features")
    return w1, b1, w2, b2


def build(weights, cfg, head):
    hd, nh, layers, eps = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_hidden_layers"], cfg["layer_norm_eps"]
    dh = hd // nh
    inits, nodes = [], []

    def init(name, arr):
        inits.append(NH.from_array(np.ascontiguousarray(arr), name))
        return name

    def node(op, ins, outs=None, **kw):
        outs = outs or [f"{op}_{len(nodes)}"]
        nodes.append(H.make_node(op, ins, outs, **kw))
        return outs[0]

    def w(k):
        return weights[k]

    init("c_scale", np.array(1.0 / np.sqrt(dh), np.float32))
    init("c_one", np.array(1.0, np.float32))
    init("c_half", np.array(0.5, np.float32))
    init("c_sqrt2", np.array(np.sqrt(2.0), np.float32))
    init("c_neg", np.array(-1e4, np.float32))
    init("c_eps", np.array(1e-9, np.float32))
    init("c_shape4", np.array([0, 0, nh, dh], np.int64))
    init("c_shape3", np.array([0, 0, hd], np.int64))
    init("ax12", np.array([1, 2], np.int64))
    init("ax1", np.array([1], np.int64))
    init("ax2", np.array([2], np.int64))
    init("v0", np.array([0], np.int64))
    init("v1", np.array([1], np.int64))
    init("v2", np.array([2], np.int64))

    def linear(x, p):
        return node("Add", [node("MatMul", [x, init(p + ".wT", w(p + ".weight").T)]), init(p + ".b", w(p + ".bias"))])

    def ln(x, p):
        return node("LayerNormalization", [x, init(p + ".g", w(p + ".weight")), init(p + ".bb", w(p + ".bias"))],
                    axis=-1, epsilon=eps)

    we = node("Gather", [init("word_emb", w("embeddings.word_embeddings.weight")), "input_ids"])
    seq = node("Slice", [node("Shape", ["input_ids"]), "v1", "v2"])
    pos = node("Slice", [init("pos_emb", w("embeddings.position_embeddings.weight")), "v0", seq, "v0"])
    tt = node("Gather", [init("tt_emb", w("embeddings.token_type_embeddings.weight")), "token_type_ids"])
    x = ln(node("Add", [node("Add", [we, pos]), tt]), "embeddings.LayerNorm")
    maskf = node("Cast", ["attention_mask"], to=T.FLOAT)
    ext = node("Unsqueeze", [node("Mul", [node("Sub", ["c_one", maskf]), "c_neg"]), "ax12"])
    for i in range(layers):
        p = f"encoder.layer.{i}."

        def heads(t, perm):
            return node("Transpose", [node("Reshape", [t, "c_shape4"])], perm=perm)

        q = heads(linear(x, p + "attention.self.query"), [0, 2, 1, 3])
        k = heads(linear(x, p + "attention.self.key"), [0, 2, 3, 1])
        v = heads(linear(x, p + "attention.self.value"), [0, 2, 1, 3])
        s = node("Add", [node("Mul", [node("MatMul", [q, k]), "c_scale"]), ext])
        ctx = node("Reshape", [node("Transpose", [node("MatMul", [node("Softmax", [s], axis=-1), v])],
                                    perm=[0, 2, 1, 3]), "c_shape3"])
        x1 = ln(node("Add", [linear(ctx, p + "attention.output.dense"), x]), p + "attention.output.LayerNorm")
        h = linear(x1, p + "intermediate.dense")
        g = node("Mul", [node("Mul", [h, "c_half"]),
                         node("Add", ["c_one", node("Erf", [node("Div", [h, "c_sqrt2"])])])])  # exact GELU
        x = ln(node("Add", [linear(g, p + "output.dense"), x1]), p + "output.LayerNorm")

    # Mean pooling over real tokens, L2-normalised (the sentence-transformers embedding).
    m3 = node("Unsqueeze", [maskf, "ax2"])
    summ = node("ReduceSum", [node("Mul", [x, m3]), "ax1"], keepdims=0)
    cnt = node("Max", [node("ReduceSum", [m3, "ax1"], keepdims=0), "c_eps"])
    mean = node("Div", [summ, cnt])
    nrm = node("Max", [node("ReduceL2", [mean], axes=[-1], keepdims=1), "c_eps"])
    if head is None:
        nodes.append(H.make_node("Div", [mean, nrm], ["sentence_embedding"]))
        return finish(nodes, inits, "all-minilm-l6-v2",
                      [H.make_tensor_value_info("sentence_embedding", T.FLOAT, ["batch", hd])])
    pooled = node("Div", [mean, nrm])
    # The [CLS] position's hidden state: [B, H].
    cls = node("Squeeze", [node("Slice", [x, "v0", "v1", "v1"]), "ax1"])
    nodes.append(H.make_node("Concat", [pooled, cls], ["embedding"], axis=-1))
    if head == "embedding":
        # The head runs outside the graph (reward.json `head`), on this output and side features.
        return finish(nodes, inits, "dojo-minilm-rm",
                      [H.make_tensor_value_info("embedding", T.FLOAT, ["batch", 2 * hd])])

    w1, b1, w2, b2 = head
    hidden = node("Relu", [node("Gemm", ["embedding", init("head.w1", w1), init("head.b1", b1)], transB=1)])
    nodes.append(H.make_node("Gemm", [hidden, init("head.w2", w2.reshape(1, -1)), init("head.b2", np.array([b2]))],
                             ["logits"], transB=1))

    outs = [H.make_tensor_value_info("logits", T.FLOAT, ["batch", 1]),
            H.make_tensor_value_info("embedding", T.FLOAT, ["batch", 2 * hd])]
    return finish(nodes, inits, "dojo-minilm-rm", outs)


def finish(nodes, inits, name, outs):
    ins = [H.make_tensor_value_info(n, T.INT64, ["batch", "sequence"])
           for n in ("input_ids", "attention_mask", "token_type_ids")]
    model = H.make_model(H.make_graph(nodes, name, ins, outs, inits),
                         opset_imports=[H.make_opsetid("", 17)], producer_name="dojo-reward export_minilm_rm.py")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model, len(nodes)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--safetensors", required=True)
    ap.add_argument("--config", required=True)
    ap.add_argument("--head")
    ap.add_argument("--sentence-only", action="store_true")
    ap.add_argument("--embedding-only", action="store_true",
                    help="pair graph with the embedding output and no head (the head runs in dojo-reward)")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    if sum([a.head is not None, a.sentence_only, a.embedding_only]) != 1:
        raise SystemExit("pass exactly one of --head FILE, --sentence-only and --embedding-only")
    cfg = json.load(open(a.config))
    weights = read_safetensors(a.safetensors)
    if a.embedding_only:
        head = "embedding"
    elif a.sentence_only:
        head = None
    else:
        head = load_head(a.head, 2 * cfg["hidden_size"])
    model, n = build(weights, cfg, head)
    onnx.save(model, a.out)
    print(f"export_minilm_rm: wrote {a.out} ({n} nodes)")


if __name__ == "__main__":
    main()
