"""Python side of `cargo xtask bench-reward`: tokenizers + onnxruntime on the same inputs.

Same policy as the Rust side: sort by length, chunks of --batch pairs, pair encoding truncated to
--max-length, padding to the chunk's longest. Prints {"pairs", "seconds", "pairs_per_s", "scores"}.

A model whose reward.json names a head (the shipped one) is scored the way dojo-reward scores it:
the pair embedding, then each distinct prompt and every completion encoded alone for the relevance
cosine, then the head in numpy. The other side features (arithmetic, refusal, knowledge) come
precomputed in the inputs file: they are string checks and dictionary lookups, not inference.
"""
import argparse
import json
import time

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--inputs", required=True)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--max-length", type=int, default=256)
    ap.add_argument("--threads", type=int, default=0)
    a = ap.parse_args()
    rows = json.load(open(a.inputs))
    data = [(r["prompt"], r["completion"]) for r in rows]
    given = [r.get("side", {}) for r in rows]
    cfg = json.load(open(f"{a.model}/reward.json")) if __import__("os").path.exists(f"{a.model}/reward.json") else {}
    head = json.load(open(f"{a.model}/{cfg['head']}")) if cfg.get("head") else None
    tok = Tokenizer.from_file(f"{a.model}/tokenizer.json")
    pad = tok.padding or {}
    tok.enable_padding(pad_id=pad.get("pad_id", 0), pad_token=pad.get("pad_token", "[PAD]"))
    tok.enable_truncation(max_length=a.max_length, strategy="longest_first")
    so = ort.SessionOptions()
    if a.threads:
        so.intra_op_num_threads = a.threads
    sess = ort.InferenceSession(f"{a.model}/model.onnx", so, providers=["CPUExecutionProvider"])
    names = {i.name for i in sess.get_inputs()}

    def run(encoded, output):
        feeds = {
            "input_ids": np.array([e.ids for e in encoded], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in encoded], dtype=np.int64),
            "token_type_ids": np.array([e.type_ids for e in encoded], dtype=np.int64),
        }
        return sess.run([output], {k: v for k, v in feeds.items() if k in names})[0]

    def chunked(items, key, encode, output):
        order = sorted(range(len(items)), key=key) if len(items) > a.batch else list(range(len(items)))
        out = [None] * len(items)
        for s in range(0, len(order), a.batch):
            idx = order[s:s + a.batch]
            res = run(encode([items[i] for i in idx]), output)
            for j, i in enumerate(idx):
                out[i] = res[j]
        return out

    pair_len = lambda items: (lambda i: len(items[i][0].encode()) + len(items[i][1].encode()))

    def score(items, side_given):
        if head is None:
            return [float(x.reshape(-1)[0]) for x in chunked(items, pair_len(items), tok.encode_batch, "logits")]
        emb = np.array(chunked(items, pair_len(items), tok.encode_batch, "embedding"), dtype=np.float32)
        side = []
        if "relevance" in head.get("side", []):
            prompts = list(dict.fromkeys(p for p, _ in items))
            texts = prompts + [c for _, c in items]
            single = chunked(texts, lambda i: len(texts[i].encode()), tok.encode_batch, "embedding")
            dims = cfg["sentence_dims"]
            at = {p: k for k, p in enumerate(prompts)}
            rel = []
            for k, (p, _) in enumerate(items):
                u, v = single[at[p]][:dims], single[len(prompts) + k][:dims]
                rel.append(float(u @ v / max(np.linalg.norm(u) * np.linalg.norm(v), 1e-12)))
        for name in head.get("side", []):
            side.append(rel if name == "relevance" else [g[name] for g in side_given])
        x = np.concatenate([emb, np.array(side, dtype=np.float32).T.reshape(len(items), -1)], axis=1)
        hidden = np.maximum(x @ np.array(head["w1"], np.float32).T + np.array(head["b1"], np.float32), 0)
        return (hidden @ np.array(head["w2"], np.float32) + np.float32(head["b2"])).astype(float).tolist()

    score(data[:a.batch], given[:a.batch])  # warm-up, as on the Rust side
    t = time.perf_counter()
    scores = score(data, given)
    secs = time.perf_counter() - t
    json.dump({"pairs": len(data), "seconds": secs, "pairs_per_s": len(data) / secs, "scores": scores}, __import__("sys").stdout)


if __name__ == "__main__":
    main()
