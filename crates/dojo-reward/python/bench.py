"""Python side of `cargo xtask bench-reward`: tokenizers + onnxruntime on the same inputs.

Same policy as the Rust side: sort by length, chunks of --batch pairs, pair encoding truncated to
--max-length, padding to the chunk's longest. Prints {"pairs", "seconds", "pairs_per_s", "scores"}.
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
    data = [tuple(x) for x in json.load(open(a.inputs))]
    tok = Tokenizer.from_file(f"{a.model}/tokenizer.json")
    pad = tok.padding or {}
    tok.enable_padding(pad_id=pad.get("pad_id", 0), pad_token=pad.get("pad_token", "[PAD]"))
    tok.enable_truncation(max_length=a.max_length, strategy="longest_first")
    so = ort.SessionOptions()
    if a.threads:
        so.intra_op_num_threads = a.threads
    sess = ort.InferenceSession(f"{a.model}/model.onnx", so, providers=["CPUExecutionProvider"])
    names = {i.name for i in sess.get_inputs()}

    def score(items):
        order = sorted(range(len(items)), key=lambda i: len(items[i][0].encode()) + len(items[i][1].encode())) \
            if len(items) > a.batch else list(range(len(items)))
        out = [0.0] * len(items)
        for s in range(0, len(order), a.batch):
            idx = order[s:s + a.batch]
            enc = tok.encode_batch([items[i] for i in idx])
            feeds = {
                "input_ids": np.array([e.ids for e in enc], dtype=np.int64),
                "attention_mask": np.array([e.attention_mask for e in enc], dtype=np.int64),
                "token_type_ids": np.array([e.type_ids for e in enc], dtype=np.int64),
            }
            logits = sess.run(["logits"], {k: v for k, v in feeds.items() if k in names})[0].reshape(-1)
            for j, i in enumerate(idx):
                out[i] = float(logits[j])
        return out

    score(data[:a.batch])  # warm-up, as on the Rust side
    t = time.perf_counter()
    scores = score(data)
    secs = time.perf_counter() - t
    json.dump({"pairs": len(data), "seconds": secs, "pairs_per_s": len(data) / secs, "scores": scores}, __import__("sys").stdout)


if __name__ == "__main__":
    main()
