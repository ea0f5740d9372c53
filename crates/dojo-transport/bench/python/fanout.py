"""Reference fan-out with Python bittensor 10.2 (the last release with axon/dendrite).

One dendrite sends one signed synapse to N trivial axons on 127.0.0.1 (each a uvicorn server
thread in this process), the same shape as dojo-transport's `fanout` example. Prints one JSON
line with per-call and per-round latencies and requests/s.

External-IP discovery is replaced by a constant: bittensor would otherwise query public IP
services, and this benchmark must only talk to loopback.
"""
import argparse
import asyncio
import json
import os
import socket
import tempfile
import time

import bittensor.utils.networking as networking

networking.get_external_ip = lambda: "127.0.0.2"

import bittensor as bt  # noqa: E402
from bittensor_wallet import Wallet  # noqa: E402


class Task(bt.Synapse):
    task_id: str = ""
    prompt: str = ""
    completions: list[str] = []
    miner_task_id: str = ""


def forward(synapse: Task) -> Task:
    synapse.miner_task_id = "m-" + synapse.task_id
    return synapse


def wallet(root, name):
    w = Wallet(name=name, hotkey="h", path=root)
    w.create_coldkey_from_uri("//" + name, use_password=False, overwrite=True, suppress=True)
    w.create_hotkey_from_uri("//" + name + "/hot", use_password=False, overwrite=True, suppress=True)
    return w


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(p / 100 * (len(xs) - 1)))] if xs else float("nan")


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--miners", type=int, default=256)
    ap.add_argument("--rounds", type=int, default=20)
    args = ap.parse_args()
    root = tempfile.mkdtemp(prefix="bt-fanout-")
    axons = []
    for i in range(args.miners):
        # Axon cannot report a port chosen by the OS, so pick a free one first.
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        sock.close()
        ax = bt.Axon(wallet=wallet(root, f"BenchMiner{i}"), ip="127.0.0.1", port=port, external_ip="127.0.0.1", external_port=port)
        ax.attach(forward_fn=forward)
        ax.start()
        axons.append(ax)
    await asyncio.sleep(2.0)
    infos = [ax.info() for ax in axons]
    d = bt.Dendrite(wallet=wallet(root, "BenchValidator"))

    async def one(info, rnd):
        t = time.perf_counter()
        r = await d.call(target_axon=info, synapse=Task(task_id=f"bench-{rnd}", prompt="Write a function that reverses a linked list.", completions=["x" * 512] * 4), timeout=12, deserialize=False)
        return time.perf_counter() - t, r.miner_task_id == f"m-bench-{rnd}"

    warm = await asyncio.gather(*[one(i, 0) for i in infos])
    calls, rounds, fails = [], [], 0
    start = time.perf_counter()
    for rnd in range(1, args.rounds + 1):
        t = time.perf_counter()
        out = await asyncio.gather(*[one(i, rnd) for i in infos])
        rounds.append((time.perf_counter() - t) * 1e3)
        for dt, ok in out:
            if ok:
                calls.append(dt * 1e3)
            else:
                fails += 1
    wall = time.perf_counter() - start
    for ax in axons:
        ax.stop()
    await d.aclose_session()
    print(json.dumps({
        "impl": "python-bittensor-10.2.0",
        "miners": args.miners,
        "rounds": args.rounds,
        "cores": os.cpu_count(),
        "warmup_ok": sum(ok for _, ok in warm),
        "ok": len(calls),
        "failures": fails,
        "call_ms": {"p50": pct(calls, 50), "p99": pct(calls, 99), "max": max(calls, default=float("nan"))},
        "round_ms": {"p50": pct(rounds, 50), "p99": pct(rounds, 99)},
        "requests_per_s": len(calls) / wall,
    }))
    os._exit(0)


if __name__ == "__main__":
    asyncio.run(main())
