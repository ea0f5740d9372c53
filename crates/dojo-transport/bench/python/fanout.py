"""Reference fan-out with Python bittensor 10.2 (the last release with axon/dendrite).

One dendrite sends one signed synapse to N trivial axons on 127.0.0.1, the same shape as
dojo-transport's `fanout` example. As there, the axons run outside the validator: this script
starts itself again as ceil(N / --per-process) miner processes (32 axons each unless told, each
axon a uvicorn server thread of its process), which print their axon infos and serve until their
stdin closes. Prints one JSON line with per-call and per-round latencies and requests/s.

External-IP discovery is replaced by a constant: bittensor would otherwise query public IP
services, and this benchmark must only talk to loopback.
"""
import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
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
    # None rather than NaN, which is not JSON: every call can fail on a loaded machine.
    return xs[min(len(xs) - 1, round(p / 100 * (len(xs) - 1)))] if xs else None


def serve_miners(root, first, count):
    """Child mode: serve axons `first..first+count`, report them, and exit when stdin closes."""
    axons = []
    for i in range(first, first + count):
        # Axon cannot report a port chosen by the OS, so pick a free one first.
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        sock.close()
        ax = bt.Axon(wallet=wallet(root, f"BenchMiner{i}"), ip="127.0.0.1", port=port, external_ip="127.0.0.1", external_port=port)
        ax.attach(forward_fn=forward)
        ax.start()
        axons.append(ax)
    # Uvicorn starts serving in its thread a moment after start() returns.
    time.sleep(2.0)
    for ax in axons:
        print("axon " + json.dumps(vars(ax.info())), flush=True)
    print("ready", flush=True)
    # The validator holds the other end of stdin; it closes however the validator ends.
    sys.stdin.read()
    os._exit(0)


def start_miners(root, miners, per_process):
    procs = []
    for first in range(0, miners, per_process):
        count = min(per_process, miners - first)
        procs.append(subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--serve-miners", str(count), "--first", str(first), "--root", root],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True))
    infos = []
    try:
        for i, p in enumerate(procs):
            for line in p.stdout:
                line = line.strip()
                if line == "ready":
                    break
                if line.startswith("axon "):
                    infos.append(bt.AxonInfo(**json.loads(line[len("axon "):])))
            else:
                raise RuntimeError(f"miner process {i} exited before it was ready")
    except BaseException:
        stop_miners(procs)
        raise
    return procs, infos


def stop_miners(procs):
    for p in procs:
        p.kill()
    for p in procs:
        p.wait()


def loadavg():
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return None


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--miners", type=int, default=256)
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--per-process", type=int, default=32)
    ap.add_argument("--serve-miners", type=int)
    ap.add_argument("--first", type=int, default=0)
    ap.add_argument("--root")
    args = ap.parse_args()
    if args.serve_miners is not None:
        serve_miners(args.root, args.first, args.serve_miners)
    load_before = loadavg()
    root = tempfile.mkdtemp(prefix="bt-fanout-")
    procs, infos = start_miners(root, args.miners, max(1, args.per_process))
    try:
        await measure(args, root, procs, infos, load_before)
    finally:
        stop_miners(procs)
    os._exit(0)


async def measure(args, root, procs, infos, load_before):
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
    await d.aclose_session()
    print(json.dumps({
        "impl": "python-bittensor-10.2.0",
        "mode": "processes",
        "miner_processes": len(procs),
        "axons_per_process": min(args.per_process, args.miners),
        "miners": args.miners,
        "rounds": args.rounds,
        "cores": os.cpu_count(),
        "warmup_ok": sum(ok for _, ok in warm),
        "ok": len(calls),
        "failures": fails,
        "call_ms": {"p50": pct(calls, 50), "p99": pct(calls, 99), "max": max(calls, default=None)},
        "round_ms": {"p50": pct(rounds, 50), "p99": pct(rounds, 99)},
        "requests_per_s": len(calls) / wall,
        "loadavg": {"before": load_before, "after": loadavg()},
    }))


if __name__ == "__main__":
    asyncio.run(main())
