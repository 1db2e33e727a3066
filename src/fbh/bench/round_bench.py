"""Seconds per stage of real encrypted rounds, and the secure overhead over training.

Runs the whole protocol (``fbh.protocol.simulation.run``) on real data for a
few rounds and reports, per stage, the mean over rounds after the first (the
first pays for compilation).  The secure overhead is everything a
plaintext round does not do — quantize, encrypt, chain, verify, the range
checks (proving and verifying the sampled coordinates, "range"), aggregate,
decrypt, and writing the blobs to the run directory ("storage") — divided
by the training seconds of the same rounds.  The range stage is also shown
as a fraction of encryption, with its proof bytes per hospital.

Usage: ``fbh bench round [--rounds 3] [--clients 10] [--train-examples N]
[--fast-crypto] [--range-samples S] [--threads T] [--json PATH]``
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

RANGE = "range"
SECURE_STAGES = (msg.QUANTIZE, msg.ENCRYPT, "chain", msg.VERIFY, RANGE, msg.AGGREGATE, msg.DECRYPT, "storage")


def summarize(metrics: dict[str, Any]) -> dict[str, Any]:
    """Mean seconds per stage over the rounds after the first, and the overhead fraction."""
    rows = metrics["rounds"][1:] or metrics["rounds"]
    stages = sorted({k for r in rows for k in r["seconds"]})
    mean = {k: statistics.fmean(r["seconds"].get(k, 0.0) for r in rows) for k in stages}
    secure = sum(mean.get(k, 0.0) for k in SECURE_STAGES)
    checks = [r["range_check"] for r in rows if "range_check" in r]
    out = {
        "rounds_measured": len(rows),
        "seconds": mean,
        "secure_seconds": secure,
        "secure_overhead": secure / mean[msg.TRAIN],
    }
    if checks and mean.get(msg.ENCRYPT):
        out["range_over_encrypt"] = mean.get(RANGE, 0.0) / mean[msg.ENCRYPT]
        out["range_bytes_per_hospital"] = statistics.fmean(
            c["proof_bytes"] / max(1, r["accepted"] + len(r.get("rejected", []))) for c, r in zip(
                checks, [r for r in rows if "range_check" in r], strict=True))
        out["range_samples"] = checks[0]["samples"]
    return out


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
    if "range_over_encrypt" in result:
        lines.append(f"range checks (S = {result['range_samples']}): {100 * result['range_over_encrypt']:.0f}% of "
                     f"encryption time, {result['range_bytes_per_hospital'] / 1e6:.2f} MB of proofs per hospital")
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
    p.add_argument("--range-samples", type=int, default=RunConfig.range_samples,
                   help="coordinates each hospital proves in range per round")
    p.add_argument("--guardians", type=int, default=None,
                   help="guardians holding the key (0: the KGC decrypts, the paper's protocol; default: the run's)")
    p.add_argument("--json", default=None, help="also write the numbers here")
    args = p.parse_args(argv)
    config = RunConfig(
        rounds=args.rounds, clients=args.clients, model=args.model, local_epochs=args.local_epochs,
        train_examples=args.train_examples, chain=args.chain, constant_time=not args.fast_crypto,
        threads=args.threads, range_samples=args.range_samples, guardians=args.guardians,
    )
    result = run_round_bench(config, args.data_dir)
    print(_table(result))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
    return 0
