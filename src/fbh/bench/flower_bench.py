"""Round time and bytes per client per round on a real Flower deployment over loopback.

Starts a SuperLink and ``--clients`` SuperNodes as OS processes on 127.0.0.1 (TLS and node
authentication on: :class:`fbh.flower.loopback.LoopbackDeployment`) and runs, on fbh's paper
CNN (422,154 parameters), Flower's legacy FedAvg twice — plain, then under Flower's own SecAgg+
(``SecAggPlusWorkflow`` + ``secaggplus_mod``) — with identical client work (a fixed small step in
place of training), so the difference is what SecAgg+ costs. Seconds are the ServerApp's wall
time per fit round (all processes share this machine: compare the ratio of the two, measured in
the same run); bytes are the payload of every message as counted at the ServerApp's ``Grid``
(:class:`fbh.flower.metering.MeteredGrid`), with Flower's own per-run counter next to them.

Usage: ``fbh bench flower [--clients 10] [--rounds 2] [--num-shares 5] [--threshold 3] [--json PATH]``
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fbh.flower.loopback import LoopbackDeployment

__all__ = ["SECAGG_APP", "main", "run_secagg_bench"]

SECAGG_APP = Path(__file__).parent / "secagg_app"


def _per_round(result: dict[str, Any], info: dict[str, Any], clients: int) -> dict[str, Any]:
    if result["bytes"]["error_replies"]:
        msg = f"{result['bytes']['error_replies']} error replies: the measured rounds did not complete"
        raise RuntimeError(msg)
    rounds = len(result["fit_seconds"])
    per_client_round = clients * rounds
    return {
        "fit_seconds": result["fit_seconds"],
        "seconds_per_round": statistics.fmean(result["fit_seconds"]),
        "up_bytes_per_client_round": result["bytes"]["up_total"] / per_client_round,
        "down_bytes_per_client_round": result["bytes"]["down_total"] / per_client_round,
        "flower_counter_bytes_per_client_round": info["network-traffic"]["total-bytes"] / per_client_round,
        "parameters": result["parameters"],
    }


def run_secagg_bench(deployment: LoopbackDeployment, *, clients: int, rounds: int, num_shares: int,
                     threshold: int, timeout: float = 1800.0) -> dict[str, Any]:
    """Plain FedAvg and FedAvg under SecAgg+ on ``deployment``; per-round seconds and bytes of each."""
    out: dict[str, Any] = {}
    for name, secagg in (("plain", False), ("secagg+", True)):
        path = deployment.workdir / f"secagg-{name}.json"
        run_id = deployment.submit(SECAGG_APP, {"secagg": secagg, "num-server-rounds": rounds,
                                                "num-shares": num_shares, "reconstruction-threshold": threshold,
                                                "result-path": str(path)})
        info = deployment.wait_run(run_id, timeout=timeout)
        out[name] = _per_round(json.loads(path.read_text()), info, clients)
    plain, secagg = out["plain"], out["secagg+"]
    out["secagg_added_seconds_per_round"] = secagg["seconds_per_round"] - plain["seconds_per_round"]
    out["secagg_time_ratio"] = secagg["seconds_per_round"] / plain["seconds_per_round"]
    out["secagg_up_bytes_ratio"] = secagg["up_bytes_per_client_round"] / plain["up_bytes_per_client_round"]
    return out


def _table(result: dict[str, Any]) -> str:
    lines = [f"{'aggregation':<14}{'s/round':>10}{'MB up/client/round':>20}{'MB down':>10}{'flwr MB':>10}",
             "-" * 64]
    for name in ("plain", "secagg+"):
        r = result[name]
        lines.append(f"{name:<14}{r['seconds_per_round']:>10.2f}{r['up_bytes_per_client_round'] / 1e6:>20.2f}"
                     f"{r['down_bytes_per_client_round'] / 1e6:>10.2f}"
                     f"{r['flower_counter_bytes_per_client_round'] / 1e6:>10.2f}")
    lines.append(f"SecAgg+ adds {result['secagg_added_seconds_per_round']:.2f} s per round "
                 f"(x{result['secagg_time_ratio']:.2f}) and sends x{result['secagg_up_bytes_ratio']:.2f} "
                 f"the bytes up, same run, {result['clients']} clients")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="fbh bench flower", description=__doc__.splitlines()[0])
    p.add_argument("--clients", type=int, default=10)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--num-shares", type=int, default=5, help="SecAgg+ shares per client")
    p.add_argument("--threshold", type=int, default=3, help="SecAgg+ reconstruction threshold")
    p.add_argument("--json", default=None, help="also write the numbers here")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="fbh-flower-bench-") as tmp, \
            LoopbackDeployment(Path(tmp), [{"partition-id": i} for i in range(args.clients)]) as deployment:
        result = {"clients": args.clients, "rounds": args.rounds,
                  **run_secagg_bench(deployment, clients=args.clients, rounds=args.rounds,
                                     num_shares=args.num_shares, threshold=args.threshold)}
    print(_table(result))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    return 0
