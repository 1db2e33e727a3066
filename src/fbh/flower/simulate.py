"""``python -m fbh.flower.simulate``: an fbh run on Flower's simulation engine (ray), one process per run.

Every party is a simulated SuperNode (partition 0 the registrar, 1 the
auditor, then the hospitals, then the guardians; see :mod:`fbh.flower.nodes`) and the server is the
``ServerApp`` of :mod:`fbh.flower.server_app`; the chain is the node at
``--chain-url``.  On a dev chain, ``FBH_KEY_FUNDER`` (a funded key) lets the
registrar fund every party.  Exit codes: 0 done, 1 a node failed a stage (or fewer than t guardians
answered), 2 bad input.
"""

from __future__ import annotations

import argparse
import json
import sys

__all__ = ["main", "simulate"]


def simulate(config, out_dir, chain_url: str, *, cpus: int = 1, timeout: float = 600.0) -> dict:
    """Run ``config`` (a :class:`~fbh.protocol.config.RunConfig`) with ``clients + 2 + guardians`` simulated
    SuperNodes, ``cpus`` of them at a time; returns the metrics the server wrote."""
    from flwr.simulation import run_simulation

    from fbh.flower import client_app
    from fbh.flower.server_app import make_server_app

    metrics: dict = {}
    app = make_server_app(config, out_dir, chain_url, timeout=timeout, result=metrics)
    run_simulation(app, client_app.app, num_supernodes=config.clients + 2 + config.guardians,
                   backend_config={"client_resources": {"num_cpus": 1}, "init_args": {"num_cpus": cpus}})
    if not metrics:  # the engine logs a ServerApp's exception and returns: the run did not finish
        msg = "the ServerApp did not finish (see the log above)"
        raise RuntimeError(msg)
    return metrics


def main(argv: list[str] | None = None) -> int:
    from fbh.protocol.config import RunConfig

    p = argparse.ArgumentParser(prog="python -m fbh.flower.simulate", description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True, help="the run directory the server writes")
    p.add_argument("--chain-url", required=True, help="JSON-RPC URL of the chain every party uses")
    p.add_argument("--config", default="{}", help="RunConfig fields as a JSON object")
    p.add_argument("--cpus", type=int, default=1, help="simulated nodes running at once (default 1)")
    p.add_argument("--timeout", type=float, default=600.0, help="seconds per stage (default 600)")
    args = p.parse_args(argv)
    try:
        config = RunConfig.from_json({**json.loads(args.config), "chain": args.chain_url})
    except (ValueError, TypeError) as exc:
        print(f"bad --config: {exc}", file=sys.stderr)
        return 2
    try:
        metrics = simulate(config, args.out, args.chain_url, cpus=args.cpus, timeout=args.timeout)
    except RuntimeError as exc:
        print(f"fbh on Flower failed: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(metrics))
    return 0


if __name__ == "__main__":
    sys.exit(main())
