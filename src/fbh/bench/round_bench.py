"""Seconds per stage of real encrypted rounds, and the secure overhead over training.

Runs the whole protocol (``fbh.protocol.simulation.run``) on real data for a
few rounds and reports, per stage, the mean over rounds after the first (the
first pays for compilation).  The secure overhead is everything a
plaintext round does not do — quantize, encrypt, chain, verify, aggregate,
decrypt, and writing the blobs to the run directory ("storage") — divided
by the training seconds of the same rounds.

Usage: ``fbh bench round [--rounds 3] [--clients 10] [--train-examples N]
[--fast-crypto] [--threads T] [--json PATH]``
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from collections.abc import Sequence
from typing import Any

from fbh.protocol import messages as msg
from fbh.protocol.config import RunConfig
from fbh.protocol.simulation import run

__all__ = ["SECURE_STAGES", "main", "run_round_bench", "summarize"]

SECURE_STAGES = (msg.QUANTIZE, msg.ENCRYPT, "chain", msg.VERIFY, msg.AGGREGATE, msg.DECRYPT, "storage")


def summarize(metrics: dict[str, Any]) -> dict[str, Any]:
    """Mean seconds per stage over the rounds after the first, and the overhead fraction."""
    rows = metrics["rounds"][1:] or metrics["rounds"]
    stages = sorted({k for r in rows for k in r["seconds"]})
    mean = {k: statistics.fmean(r["seconds"].get(k, 0.0) for r in rows) for k in stages}
    secure = sum(mean.get(k, 0.0) for k in SECURE_STAGES)
    return {
        "rounds_measured": len(rows),
        "seconds": mean,
        "secure_seconds": secure,
        "secure_overhead": secure / mean[msg.TRAIN],
    }


def run_round_bench(config: RunConfig, data_dir=None) -> dict[str, Any]:
    """Run ``config`` in a temporary directory and summarize its stage timings."""
    with tempfile.TemporaryDirectory(prefix="fbh-round-bench-") as out:
        metrics = run(config, f"{out}/run", data_dir=data_dir)
    return {"config": config.to_json(), **summarize(metrics)}


def _table(result: dict[str, Any]) -> str:
    lines = [f"{'stage':<12}{'seconds':>10}", "-" * 22]
    for stage, seconds in result["seconds"].items():
        lines.append(f"{stage:<12}{seconds:>10.2f}")
    lines.append("-" * 22)
    lines.append(f"{'secure':<12}{result['secure_seconds']:>10.2f}")
    lines.append(f"secure overhead over training: {100 * result['secure_overhead']:.0f}% "
                 f"(mean of {result['rounds_measured']} rounds after the first)")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="fbh bench round", description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--clients", type=int, default=10)
    p.add_argument("--model", choices=["cnn", "ann"], default="cnn")
    p.add_argument("--local-epochs", type=int, default=1)
    p.add_argument("--train-examples", type=int, default=None)
    p.add_argument("--chain", default="embedded")
    p.add_argument("--fast-crypto", action="store_true")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--data-dir", default=None)
    p.add_argument("--json", default=None, help="also write the numbers here")
    args = p.parse_args(argv)
    config = RunConfig(
        rounds=args.rounds, clients=args.clients, model=args.model, local_epochs=args.local_epochs,
        train_examples=args.train_examples, chain=args.chain, constant_time=not args.fast_crypto,
        threads=args.threads,
    )
    result = run_round_bench(config, args.data_dir)
    print(_table(result))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
    return 0
