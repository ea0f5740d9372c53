"""Python reference for dojo-scoring, written the way the original subnet code computed scores:
per-miner Python loops over dicts, numpy for vector maths, scipy/scikit-learn/pingouin for statistics.

Usage:
  reference.py score  < replay.json     -> replay output JSON (same format as `dojo-validator score`)
  reference.py prims  < cases.json      -> {"results": [...]} for primitive cross-checks
  reference.py bench N < replay.json    -> {"seconds_per_round": best of N, "output": ...}
"""
import json
import math
import sys
import time
import warnings

import numpy as np
import pandas as pd
import pingouin as pg
from scipy.special import softmax
from scipy.stats import kendalltau, spearmanr
from sklearn.metrics import cohen_kappa_score

warnings.filterwarnings("ignore")


def nan_none(v):
    v = float(v)
    return None if (math.isnan(v) or math.isinf(v)) else v


# ---------------------------------------------------------------- primitives

def minmax(t, guard):
    t = np.asarray(t, dtype=np.float64)
    lo, hi = t.min(), t.max()
    if np.isnan(lo) or np.isnan(hi):
        return np.full_like(t, np.nan)
    if hi == lo:
        return np.ones_like(t) if guard == "ones" else np.full_like(t, np.nan)
    return (t - lo) / (hi - lo)


def l2n(v):
    v = np.asarray(v, dtype=np.float64)
    return v / max(np.linalg.norm(v, 2), 1e-12)


def icc_table(matrix):
    n, k = len(matrix), len(matrix[0])
    rows = []
    for i in range(n):
        for j in range(k):
            rows.append({"subject": i, "rater": j, "score": matrix[i][j]})
    res = pg.intraclass_corr(data=pd.DataFrame(rows), targets="subject", raters="rater", ratings="score")
    out = {}
    for _, r in res.iterrows():
        out[r["Type"]] = nan_none(r["ICC"])
    return out


def prim(case):
    op = case["op"]
    if op == "spearman":
        return nan_none(spearmanr(case["x"], case["y"]).statistic)
    if op == "kendall":
        return nan_none(kendalltau(case["x"], case["y"], variant="b").statistic)
    if op == "kappa":
        w = case["weights"]
        return nan_none(cohen_kappa_score(case["x"], case["y"], weights=None if w == "unweighted" else w))
    if op == "icc":
        return icc_table(case["matrix"])
    raise ValueError(op)


# ---------------------------------------------------------------- mechanisms

def valid_scores(resp, order):
    sc = resp.get("scores")
    if sc is None:
        return None
    if any(c not in order for c in sc):
        return None
    if any(c not in sc for c in order):
        return None
    row = [float(sc[c]) for c in order]
    if any(not math.isfinite(v) for v in row):
        return None
    return row


def gt_v1(task, p):
    guard = p.get("minmax", "ones")
    f32 = p.get("float32_ground_truth", True)
    scaling, translation, offset = p.get("cubic_scaling", 0.006), p.get("cubic_translation", 7.0), p.get("cubic_offset", 2.0)
    gt = task["ground_truth"]
    order = sorted(gt, key=lambda c: gt[c])
    hotkeys, rows = [], []
    for r in task["responses"]:
        row = valid_scores(r, order)
        if row is not None:
            hotkeys.append(r["hotkey"])
            rows.append(row)
    if not rows:
        return {}
    c = len(order)
    X = np.array(rows, dtype=np.float64)
    Xn = np.stack([minmax(x, guard) for x in X])
    if f32:
        G = (np.arange(c, dtype=np.float32) / np.float32(c - 1))[::-1].copy().astype(np.float64)
    else:
        G = (np.arange(c, dtype=np.float64) / (c - 1))[::-1].copy()
    cos = (Xn @ G) / np.maximum(np.linalg.norm(Xn, axis=1) * np.linalg.norm(G), 1e-8)
    cos = np.where(np.isnan(cos), -1.0, cos)
    x = (cos + 1) / 2
    x = x / max(np.abs(x).sum(), 1e-12)
    pc = scaling * (x - translation) ** 3 + offset
    pc = np.where(np.isnan(pc), 0.0, pc)
    pc = minmax(pc, guard)
    if np.isnan(pc).any():
        raise ArithmeticError("degenerate")
    s = pc.sum()
    if s > 0:
        pc = pc / s
    return dict(zip(hotkeys, pc.tolist()))


