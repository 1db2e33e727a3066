"""The README's DP accuracy table with many simulated hospitals, without the ciphertexts.

Every round is ``fbh run``'s (same session, training, sampling, rounding seeds, FedAvg weights,
mechanism and server step), with one shortcut: the sum the key holder would decrypt is added in
the clear. Decrypting the homomorphic sum of the hospitals' encrypted integers gives exactly their
integer sum (the decoder bound is sized for it, :mod:`fbh.protocol.dp`), so the DP arithmetic is
identical: each hospital clips, scales, rounds and adds its own discrete Gaussian share
(``Hospital.quantize``), the server dequantizes the sum (``Server.apply``), and the accountant
records epsilon per round. Only the cost of 100 hospitals' encryption is skipped (on the shared
2-core box: 4 min per round of 100 ANN updates encrypted, against seconds here).

    FBH_DATA_DIR=... python scripts/dp_table.py --clients 100 --rounds 4 --epsilon 8 [--epsilon 3 ...]
    (--epsilon inf: no noise)
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
import types

import jax
import numpy as np

from fbh.protocol import round as protocol_round
from fbh.protocol.config import RunConfig
from fbh.protocol.rundir import RunDir
from fbh.protocol.session import Session
from fbh.train import ravel_clients


def run(config: RunConfig, data_dir: str | None) -> list[dict]:
    """The test metrics after each round of ``config`` (encrypted values summed in the clear)."""
    rows = []
    with tempfile.TemporaryDirectory() as d, Session.start(config, RunDir(d), data_dir=data_dir,
                                                           progress=False) as s:
        for step in range(1, config.rounds + 1):
            chosen = s.sampled(step)
            key = jax.random.fold_in(jax.random.key(config.seed), step)
            states, _ = s.trainer.round(s._state(s.global_flat), s.x_c[chosen], s.y_c[chosen], s.mask[chosen], key)
            flats = np.asarray(ravel_clients(states))
            hospitals = [s.hospitals[i] for i in chosen]
            plan = s.server.open_round(step, s.global_flat, {h.address: h.num_samples for h in hospitals})
            seeds = [protocol_round.rounding_seed(config.seed, step, j) for j in range(len(hospitals))]
            # what decrypting the encrypted sum gives
            summed = sum(h.quantize(plan, flats[j] - s.global_flat, seeds[j])[0] for j, h in enumerate(hospitals))
            accepted = [types.SimpleNamespace(hospital=h.address) for h in hospitals]
            s.global_flat = s.server.apply(plan, accepted, b"", summed, s.global_flat)
            row = {"round": step, **s.test_metrics(s.global_flat)}
            if s.dp is not None:
                row.update(s.dp.after_round(len(hospitals)))
            rows.append(row)
            print(json.dumps(row), flush=True)
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--clients", type=int, default=100)
    p.add_argument("--rounds", type=int, default=4)
    p.add_argument("--epsilon", type=float, action="append", required=True)
    p.add_argument("--delta", type=float, default=1e-5)
    p.add_argument("--model", default="ann")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data-dir")
    args = p.parse_args()
    for eps in args.epsilon:
        dp = {} if math.isinf(eps) else {"dp_epsilon": eps, "dp_delta": args.delta}
        config = RunConfig(model=args.model, clients=args.clients, rounds=args.rounds, chain="none", guardians=0,
                           constant_time=False, range_samples=0, seed=args.seed, **dp)
        rows = run(config, args.data_dir)
        z = rows[-1].get("dp_noise_multiplier")
        print(json.dumps({"epsilon": eps, "noise_multiplier": z, "accuracy": [r["test_accuracy"] for r in rows]}),
              flush=True)


if __name__ == "__main__":
    main()
