"""The validator's wandb uploader (run as `python3 -c <this file> SETTINGS`, see wandb.rs).

SETTINGS is one JSON object: project, entity, name and config for wandb.init. Standard input
carries one event record (a JSON object) per line; each becomes one wandb.log call. At end of
input the run is finished. Anything that goes wrong ends the process with a traceback on stderr,
which the validator logs once: uploading is best effort and never holds up scoring.
"""

import json
import sys

import wandb


def fields(event):
    """Top-level numbers, strings and booleans, and the mean, min and max of the rewards.

    Lists (uids, completions, outcomes) are left out: one wandb key per miner would make the
    run's charts unreadable with hundreds of miners. Keys starting with an underscore are wandb's
    own (_timestamp, _step) and are left to it.
    """
    out = {}
    for key, value in event.items():
        if key.startswith("_"):
            continue
        if isinstance(value, (bool, int, float, str)):
            out[key] = value
    rewards = [r for r in event.get("rewards") or [] if isinstance(r, (int, float))]
    if rewards:
        out["rewards_mean"] = sum(rewards) / len(rewards)
        out["rewards_min"] = min(rewards)
        out["rewards_max"] = max(rewards)
    return out


def main():
    settings = json.loads(sys.argv[1])
    wandb.init(
        project=settings["project"],
        entity=settings.get("entity"),
        name=settings.get("name"),
        config=settings.get("config") or {},
    )
    step = 0
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        event = json.loads(line)
        if not isinstance(event, dict):
            continue
        wandb.log(fields(event), step=step)
        step += 1
    wandb.finish()


main()
