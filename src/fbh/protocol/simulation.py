"""A whole federated run in one process: every role, real bytes, a real chain.

Hospitals train together (one vmapped, jitted call per round), then each
hospital quantizes, encrypts, signs and commits its own update; the server
verifies them against the chain, adds the ciphertexts and has the KGC decrypt
the sum; the auditor re-checks everything and approves on chain.  What each
step took is recorded per round in ``metrics.json``.
"""

from __future__ import annotations

import contextlib
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from fbh.protocol import messages as msg
from fbh.protocol.config import RunConfig
from fbh.protocol.rundir import RunDir

__all__ = ["Tamper", "run"]

# Test hook: (round, updates) -> updates, standing in for a malicious network or hospital.
Tamper = Callable[[int, list[msg.EncryptedUpdate]], list[msg.EncryptedUpdate]]


class _StageTimer:
    """Accumulates wall seconds per protocol stage within a round."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)

    @contextlib.contextmanager
    def __call__(self, stage: str):
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[stage] += time.perf_counter() - start


def run(
    config: RunConfig,
    out_dir: str | Path,
    *,
    data_dir: str | Path | None = None,
    progress: bool = True,
    tamper: Tamper | None = None,
    dataset=None,
    model=None,
    partition=None,
) -> dict[str, Any]:
    """Run ``config`` and write the run directory ``out_dir``; returns the metrics.

    Args:
      config: what to run.
      out_dir: the run directory (created; must not hold another run).
      data_dir: where datasets are read from offline (default ``$FBH_DATA_DIR``).
      progress: show progress bars.
      tamper: test hook to alter updates between hospitals and server.
      dataset: an already loaded ``fbh.data.Dataset`` (skips loading), e.g.
        ``fbh.data.from_arrays(x, y)`` for your own images.
      model: your own model: a ``fbh.model.ModelSpec`` (recorded, so
        ``fbh predict`` rebuilds it) or an ``nnx.Module`` (then pass it to
        ``deployed_model(..., model=...)`` to predict); overrides ``config.model``.
      partition: your own split: C index arrays into ``dataset.x_train`` (or a
        callable ``(labels, C, seed) -> arrays``); overrides ``config.partition``.
    """
    from fbh.protocol.session import Session  # heavy imports (jax, web3) only when running

    run_dir = RunDir(out_dir)
    if run_dir.metrics_path.exists():
        msg_ = f"{run_dir.root} already holds a run (metrics.json); choose another --out"
        raise FileExistsError(msg_)
    run_dir.root.mkdir(parents=True, exist_ok=True)
    run_dir.write_json(run_dir.config_path, config.to_json())

    with Session.start(config, run_dir, data_dir=data_dir, dataset=dataset, progress=progress,
                       model=model, partition=partition) as session:
        metrics: dict[str, Any] = {"rounds": []}
        for round_ in session.round_numbers():
            timer = _StageTimer()
            row = session.run_round(round_, timer, tamper)
            row["seconds"] = {k: round(v, 4) for k, v in timer.seconds.items()}
            metrics["rounds"].append(row)
            run_dir.write_json(run_dir.metrics_path, metrics)
            session.report(row)
        session.finish(metrics)
    return metrics
