"""Guardians with --trainable, DP and the server optimizers: the model binding is recomputed by the
auditor and `fbh audit` from public data (trainable indices, the DP scale, the optimizer replayed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fbh import data as fdata
from fbh.cli import main
from fbh.protocol.audit import audit_run
from fbh.protocol.config import RunConfig
from fbh.protocol.rundir import RunDir
from fbh.protocol.simulation import run

BASE = dict(model="ann", model_kwargs={"hidden": 8}, clients=2, validation_size=100, constant_time=False, seed=4,
            guardians=3, threshold=2, range_samples=8)


@pytest.fixture(scope="module")
def tiny(data_dir):
    ds = fdata.load_dataset("mnist", data_dir)
    return fdata.Dataset("mnist", ds.x_train[:400], ds.y_train[:400], ds.x_test[:100], ds.y_test[:100], ds.classes)


def test_trainable_subset_with_fedadam_audits_clean_and_changes_only_those_values(tiny, tmp_path):
    out = tmp_path / "head"
    metrics = run(RunConfig(**BASE, rounds=2, trainable="dense2", strategy="fedadam", server_lr=0.01), out,
                  dataset=tiny, progress=False)
    assert [r["approved"] for r in metrics["rounds"]] == [True, True]
    assert [r["encrypted_values"] for r in metrics["rounds"]] == [90, 90]  # dense2: 8 * 10 + 10
    assert audit_run(out) == []
    rd = RunDir(out)
    start = np.load(rd.round_dir(1) / "guardians" / "params.npz")["start"]
    last = rd.load_model(rd.model_path)[0]
    assert 0 < np.count_nonzero(start != last) <= 90


def test_dp_noised_sum_decrypted_by_guardians_audits_clean(tiny, tmp_path):
    out = tmp_path / "dp"
    metrics = run(RunConfig(**BASE, rounds=1, dp_epsilon=8.0, l2_clip=1e-3), out, dataset=tiny, progress=False)
    (row,) = metrics["rounds"]
    assert row["approved"] and row["dp_epsilon_spent"] > 0
    assert audit_run(out) == []


def test_wrong_model_with_fedyogi_is_caught_and_the_next_round_replays_clean(tiny, tmp_path, capsys):
    out = tmp_path / "yogi"
    cfg = RunConfig(**BASE, rounds=1, strategy="fedyogi", server_lr=0.01, attack="wrong-model")
    (row,) = run(cfg, out, dataset=tiny, progress=False)["rounds"]
    assert not row["approved"] and any("step model" in p for p in row["audit_problems"])
    assert main(["audit", str(out)]) == 1
    assert "round 1: step model" in capsys.readouterr().err


AVGM = RunConfig(**BASE, rounds=2, strategy="fedavgm", server_lr=0.5)


@pytest.fixture(scope="module")
def avgm_run(tiny, tmp_path_factory):
    out = tmp_path_factory.mktemp("avgm") / "run"
    return out, run(AVGM, out, dataset=tiny, progress=False)


def test_fedavgm_audit_replays_the_optimizer_state_across_rounds(avgm_run):
    out, metrics = avgm_run
    out = Path(out)
    assert all(r["approved"] for r in metrics["rounds"])
    assert audit_run(out) == []
    # round 2 recomputed without round 1's momentum (a fresh optimizer) is not the recorded model
    from fbh import chain
    from fbh.protocol import guarded

    rd = RunDir(out)
    blobs = {a: b for a, (b, _) in rd.load_updates(2).items()}
    with chain.restore(rd.chain_dir) as ledger:
        new = rd.load_model(rd.round_dir(2) / "model.npz")[0]
        (finding,) = guarded.audit_from_run_dir(rd.root, ledger, 2, blobs, new)
    assert finding.startswith("round 2: step model")


def test_resumed_fedavgm_guardian_run_replays_the_optimizer_and_ends_on_the_same_model(
        tiny, avgm_run, tmp_path, monkeypatch):
    from fbh.errors import RunInterrupted
    from fbh.protocol.faults import ENV
    from fbh.protocol.resume import resume

    out = tmp_path / "crashed"
    monkeypatch.setenv(ENV, "decrypt:2:interrupt")  # round 1 approved: its momentum must survive the crash
    with pytest.raises(RunInterrupted):
        run(AVGM, out, dataset=tiny, progress=False)
    monkeypatch.delenv(ENV)
    metrics = resume(out, dataset=tiny, progress=False)
    assert [(r["round"], r["approved"]) for r in metrics["rounds"]] == [(1, True), (3, True)]
    assert audit_run(out) == []
    whole = RunDir(avgm_run[0]).load_model(RunDir(avgm_run[0]).model_path)[0]
    np.testing.assert_array_equal(RunDir(out).load_model(RunDir(out).model_path)[0], whole)
