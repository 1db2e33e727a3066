"""A whole federated run in one process: every role, real bytes, a real chain.

Hospitals train together (one vmapped, jitted call per round), then each
hospital quantizes, encrypts, signs and commits its own update; the server
verifies them against the chain, adds the ciphertexts and has the KGC decrypt
the sum; the auditor re-checks everything and approves on chain.  What each
step took is recorded per round in ``metrics.json``.
"""

from __future__ import annotations

import contextlib
import errno
import shutil
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from fbh.errors import FbhError, RunInterrupted, UnusableRunDir
from fbh.protocol import messages as msg
from fbh.protocol.config import RunConfig
from fbh.protocol.rundir import RunDir

__all__ = ["Tamper", "run"]

# Test hook: (round, updates) -> updates, standing in for a malicious network or hospital.
Tamper = Callable[[int, list[msg.EncryptedUpdate]], list[msg.EncryptedUpdate]]


class _StageTimer:
    """Accumulates wall seconds per protocol stage within a round; ``on_stage`` hears each stage start."""

    def __init__(self, on_stage: Callable[[str], None] | None = None) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.on_stage = on_stage

    @contextlib.contextmanager
    def __call__(self, stage: str):
        if self.on_stage is not None:
            self.on_stage(stage)
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
) -> dict[str, Any]:
    """Run ``config`` and write the run directory ``out_dir``; returns the metrics.

    Args:
      config: what to run.
      out_dir: the run directory (created; must not hold another run).
      data_dir: where datasets are read from offline (default ``$FBH_DATA_DIR``).
      progress: show progress bars.
      tamper: test hook to alter updates between hospitals and server.
      dataset: an already loaded ``fbh.data.Dataset`` (skips loading).
    """
    from fbh.protocol.session import Session  # heavy imports (jax, web3) only when running

    run_dir = RunDir(out_dir)
    created = _claim(run_dir)
    run_dir.mark_incomplete(stage="setup")  # first: a directory with a config is never mistaken for a finished run
    run_dir.write_json(run_dir.config_path, config.to_json())
    try:
        with Session.start(config, run_dir, data_dir=data_dir, dataset=dataset, progress=progress) as session:
            with stopped_as_interrupted(session, run_dir):
                return run_rounds(session, run_dir, tamper)
    except BaseException:
        if created and not run_dir.chain_dir.exists() and not run_dir.rounds():
            shutil.rmtree(run_dir.root, ignore_errors=True)  # failed before anything worth resuming
        raise


@contextlib.contextmanager
def stopped_as_interrupted(session, run_dir: RunDir):
    """Turn Ctrl-C / SIGTERM and a dead chain node into :class:`RunInterrupted` (exit 3, resumable)."""
    hint = f"continue it with `fbh run --resume {run_dir.root}`"
    try:
        yield
    except KeyboardInterrupt:
        raise RunInterrupted(f"run interrupted ({_where(run_dir)})", hint) from None
    except FbhError:
        raise
    except Exception as exc:
        backend = getattr(session.ledger, "backend", None)
        # Checked first: a dead node's connection errors are OSErrors too.
        if backend is not None and getattr(backend, "running", True) is False:
            raise RunInterrupted(f"the {backend.kind} chain node died ({_where(run_dir)})", hint) from exc
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise RunInterrupted(f"the disk is full ({_where(run_dir)}): {exc.filename or run_dir.root}",
                                 f"free some space, then {hint}") from exc
        raise


def _where(run_dir: RunDir) -> str:
    try:
        note = run_dir.read_json(run_dir.incomplete_path)
    except FbhError:
        return "before round 1"
    return f"in round {note['round']}" if "round" in note else "during set-up"


def _claim(run_dir: RunDir) -> bool:
    """Make ``run_dir`` ready for a new run; returns whether it was created.

    Raises:
      UnusableRunDir: it holds a finished run, or files that are not a run's.
    """
    root = run_dir.root
    if root.is_dir() and any(root.iterdir()):
        if run_dir.is_incomplete:
            # An unfinished run: starting over must not mix its chain or blobs into the new one.
            for name in ("rounds", "chain", "keys"):
                shutil.rmtree(root / name, ignore_errors=True)
            for path in root.iterdir():
                if path.is_file():
                    path.unlink()
            return False
        if run_dir.metrics_path.exists() or run_dir.config_path.exists():
            raise UnusableRunDir(f"{root} already holds a run", "choose another --out (or remove that folder)")
        raise UnusableRunDir(f"{root} is not empty and holds no fbh run", "choose an empty or new --out folder")
    created = not root.exists()
    root.mkdir(parents=True, exist_ok=True)
    return created


def run_rounds(session, run_dir: RunDir, tamper: Tamper | None, *, metrics: dict[str, Any] | None = None,
            first_step: int = 1) -> dict[str, Any]:
    """Run the remaining rounds (from ``first_step``) and finish; ``metrics`` holds rounds done before."""
    metrics = {"rounds": []} if metrics is None else metrics
    bar = session.round_numbers(first_step)
    for step in bar:
        round_ = session.next_round_id(step)
        run_dir.mark_incomplete(round=round_, step=step)
        # Training, decryption and audit have no inner bar: the rounds bar names the stage running.
        timer = _StageTimer(lambda stage, r=round_: bar.set_postfix_str(f"round {r}: {stage}"))
        row = session.run_round(round_, timer, tamper, step=step)
        row["seconds"] = {k: round(v, 4) for k, v in timer.seconds.items()}
        metrics["rounds"].append(row)
        run_dir.write_json(run_dir.metrics_path, metrics)
        session.report(row)
    session.finish(metrics)
    run_dir.mark_complete()
    return metrics
