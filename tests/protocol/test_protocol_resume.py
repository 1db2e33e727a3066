"""A run crashed at any stage resumes: nothing lost or doubled, audit clean, the same final model."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys

import numpy as np
import pytest

from fbh import data as fdata
from fbh.chain import CancelReason, RoundStatus, restore
from fbh.errors import RunInterrupted, UnusableRunDir
from fbh.protocol.audit import audit_run
from fbh.protocol.config import RunConfig
from fbh.protocol.faults import ENV, STAGES
from fbh.protocol.resume import resume
from fbh.protocol.rundir import RunDir
from fbh.protocol.simulation import _claim, run, stopped_as_interrupted

# Small enough that a round costs seconds: 2 hospitals, the ANN, a coarse decoder bound, few
# range samples; the paper's trust model (the KGC's key in the run's keyring).
CFG = RunConfig(model="ann", clients=2, rounds=1, validation_size=100, constant_time=False, seed=5, bound=2**12,
                range_samples=8, guardians=0)


@pytest.fixture(scope="module")
def tiny(data_dir):
    ds = fdata.load_dataset("mnist", data_dir)
    return fdata.Dataset("mnist", ds.x_train[:400], ds.y_train[:400], ds.x_test[:200], ds.y_test[:200], ds.classes)


def final_model(cfg, out, dataset):
    """The model an uninterrupted run of ``cfg`` ends on."""
    run(cfg, out, dataset=dataset, progress=False)
    return RunDir(out).load_model(RunDir(out).model_path)[0]


@pytest.fixture(scope="module")
def uninterrupted(tiny, tmp_path_factory):
    return final_model(CFG, tmp_path_factory.mktemp("whole") / "run", tiny)


@pytest.mark.slow
def test_resume_after_a_crash_at_every_stage_in_turn(tiny, uninterrupted, tmp_path, monkeypatch):
    """Crash at train, then (resumed) at encrypt, commit, aggregate and audit: each resume goes on."""
    out = tmp_path / "run"
    rd = RunDir(out)
    # The chain round each crash hits: a crash before openRound leaves nothing to cancel.
    kgc_stages = [s for s in STAGES if s != "decrypt"]  # only guardians record shares before the model
    crashes = list(zip(kgc_stages, (1, 1, 2, 3, 4), strict=True))
    for i, (stage, round_) in enumerate(crashes):
        monkeypatch.setenv(ENV, f"{stage}:{round_}:interrupt")
        with pytest.raises(RunInterrupted) as info:
            if i == 0:
                run(CFG, out, dataset=tiny, progress=False)
            else:
                resume(out, dataset=tiny, progress=False)
        assert f"--resume {out}" in info.value.hint and rd.is_incomplete
        assert all(r <= round_ for r in rd.rounds())
    monkeypatch.delenv(ENV)

    metrics = resume(out, dataset=tiny, progress=False)

    assert not rd.is_incomplete
    assert [(r["round"], r.get("step")) for r in metrics["rounds"]] == [(5, 1)]
    assert rd.rounds() == [5]  # every crashed round's files are gone: nothing stale where audit reads
    assert audit_run(out) == []
    with restore(rd.chain_dir) as ledger:
        history = ledger.history()
    assert [(h.round, h.status) for h in history] == [
        *((r, RoundStatus.CANCELLED) for r in (1, 2, 3, 4)), (5, RoundStatus.APPROVED)]
    assert {h.cancel_reason for h in history[:4]} == {CancelReason.INTERRUPTED}
    np.testing.assert_array_equal(rd.load_model(rd.model_path)[0], uninterrupted)


@pytest.mark.slow
@pytest.mark.anvil
def test_resume_after_anvil_died_mid_round(anvil_installed, tiny, uninterrupted, tmp_path, monkeypatch):
    out = tmp_path / "anvil-run"
    cfg = dataclasses.replace(CFG, chain="anvil")
    monkeypatch.setenv(ENV, "aggregate:1:kill-chain")
    with pytest.raises(RunInterrupted, match="anvil chain node died"):
        run(cfg, out, dataset=tiny, progress=False)
    monkeypatch.delenv(ENV)

    resume(out, dataset=tiny, progress=False)

    rd = RunDir(out)
    assert audit_run(out) == [] and not rd.is_incomplete
    # anvil's last dump predates round 1, so round 1 is simply redone.
    with restore(rd.chain_dir) as ledger:
        assert [h.status for h in ledger.history()][-1] is RoundStatus.APPROVED
    np.testing.assert_array_equal(rd.load_model(rd.model_path)[0], uninterrupted)


@pytest.mark.slow
def test_sigkill_in_round_two_resumes_from_round_one(data_dir, tmp_path):
    # Prepare: a real process killed (SIGKILL: no cleanup) after round 2's commitments.
    out = tmp_path / "killed"
    argv = [sys.executable, "-m", "fbh.cli", "run", "--model", "ann", "--clients", "2", "--rounds", "2",
            "--train-examples", "200", "--validation-size", "100", "--fast-crypto", "--seed", "5", "--range-samples", "8",
            "--guardians", "0", "--data-dir", str(data_dir), "--out", str(out)]
    env = {**os.environ, ENV: "commit:2"}
    killed = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=300)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    digits = tmp_path / "digits.npy"
    np.save(digits, fdata.load_dataset("mnist", data_dir).x_test[:4])
    predict = [sys.executable, "-m", "fbh.cli", "predict", str(out), str(digits)]
    served = subprocess.run(predict, capture_output=True, text=True, timeout=120)
    assert served.returncode == 0, served.stderr  # round 1 was approved: the killed run deploys it

    # Execute
    resumed = subprocess.run([sys.executable, "-m", "fbh.cli", "run", "--resume", str(out)],
                             capture_output=True, text=True, timeout=300)

    # Assert
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "Traceback" not in resumed.stderr
    assert "\x1b[" not in resumed.stderr and "\r" not in resumed.stderr  # no bars off a terminal
    rd = RunDir(out)
    assert rd.rounds() == [1, 3] and not rd.is_incomplete
    assert audit_run(out) == []
    with restore(rd.chain_dir) as ledger:
        assert [h.status.name for h in ledger.history()] == ["APPROVED", "CANCELLED", "APPROVED"]
    assert [r["round"] for r in rd.read_json(rd.metrics_path)["rounds"]] == [1, 3]


@pytest.mark.slow
def test_plaintext_run_resumes_from_its_last_round(tiny, tmp_path, monkeypatch):
    cfg = dataclasses.replace(CFG, encrypt=False, chain="none", rounds=2)
    whole = tmp_path / "whole"
    run(cfg, whole, dataset=tiny, progress=False)
    out = tmp_path / "crashed"
    monkeypatch.setenv(ENV, "train:2:interrupt")
    with pytest.raises(RunInterrupted):
        run(cfg, out, dataset=tiny, progress=False)
    monkeypatch.delenv(ENV)

    metrics = resume(out, dataset=tiny, progress=False)

    assert [r["round"] for r in metrics["rounds"]] == [1, 2] and RunDir(out).rounds() == [1, 2]
    np.testing.assert_array_equal(RunDir(out).load_model(RunDir(out).model_path)[0],
                                  RunDir(whole).load_model(RunDir(whole).model_path)[0])


def test_resume_refuses_what_is_not_an_unfinished_run(tmp_path):
    with pytest.raises(UnusableRunDir, match="no such run directory"):
        resume(tmp_path / "nowhere")
    rd = RunDir(tmp_path / "done")
    rd.write_json(rd.config_path, CFG.to_json())
    with pytest.raises(UnusableRunDir, match="finished run"):
        resume(rd.root)


def test_rerun_into_an_unfinished_run_starts_it_over(tmp_path):
    rd = RunDir(tmp_path / "half")
    rd.write_json(rd.config_path, CFG.to_json())
    rd.mark_incomplete(round=1)
    rd.save_update(1, "0xabc", b"stale blob", b"sig")
    (rd.chain_dir).mkdir()
    (rd.chain_dir / "embedded_journal.jsonl").write_text("{}\n")

    assert _claim(rd) is False

    assert list(rd.root.iterdir()) == []  # no stale blob or journal can mix into the new run
    finished = RunDir(tmp_path / "finished")
    finished.write_json(finished.metrics_path, {"rounds": []})
    with pytest.raises(UnusableRunDir, match="already holds a run"):
        _claim(finished)


@pytest.mark.parametrize(("raised", "says"), [
    (KeyboardInterrupt(), "run interrupted (in round 2)"),
    (OSError(28, "No space left on device", "rounds/2/model.npz"), "the disk is full (in round 2)"),
])
def test_interruptions_become_exit_3_with_the_resume_command(tmp_path, raised, says):
    import types

    rd = RunDir(tmp_path / "run")
    rd.mark_incomplete(round=2)
    session = types.SimpleNamespace(ledger=None)
    with pytest.raises(RunInterrupted) as info, stopped_as_interrupted(session, rd):
        raise raised
    assert says in info.value.message and f"fbh run --resume {rd.root}" in info.value.hint
    assert int(info.value.exit_code) == 3


GUARDED = dataclasses.replace(CFG, guardians=3, threshold=2, rounds=2)


@pytest.fixture(scope="module")
def guarded_uninterrupted(tiny, tmp_path_factory):
    return final_model(GUARDED, tmp_path_factory.mktemp("guarded-whole") / "run", tiny)


@pytest.mark.slow
def test_guardian_run_resumes_after_a_crash_at_every_stage(tiny, guarded_uninterrupted, tmp_path, monkeypatch):
    """Guardians come back with their own saved shares; a crash at each stage (decrypt: sum and shares
    on chain, no model) is cancelled and redone; the run audits clean and ends on the same model."""
    out = tmp_path / "run"
    rd = RunDir(out)
    # step 1 crashes in chain rounds 1-4 at every stage; round 5 finishes it; step 2 crashes at audit (round 6)
    crashes = [("train", 1), ("encrypt", 1), ("commit", 2), ("aggregate", 3), ("decrypt", 4), ("audit", 6)]
    for i, (stage, round_) in enumerate(crashes):
        monkeypatch.setenv(ENV, f"{stage}:{round_}:interrupt")
        with pytest.raises(RunInterrupted):
            if i == 0:
                run(GUARDED, out, dataset=tiny, progress=False)
            else:
                resume(out, dataset=tiny, progress=False)
        assert rd.is_incomplete
    monkeypatch.delenv(ENV)
    keys = sorted((out / "keys").glob("guardian_*.json"))
    assert [k.name for k in keys] == ["guardian_1.json", "guardian_2.json", "guardian_3.json"]
    assert {oct(k.stat().st_mode & 0o777) for k in keys} == {"0o600"}
    assert "kgc-keyset" not in (out / "keys" / "keys.json").read_text()  # the KGC never had a key

    metrics = resume(out, dataset=tiny, progress=False)

    assert [(r["round"], r.get("step")) for r in metrics["rounds"]] == [(5, 1), (7, 2)]
    assert all(r["approved"] for r in metrics["rounds"])
    assert audit_run(out) == []
    with restore(rd.chain_dir) as ledger:
        statuses = [h.status for h in ledger.history()]
    assert statuses == [*[RoundStatus.CANCELLED] * 4, RoundStatus.APPROVED, RoundStatus.CANCELLED,
                        RoundStatus.APPROVED]
    np.testing.assert_array_equal(rd.load_model(rd.model_path)[0], guarded_uninterrupted)


def test_a_guardian_run_without_its_guardians_keys_is_refused(tiny, tmp_path, monkeypatch):
    out = tmp_path / "lost-key"
    monkeypatch.setenv(ENV, "commit:1:interrupt")
    with pytest.raises(RunInterrupted):
        run(dataclasses.replace(GUARDED, rounds=1), out, dataset=tiny, progress=False)
    monkeypatch.delenv(ENV)
    (out / "keys" / "guardian_2.json").write_text('{"index": 2, "threshold": 2, "k": 32, "name": "x", '
                                                  '"key_shares": "' + "11" * 32 * 32 + '"}')
    with pytest.raises(UnusableRunDir, match="guardian_2.json does not hold the key shares"):
        resume(out, dataset=tiny, progress=False)