def v0(task, p):
    w = p.get("ground_truth_weight", 0.65)
    dw = p.get("distance_weight", 1.5)
    gt = task.get("ground_truth")
    resps = task["responses"]
    if gt is not None:
        cids = sorted(gt)
    elif resps:
        first = resps[0]
        cids = sorted(first.get("ranks") or first.get("scores") or {})
    else:
        return {}
    c = len(cids)
    hotkeys, R = [], []
    for r in resps:
        rk = r.get("ranks")
        if rk is None or any(k not in cids for k in rk) or any(k not in rk for k in cids):
            continue
        vals = [rk[k] for k in cids]
        if sorted(vals) != list(range(c)):
            continue
        hotkeys.append(r["hotkey"])
        R.append([v + 1 for v in vals])
    if not R or c == 0:
        return {}
    R = np.array(R, dtype=np.float64)
    avg = R.mean(axis=0)
    order = np.argsort(avg, kind="stable")
    A = np.arange(1, c + 1, dtype=np.float64)
    sp, ck, dp = [], [], []
    for i in range(len(R)):
        ri = R[i][order]
        sp.append(np.nan_to_num(spearmanr(ri, A).statistic))
        k = cohen_kappa_score(ri, A)
        ck.append(0.0 if math.isnan(k) else k)
        dp.append(-np.sum((A - ri) ** 2))
    consensus = softmax(l2n(sp) + l2n(ck) + dw * l2n(dp))
    if gt is not None:
        gr = np.array([gt[k] + 1 for k in cids], dtype=np.float64)
        g = softmax(-np.linalg.norm(R - gr, axis=1))
        final = w * g + (1 - w) * consensus
    else:
        final = consensus
    return dict(zip(hotkeys, final.tolist()))


def rm_consensus(task, p):
    mult = p.get("rho_multiplier", {})
    acc = p.get("accuracy")
    valid = []
    for r in task["responses"]:
        sc = r.get("scores")
        if sc is None or any(not math.isfinite(float(v)) for v in sc.values()):
            continue
        valid.append(r)
    if not valid:
        return {}
    cid_to_scores = {}
    for r in valid:
        for cid, v in r["scores"].items():
            cid_to_scores.setdefault(cid, []).append(float(v))
    cids = sorted(cid_to_scores)
    mean = [np.mean(cid_to_scores[c]) for c in cids]
    s = []
    for r in valid:
        row = [float(r["scores"].get(c, 0.0)) for c in cids]
        rho = np.nan_to_num(spearmanr(row, mean).statistic) if len(cids) > 1 else 0.0
        rho = rho * mult.get(r["hotkey"], 1.0)
        s.append(0.5 * (rho + 1))
    s = np.array(s)
    if p.get("normalise", "sum") == "softmax":
        out = softmax(s)
    else:
        out = np.zeros_like(s) if s.sum() == 0 else s / s.sum()
    res = {}
    for r, v in zip(valid, out.tolist()):
        a = 1.0 if acc is None else acc.get(r["hotkey"], 0.0)
        res[r["hotkey"]] = v * a
    return res


def calculate_icc(raters, jitter):
    out = {h: 0.0 for h, _ in raters}
    valid = [i for i, (_, v) in enumerate(raters) if len(set(v)) == len(v)]
    if len(valid) < 2:
        return out
    c = len(raters[valid[0]][1])
    df = np.array([[raters[i][1][j] for i in valid] for j in range(c)], dtype=np.float64)
    if jitter:
        np.random.seed(42)
        df = df + np.random.normal(0, 1e-6, size=df.shape)
    for col, i in enumerate(valid):
        others = np.delete(df, col, axis=1).mean(axis=1)
        try:
            rows = []
            for j in range(c):
                rows.append({"subject": j, "rater": "r", "score": df[j, col]})
                rows.append({"subject": j, "rater": "avg", "score": others[j]})
            res = pg.intraclass_corr(data=pd.DataFrame(rows), targets="subject", raters="rater", ratings="score")
            v = float(res.loc[res["Type"] == "ICC2", "ICC"].iloc[0])
            out[raters[i][0]] = v if math.isfinite(v) else 0.0
        except Exception:
            out[raters[i][0]] = 0.0
    return out


