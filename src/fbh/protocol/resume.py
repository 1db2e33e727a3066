"""``fbh run --resume RUN_DIR``: continue a crashed run from its last completed round.

A round is complete when its model file is on disk, its row is in
``metrics.json`` and (on a chain) the auditor's verdict is on chain.  On
resuming, the chain comes back (the embedded journal replayed, anvil's last
dump loaded, or the live node reached again) with the parties' saved keys;
a round the crash left open or aggregated is cancelled on chain with reason
``INTERRUPTED`` and redone under the next round number, with the training
step's seeds, so it computes what the lost round would have; every file of
an unfinished round is removed first, so ``fbh audit`` never reads a stale
blob.  A run that crashed before its chain was set up starts over.  Guardians
come back with the key shares each saved for itself (``keys/guardian_<i>.json``,
mode 0600) and the ceremony published on chain; hospitals train on from the
last approved model.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from fbh.errors import UnusableRunDir
from fbh.protocol.config import RunConfig
from fbh.protocol.rundir import RunDir

__all__ = ["resume"]


def _config(rd: RunDir) -> RunConfig:
    if not rd.root.is_dir():
        raise UnusableRunDir(f"--resume {rd.root}: no such run directory")
    try:
        return RunConfig.from_json(rd.read_json(rd.config_path))
    except (TypeError, ValueError) as exc:
        raise UnusableRunDir(f"{rd.config_path} is not a run configuration ({exc})") from None


def _set_up(rd: RunDir) -> bool:
    """Whether set-up finished (keys saved, chain deployed, parties registered, key published).

    The ``INCOMPLETE`` note names a round only once set-up is done (and, on
    anvil, dumped), so anything earlier is simply run again.
    """
    try:
        note = rd.read_json(rd.incomplete_path)
    except UnusableRunDir:
        return False
    return "round" in note


def resume(run_dir: str | Path, *, data_dir=None, progress: bool = True, dataset=None,
           tamper=None) -> dict[str, Any]:
    """Finish the run in ``run_dir``; returns its metrics (all rounds).

    Raises:
      UnusableRunDir: not a run directory, or a finished one.
    """
    from fbh.protocol.preflight import check_config
    from fbh.protocol.session import Session
    from fbh.protocol.simulation import run, run_rounds, stopped_as_interrupted

    rd = RunDir(run_dir)
    config = _config(rd)
    if not rd.is_incomplete:
        raise UnusableRunDir(f"{rd.root} holds a finished run: there is nothing to resume",
                             f"see `fbh report {rd.root}`")
    check_config(config)
    if not _set_up(rd):  # crashed during set-up: no round was done, nothing on chain to keep
        return run(config, rd.root, data_dir=data_dir, progress=progress, tamper=tamper, dataset=dataset)
    rows = rd.read_json(rd.metrics_path)["rounds"] if rd.metrics_path.exists() else []
    with Session.start(config, rd, data_dir=data_dir, dataset=dataset, progress=progress,
                       resume=True) as session:
        with stopped_as_interrupted(session, rd):
            done = _recover(session, rd, rows)
            metrics = {"rounds": done}
            rd.write_json(rd.metrics_path, metrics)
            if progress:
                from tqdm.auto import tqdm

                tqdm.write(f"fbh: resuming {rd.root} after {len(done)} of {config.rounds} rounds")
            return run_rounds(session, rd, tamper, metrics=metrics, first_step=len(done) + 1)


def _recover(session, rd: RunDir, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Keep the completed rounds, cancel and clear the unfinished one; returns the completed rows."""
    ledger = session.ledger
    history = {rec.round: rec for rec in ledger.history()} if ledger is not None else {}
    by_round = {row["round"]: row for row in rows}
    done: list[dict[str, Any]] = []
    last = 0
    for r in sorted(set(by_round) | set(history)):
        rec = history.get(r)
        finished = rec.status.name in ("APPROVED", "REJECTED") if rec is not None else ledger is None
        has_model = (rd.round_dir(r) / "model.npz").exists()
        if rec is not None and rec.status.name == "CANCELLED":
            continue
        if finished and has_model and (r in by_round or rec is not None):
            done.append(by_round[r] if r in by_round else _recovered_row(session, rd, rec, len(done) + 1))
            last = r
            continue
        break
    if ledger is not None:
        from fbh.chain import CancelReason

        for rec in history.values():
            if rec.round > last and rec.status.name in ("OPEN", "AGGREGATED"):
                ledger.cancel_round(rec.round, CancelReason.INTERRUPTED, sender=session.server.account)
        session.round_offset = ledger.last_round() - len(done)
    else:
        session.round_offset = last - len(done)
    for r in rd.rounds():
        if r > last:  # an unfinished round's blobs and model: audit must not read them
            shutil.rmtree(rd.round_dir(r))
    if done:
        session.global_flat, _ = rd.load_model(rd.round_dir(last) / "model.npz")
    if getattr(session, "council", None) is not None and ledger is not None:  # guardians: on from the last approved model
        from fbh.protocol import guarded

        guarded.last_approved(session, ledger)
    return done


def _recovered_row(session, rd: RunDir, rec, step: int) -> dict[str, Any]:
    """The metrics row of a round audited on chain whose row the crash did not let us write."""
    flat, _ = rd.load_model(rd.round_dir(rec.round) / "model.npz")
    acc, loss = session.trainer.evaluate(session._state(flat), session.x_test, session.y_test)
    row: dict[str, Any] = {"round": rec.round, "recovered": True, "accepted": len(rec.accepted_updates),
                           "validation_accuracy": rec.accuracy, "approved": rec.approved,
                           "test_accuracy": float(acc), "test_loss": float(loss), "seconds": {}}
    if step != rec.round:
        row["step"] = step
    return row
