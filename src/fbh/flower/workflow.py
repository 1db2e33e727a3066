"""``fbh.flower.workflow.FbhFedAvg``: fbh's encrypted, verifiable FedAvg for an existing Flower app.

The server half of :mod:`fbh.flower.mod`, as ``SecAggPlusWorkflow`` is
``secaggplus_mod``'s.  Where the app's ``ServerApp`` called
``FedAvg().start(grid, initial_arrays, num_rounds)`` it calls
``FbhFedAvg(config, out_dir, chain_url).start(grid, initial_arrays, num_rounds)``
and gets the final ``ArrayRecord`` back.  Per round: the sampled hospitals run
the app's ``train`` (the update stays on the node), the server opens the round
on chain with their example counts as FedAvg weights, the hospitals encrypt,
sign and commit, and from there the round is fbh's own
(:class:`fbh.flower.driver.FlowerRun`): verify, add, decrypt by the registrar,
apply, audit by the auditor (who validates with the app's ``evaluate``).
The run directory it writes is audited by ``fbh audit`` like any other.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
from flwr.app import ArrayRecord, ConfigRecord

from fbh.flower import records as r
from fbh.flower.driver import FlowerRun
from fbh.flower.mod import flatten, unflatten
from fbh.protocol.config import RunConfig

__all__ = ["FbhFedAvg"]


class FbhFedAvg(FlowerRun):
    """FedAvg whose updates are encrypted, committed on chain, decrypted only as a sum, and audited.

    Args:
      config: the protocol's settings (``clients``, ``clip``, ``bound``, ``seed``,
        ``constant_time``, ...); model and dataset fields are the app's business.
      out_dir: the run directory the server writes (its key in ``out_dir/keys``).
      chain_url: JSON-RPC URL of the chain all parties share.
      timeout: seconds to wait for nodes, and for each stage's replies.
    """

    def __init__(self, config: RunConfig, out_dir: str | Path, chain_url: str, *, timeout: float = 600.0) -> None:
        if config.guardians or config.range_samples or config.attack or config.dp_epsilon or config.noise_multiplier:
            msg = ("an adopting app's fbh_mod carries the KGC mode without range checks, DP or attacks (fbh's own "
                   "apps carry them): pass RunConfig(..., guardians=0, range_samples=0)")
            raise ValueError(msg)
        super().__init__(None, config, out_dir, chain_url, timeout=timeout)
        self.initial: ArrayRecord | None = None

    def start(self, grid, initial_arrays: ArrayRecord, num_rounds: int | None = None) -> ArrayRecord:
        """Run ``num_rounds`` (default ``config.rounds``) from ``initial_arrays``; returns the final arrays."""
        if num_rounds is not None:
            self.config = dataclasses.replace(self.config, rounds=num_rounds)
        self.grid, self.initial = grid, initial_arrays
        self.run()
        return unflatten(self.global_flat, initial_arrays)

    def message_type(self, stage: str) -> str:
        """Every stage on a ``train`` message, the audit on an ``evaluate`` one: what an app registers."""
        return "evaluate" if stage == r.AUDIT else "train"

    def content(self, stage: str, fields: dict[str, Any], arrays: dict[str, np.ndarray]):
        out = super().content(stage, fields, arrays)
        if stage in (r.TRAIN, r.AUDIT):  # the app's own records: the model as it knows it
            model = self.global_flat if stage == r.TRAIN else arrays["model"]
            out["arrays"] = unflatten(model, self.initial)
            out["config"] = ConfigRecord({"server-round": int(fields["round"])})
        return out

    def build_model(self, joined) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # noqa: ARG002
        flat = flatten(self.initial)
        self.meta = {"model": "flower-app", "shapes": [list(a.numpy().shape) for a in self.initial.values()]}
        return flat, np.full(flat.size, self.config.clip), np.zeros(flat.size, bool)

    def sample_sizes(self, step: int, chosen: np.ndarray) -> np.ndarray:
        """Stage train: the sampled hospitals run the app's train step and report their example counts."""
        asks = {self.hospitals[i][0]: ({"round": step}, {}) for i in chosen}
        answers = self.ask(r.TRAIN, asks, str(step))
        counts = np.zeros(len(self.hospitals), np.int64)
        for i in chosen:
            counts[i] = int(answers[self.hospitals[i][0]][0]["num_samples"])
        return counts

    def contributions(self, step: int, chosen: np.ndarray, plan) -> dict[int, tuple[dict, dict]]:
        """Stage encrypt: each sampled hospital encrypts, signs and commits the update it kept."""
        plan_fields, plan_arrays = r.plan_to_record(plan)
        asks = {self.hospitals[i][0]: ({**plan_fields, "step": step, "position": j}, plan_arrays)
                for j, i in enumerate(chosen)}
        return self.ask(r.ENCRYPT, asks, str(plan.round))