def hfl(task, p):
    tfw = p.get("tf_weight", 0.7)
    order = task["completion_order"]
    prev = float(task["previous_score"])
    authors = task["authors"]
    raters = []
    for r in task["responses"]:
        row = valid_scores(r, order)
        if row is not None:
            raters.append((r["hotkey"], row))
    tf_raw = {}
    for j, cid in enumerate(order):
        if cid not in authors:
            continue
        avg = float(np.mean([v[j] for _, v in raters])) if raters else 0.0
        tf_raw[authors[cid]] = tf_raw.get(authors[cid], 0.0) + (avg - prev)
    keys = sorted(tf_raw)
    clamped = np.array([max(tf_raw[k], 0.0) for k in keys])
    if len(clamped) == 1:
        tf = np.array([1.0 if clamped[0] > 0 else 0.0])
    elif (clamped == 0).all():
        tf = np.zeros_like(clamped)
    else:
        tf = minmax(clamped, "ones")
    sf = calculate_icc(raters, p.get("jitter", True))
    return {k: tfw * t + (1 - tfw) * sf.get(k, 0.0) for k, t in zip(keys, tf.tolist())}


def votes(task, p):
    trap_penalty = p.get("trap_penalty", -0.4)
    total_penalty = p.get("no_vote_penalty_total", -4.0)
    active = p.get("active_hotkeys")
    disc = task.get("votes", {})
    if not disc:
        return {}
    gens = task.get("generators", {})
    d = len(disc)
    counts = {}
    for v in disc.values():
        counts[v] = counts.get(v, 0) + 1
    scores = {}
    kind = task["kind"]
    if kind == "pvp":
        for a in disc:
            scores[a] = 1.0 / d
        for a, cid in gens.items():
            scores[a] = counts.get(cid, 0) * (1.0 / d)
    elif kind == "pvv":
        ref = task["validator_completion"]
        for a, v in disc.items():
            scores[a] = 1.0 / d if v == ref else 0.0
        for a, cid in gens.items():
            scores[a] = counts.get(cid, 0) * (1.0 / d)
    else:
        neg = task["negative_generator"]
        trap = {cid for a, cid in gens.items() if a == neg}
        for a, v in disc.items():
            scores[a] = trap_penalty if v in trap else 0.0
        for a in gens:
            scores[a] = 0.0
    seen, non = set(), []
    for h in task.get("voters", []):
        if h in seen:
            continue
        seen.add(h)
        if h not in scores and (active is None or h in active):
            non.append(h)
    for h in non:
        scores[h] = total_penalty / len(non)
    return scores


MECHANISMS = {
    "dojo-v1-ground-truth": gt_v1,
    "dojo-v0-consensus": v0,
    "rm-consensus": rm_consensus,
    "hfl": hfl,
    "dojo-v2-votes": votes,
}


def score_round(doc):
    mech = MECHANISMS[doc["mechanism"]]
    params = doc.get("params") or {}
    tasks, sums = [], {}
    for t in doc["tasks"]:
        try:
            s = mech(t, params)
            tasks.append({"task_id": t["task_id"], "scores": s})
        except ArithmeticError:
            tasks.append({"task_id": t["task_id"], "scores": {}, "error": "degenerate"})
            continue
        for h, v in s.items():
            acc = sums.setdefault(h, [0.0, 0])
            acc[0] += v
            acc[1] += 1
    if doc["mechanism"] == "dojo-v2-votes":
        miner = {h: a[0] for h, a in sums.items()}
    else:
        miner = {h: a[0] / a[1] for h, a in sums.items()}
    return {"mechanism": doc["mechanism"], "tasks": tasks, "miner_scores": miner}


def main():
    mode = sys.argv[1]
    doc = json.load(sys.stdin)
    if mode == "score":
        json.dump(score_round(doc), sys.stdout)
    elif mode == "prims":
        json.dump({"results": [prim(c) for c in doc["cases"]]}, sys.stdout)
    elif mode == "bench":
        n = int(sys.argv[2])
        best, out = float("inf"), None
        for _ in range(n):
            t0 = time.perf_counter()
            out = score_round(doc)
            best = min(best, time.perf_counter() - t0)
        json.dump({"seconds_per_round": best, "output": out}, sys.stdout)
    else:
        raise SystemExit(f"unknown mode {mode}")


if __name__ == "__main__":
    main()
