"""Round time and bytes per client per round on a real Flower deployment over loopback.

Starts a SuperLink and ``--clients`` SuperNodes as OS processes on 127.0.0.1 (TLS and node
authentication on: :class:`fbh.flower.loopback.LoopbackDeployment`) and runs, on fbh's paper
CNN (422,154 parameters), Flower's legacy FedAvg twice — plain, then under Flower's own SecAgg+
(``SecAggPlusWorkflow`` + ``secaggplus_mod``) — with identical client work (a fixed small step in
place of training), so the difference is what SecAgg+ costs. Seconds are the ServerApp's wall
time per fit round (all processes share this machine: compare the ratio of the two, measured in
the same run); bytes are the payload of every message as counted at the ServerApp's ``Grid``
(:class:`fbh.flower.metering.MeteredGrid`), with Flower's own per-run counter next to them.

With ``--fbh`` it also runs fbh itself with the same clients and rounds — in-process, then on a
deployment with every party on its own SuperNode (anvil as the chain) — and reports its seconds
per round (all stages) and payload bytes per hospital per round.

Usage: ``fbh bench flower [--clients 10] [--rounds 2] [--num-shares 5] [--threshold 3]
[--fbh [--model cnn] [--train-examples 1000] [--fast-crypto]] [--json PATH]``
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fbh.flower.loopback import DeploymentError, LoopbackDeployment

__all__ = ["FBH_APP", "SECAGG_APP", "main", "run_fbh_bench", "run_secagg_bench"]

SECAGG_APP = Path(__file__).parent / "secagg_app"
FBH_APP = Path(__file__).parent / "fbh_app"


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


def _final_model(run_dir: Path) -> bytes:
    from fbh.protocol.messages import model_digest
    from fbh.protocol.rundir import RunDir

    return model_digest(RunDir.load_model(RunDir(run_dir).model_path)[0])


def run_fbh_bench(workdir: Path, config: dict[str, Any], *, timeout: float = 3600.0) -> dict[str, Any]:
    """fbh in-process, then fbh on a loopback deployment (registrar, auditor, hospitals on their own
    SuperNodes, anvil as the chain): seconds per round (all stages) and payload bytes per hospital."""
    from fbh.chain.anvil import AnvilBackend
    from fbh.chain.keys import env_var_for
    from fbh.protocol.config import RunConfig
    from fbh.protocol.simulation import run

    local = run(RunConfig(**config, chain="embedded"), workdir / "in-process", progress=False)
    clients, rounds = config["clients"], config["rounds"]
    roles = [{"role": "registrar"}, {"role": "auditor"}, *({"role": "hospital", "index": i} for i in range(clients))]
    sites = [{**site, "dir": str(workdir / "sites" / f"{site['role']}_{site.get('index', 0)}")} for site in roles]
    anvil = AnvilBackend()
    try:
        with LoopbackDeployment(workdir / "deployment", sites,
                                env={env_var_for("funder"): anvil.funder().key.hex()}) as deployment:
            out, path = workdir / "flower", workdir / "fbh-bytes.json"
            run_id = deployment.submit(FBH_APP, {"out": str(out), "chain-url": anvil.url, "timeout": timeout,
                                                 "bytes-path": str(path),
                                                 "config": json.dumps({**config, "chain": anvil.url})})
            info = deployment.wait_run(run_id, timeout=timeout)
            hospitals = [str(n) for n in deployment.node_ids[2:]]
    finally:
        anvil.close()
    remote = json.loads((out / "metrics.json").read_text())
    counted = json.loads(path.read_text())
    per = clients * rounds
    return {
        "in_process_seconds_per_round": statistics.fmean(sum(r["seconds"].values()) for r in local["rounds"]),
        "deployment_seconds_per_round": statistics.fmean(sum(r["seconds"].values()) for r in remote["rounds"]),
        "up_bytes_per_hospital_round": sum(counted["up"][n] for n in hospitals) / per,
        "down_bytes_per_hospital_round": sum(counted["down"][n] for n in hospitals) / per,
        "flower_counter_bytes_per_node_round": info["network-traffic"]["total-bytes"] / ((clients + 2) * rounds),
        "same_final_model": _final_model(workdir / "in-process") == _final_model(out),
    }


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
    if "fbh" in result:
        f = result["fbh"]
        lines += ["", f"{'fbh':<14}{'s/round':>10}{'MB up/hospital/round':>22}{'MB down':>10}", "-" * 56,
                  f"{'in-process':<14}{f['in_process_seconds_per_round']:>10.2f}{'-':>22}{'-':>10}",
                  f"{'deployment':<14}{f['deployment_seconds_per_round']:>10.2f}"
                  f"{f['up_bytes_per_hospital_round'] / 1e6:>22.2f}{f['down_bytes_per_hospital_round'] / 1e6:>10.2f}",
                  f"same final model in both: {f['same_final_model']}"]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="fbh bench flower", description=__doc__.splitlines()[0])
    p.add_argument("--clients", type=int, default=10)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--num-shares", type=int, default=5, help="SecAgg+ shares per client")
    p.add_argument("--threshold", type=int, default=3, help="SecAgg+ reconstruction threshold")
    p.add_argument("--fbh", action="store_true", help="also run fbh in-process and on the deployment (needs anvil)")
    p.add_argument("--model", choices=["cnn", "ann"], default="cnn", help="fbh's model (--fbh)")
    p.add_argument("--train-examples", type=int, default=1000, help="MNIST images over all hospitals (--fbh)")
    p.add_argument("--fast-crypto", action="store_true", help="variable-time crypto for fbh (--fbh)")
    p.add_argument("--data-dir", default=None, help="dataset folder (--fbh; default FBH_DATA_DIR), for every node")
    p.add_argument("--json", default=None, help="also write the numbers here")
    args = p.parse_args(argv)
    if args.clients < 2 or args.rounds < 1:
        p.error("--clients must be at least 2 and --rounds at least 1")
    if not 2 <= args.threshold <= args.num_shares <= args.clients:
        p.error("SecAgg+ needs 2 <= --threshold <= --num-shares <= --clients")
    if args.data_dir is not None:  # the SuperNodes inherit the environment
        os.environ["FBH_DATA_DIR"] = str(Path(args.data_dir).resolve())
    try:
        result = _measure(args)
    except (DeploymentError, RuntimeError) as exc:
        print(f"fbh bench flower: {exc}", file=sys.stderr)
        return 1
    print(_table(result))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    return 0


def _measure(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="fbh-flower-bench-") as tmp, \
            LoopbackDeployment(Path(tmp), [{"partition-id": i} for i in range(args.clients)]) as deployment:
        result = {"clients": args.clients, "rounds": args.rounds,
                  **run_secagg_bench(deployment, clients=args.clients, rounds=args.rounds,
                                     num_shares=args.num_shares, threshold=args.threshold)}
    if args.fbh:
        config = {"dataset": "mnist", "model": args.model, "clients": args.clients, "rounds": args.rounds,
                  "train_examples": args.train_examples, "constant_time": not args.fast_crypto,
                  "guardians": 0, "range_samples": 0}  # the KGC mode the README's numbers were measured in
        with tempfile.TemporaryDirectory(prefix="fbh-flower-bench-") as tmp:
            result["fbh"] = {"config": config, **run_fbh_bench(Path(tmp), config)}
    return result
