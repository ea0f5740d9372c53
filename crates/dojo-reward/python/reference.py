"""Python reference pipeline for the parity test: tokenizers + onnxruntime on a model directory.

stdin:  {"model_dir": DIR, "max_length": N, "pairs": [[prompt, completion], ...], "singles": [text, ...]}
stdout: {"input_ids": [[...]], "attention_mask": [[...]], "token_type_ids": [[...]],
         "logits": [...] or null, "embedding": [[...]] or null, "single_embedding": [[...]] or null}

`singles` (optional) are encoded one text at a time, as the relevance feature does.
"""
import json
import sys

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer


def load_tokenizer(path, max_length):
    tok = Tokenizer.from_file(path)
    pad = tok.padding or {}
    tok.enable_padding(pad_id=pad.get("pad_id", 0), pad_type_id=pad.get("pad_type_id", 0),
                       pad_token=pad.get("pad_token", "[PAD]"))
    tok.enable_truncation(max_length=max_length, strategy="longest_first", direction="right")
    return tok


def main():
    req = json.load(sys.stdin)
    tok = load_tokenizer(f"{req['model_dir']}/tokenizer.json", req["max_length"])
    enc = tok.encode_batch([tuple(p) for p in req["pairs"]])
    feeds = {
        "input_ids": np.array([e.ids for e in enc], dtype=np.int64),
        "attention_mask": np.array([e.attention_mask for e in enc], dtype=np.int64),
        "token_type_ids": np.array([e.type_ids for e in enc], dtype=np.int64),
    }
    sess = ort.InferenceSession(f"{req['model_dir']}/model.onnx", providers=["CPUExecutionProvider"])
    names = {i.name for i in sess.get_inputs()}
    outs = [o.name for o in sess.get_outputs()]
    want = [o for o in ("logits", "embedding") if o in outs]
    res = dict(zip(want, sess.run(want, {k: v for k, v in feeds.items() if k in names})))
    single = None
    if req.get("singles") and "embedding" in outs:
        rows = []
        for text in req["singles"]:
            e = tok.encode(text)
            f = {"input_ids": np.array([e.ids], dtype=np.int64),
                 "attention_mask": np.array([e.attention_mask], dtype=np.int64),
                 "token_type_ids": np.array([e.type_ids], dtype=np.int64)}
            rows.append(sess.run(["embedding"], {k: v for k, v in f.items() if k in names})[0][0])
        single = np.array(rows).astype(float).tolist()
    json.dump({
        **{k: v.tolist() for k, v in feeds.items()},
        "logits": res["logits"].reshape(-1).astype(float).tolist() if "logits" in res else None,
        "embedding": res["embedding"].astype(float).tolist() if "embedding" in res else None,
        "single_embedding": single,
    }, sys.stdout)


if __name__ == "__main__":
    main()
