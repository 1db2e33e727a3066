"""``fbh audit`` re-verifies the range stage offline (issue 9): from the run directory and the chain alone.

Before this change ``fbh audit`` did not look at range proofs at all: a run directory whose saved
proofs were tampered with, answered the wrong coordinates or held a range exclusion with no
failing answer behind it audited clean. One run with a cheater caught at its sample (a range
exclusion with its evidence), then each test tampers with a copy of it.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from fbh import data as fdata
from fbh.cli import main
from fbh.crypto import KeySet
from fbh.protocol.config import RunConfig
from fbh.protocol.simulation import run

# inflate-weight:2 leaves its range at (almost) every coordinate: caught at its sample, not by the blame path
CFG = RunConfig(clients=3, rounds=1, model="ann", model_kwargs={"hidden": 8}, validation_size=100,
                constant_time=False, seed=3, range_samples=16, clip=0.02, guardians=0, attack="inflate-weight:2")


@pytest.fixture(scope="module")
def finished(data_dir, tmp_path_factory):
    ds = fdata.load_dataset("mnist", data_dir)
    small = fdata.Dataset("mnist", ds.x_train[:900], ds.y_train[:900], ds.x_test[:300], ds.y_test[:300], ds.classes)
    out = tmp_path_factory.mktemp("ranged") / "run"
    (row,) = run(CFG, out, dataset=small, progress=False)["rounds"]
    assert row["approved"] and [r["reason"] for r in row["rejected"]] == ["out-of-range"]
    return out, row["rejected"][0]["hospital"]


@pytest.fixture
def copy(finished, tmp_path):
    out, cheater = finished
    dst = tmp_path / "run"
    shutil.copytree(out, dst)
    return dst, cheater


def _answer(run_dir, hospital):
    (path,) = (run_dir / "rounds" / "1" / "range").glob(f"{hospital}.sample*.npz")
    with np.load(path) as z:
        return path, {k: z[k].copy() for k in z.files}


def _audit(run_dir, capsys) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["audit", str(run_dir)])
    out, err = capsys.readouterr()
    return code, out, err


def _honest(run_dir, cheater) -> str:
    return next(p.name.split(".")[0] for p in sorted((run_dir / "rounds" / "1" / "range").glob("*.sample0.npz"))
                if not p.name.startswith(cheater))


def test_a_clean_run_audits_with_its_range_stage_verified(finished, capsys):
    code, out, err = _audit(finished[0], capsys)
    assert code == 0, err
    assert "verified: round 1: the range stage" in out and "public sample" in out


def test_a_tampered_proof_fails_the_audit_naming_round_hospital_and_step(copy, capsys):
    run_dir, cheater = copy
    honest = _honest(run_dir, cheater)
    path, z = _answer(run_dir, honest)
    z["proofs"][3, 100] ^= 1
    np.savez(path, **z)
    code, _, err = _audit(run_dir, capsys)
    assert code == 1
    assert f"round 1: step range: accepted {honest}: range proof fails at coordinate" in err


def test_a_proof_for_the_wrong_slots_fails_the_audit(copy, capsys):
    run_dir, cheater = copy
    honest = _honest(run_dir, cheater)
    path, z = _answer(run_dir, honest)
    z["indices"] = np.sort((z["indices"] + 1) % 1000)  # not the coordinates the block hash picked
    np.savez(path, **z)
    code, _, err = _audit(run_dir, capsys)
    assert code == 1 and f"round 1: step range: {honest} has no answer to its public sample" in err


@pytest.mark.parametrize(("tamper", "says"), [
    ("delete-answer", "excluded for its range with no saved challenge"),
    ("delete-blob", "its committed blob is not kept in the run directory"),
    ("resign-nothing", "on an answer it did not sign"),
])
def test_a_forged_range_exclusion_fails_the_audit(copy, capsys, tamper, says):
    run_dir, cheater = copy
    path, z = _answer(run_dir, cheater)
    if tamper == "delete-answer":
        path.unlink()
    elif tamper == "delete-blob":
        for kept in (run_dir / "rounds" / "1" / "excluded").glob(f"{cheater}.*"):
            kept.unlink()
    else:  # the server puts a failing answer of its own in the cheater's name
        z["proofs"] = np.zeros_like(z["proofs"])
        np.savez(path, **z)
    code, _, err = _audit(run_dir, capsys)
    assert code == 1 and f"round 1: step range: {cheater} excluded for its range" in err and says in err


def test_the_range_parameters_and_key_are_checked_against_chain_and_config(copy, capsys):
    run_dir, cheater = copy
    plan_path = run_dir / "rounds" / "1" / "range" / "plan.json"
    plan = json.loads(plan_path.read_text())
    plan["num_samples"][cheater] *= 10  # a larger range for the cheater
    plan_path.write_text(json.dumps(plan))
    code, _, err = _audit(run_dir, capsys)
    assert code == 1 and f"round 1: step range: {cheater}'s sample count is not its count on chain" in err
    (run_dir / "public_key.bin").write_bytes(KeySet.generate(k=32).public.to_bytes())
    code, _, err = _audit(run_dir, capsys)
    assert code == 1 and "public_key.bin is not the key set whose digest is published on chain" in err


def test_a_challenge_at_a_range_smaller_than_the_public_one_does_not_justify_an_exclusion(copy, capsys):
    """A server that shrinks an honest hospital's range so that it cannot answer."""
    run_dir, cheater = copy
    path, z = _answer(run_dir, cheater)
    z["bound"] = np.array(int(z["bound"]) - 1)
    np.savez(path, **z)
    code, _, err = _audit(run_dir, capsys)
    # its signature covers the range: a changed range is an answer the cheater did not sign
    assert code == 1 and f"{cheater} excluded for its range on an answer it did not sign" in err
    z["proofs"], z["answered"], z["signature"] = np.zeros((0, 0), np.uint8), np.array(False), np.zeros(0, np.uint8)
    np.savez(path, **z)  # "it did not answer" a challenge at a range that is not its own
    code, _, err = _audit(run_dir, capsys)
    assert code == 1 and "challenged with a range that is not its public one" in err


def test_a_round_pruned_after_approval_keeps_its_exclusions_checkable(copy, capsys):
    """--keep-updates until-approved: the accepted hospitals' answers go with their blobs."""
    from fbh.protocol.guardian import sum_blobs
    from fbh.protocol.messages import digest
    from fbh.protocol.rundir import RunDir

    run_dir, cheater = copy
    rd = RunDir(run_dir)
    blobs = {a: b for a, (b, _) in rd.load_updates(1).items()}
    rd.save_aggregate(1, sum_blobs(list(blobs.items())).to_bytes())
    rd.prune_updates(1, {a: digest(b) for a, b in blobs.items()})
    answers = sorted(p.name.split(".")[0] for p in (run_dir / "rounds" / "1" / "range").glob("*.npz"))
    assert answers == [cheater]  # the exclusion's evidence stays
    code, out, err = _audit(run_dir, capsys)
    assert code == 0, err
    assert "verified: round 1: the range stage" in out
    assert "not verified: round 1: the accepted hospitals' range proofs" in out
    path, z = _answer(run_dir, cheater)
    path.unlink()
    code, _, err = _audit(run_dir, capsys)
    assert code == 1 and f"{cheater} excluded for its range with no saved challenge" in err
