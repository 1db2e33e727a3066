"""Whole guardian runs (`fbh run --guardians 3 --threshold 2 --attack ...`) and `fbh audit` of them."""

from __future__ import annotations

import shutil

import pytest

from fbh import data as fdata
from fbh.cli import main
from fbh.protocol.config import RunConfig
from fbh.protocol.simulation import run

BASE = RunConfig(clients=2, rounds=1, model="ann", validation_size=200, constant_time=False, seed=3,
                 guardians=3, threshold=2, range_samples=8)


@pytest.fixture(scope="module")
def tiny_mnist(data_dir):
    ds = fdata.load_dataset("mnist", data_dir)
    return fdata.Dataset("mnist", ds.x_train[:600], ds.y_train[:600], ds.x_test[:200], ds.y_test[:200], ds.classes)


def _run(cfg, out, ds):
    return run(cfg, out, dataset=ds, progress=False)


def test_curious_server_is_refused_and_the_run_audits_clean(tiny_mnist, tmp_path, capsys):
    out = tmp_path / "curious"
    metrics = _run(RunConfig(**{**BASE.to_json(), "attack": "curious-server"}), out, tiny_mnist)
    row = metrics["rounds"][0]
    assert row["approved"] and row["decryption"]["quorum"] == [1, 2]
    attempts = {a["attempt"]: a for a in row["attack"]["attempts"]}
    assert set(attempts) == {"subset", "duplicates", "second-decryption"}
    assert all(not a["answered_by"] and len(a["refused_by"]) == 2 for a in attempts.values())
    assert main(["audit", str(out)]) == 0
    assert "the guardians' shares verify" in capsys.readouterr().out
    # A share changed after the fact: fbh audit names the round and the step.
    copy = tmp_path / "tampered"
    shutil.copytree(out, copy)
    share = copy / "rounds" / "1" / "guardians" / "guardian_2.share"
    data = bytearray(share.read_bytes())
    data[200] ^= 1
    share.write_bytes(bytes(data))
    assert main(["audit", str(copy)]) == 1
    assert "round 1: step shares" in capsys.readouterr().err


def test_wrong_model_rejected_on_chain_and_by_audit(tiny_mnist, tmp_path, capsys):
    out = tmp_path / "wrong"
    metrics = _run(RunConfig(**{**BASE.to_json(), "attack": "wrong-model"}), out, tiny_mnist)
    row = metrics["rounds"][0]
    assert row["approved"] is False and row["attack"]["kind"] == "wrong-model"
    assert any("round 1: step model" in p for p in row["audit_problems"])
    assert main(["audit", str(out)]) == 1
    assert "round 1: step model" in capsys.readouterr().err


def test_guardian_options_are_checked():
    for bad, match in [
        (dict(chain="none"), "need the encrypted protocol and a chain"),
        (dict(guardians=4), r"guardians must be 0 or in \[2, clients \+ 1\]"),
        (dict(threshold=4), "threshold must be in"),
        (dict(guardians=0, attack="wrong-model"), "needs --guardians"),
        (dict(attack="forge-exclusion:5"), "attack must be"),
    ]:
        with pytest.raises(ValueError, match=match):
            RunConfig(**{**BASE.to_json(), **bad})


def test_guardians_by_default_and_the_kgc_holds_no_key(tmp_path):
    assert (RunConfig().guardians, RunConfig().threshold) == (3, 2)  # the auditor and two hospitals
    assert RunConfig(clients=1).guardians == 2  # the auditor and the only hospital, both needed
    assert RunConfig(chain="none").guardians == 0 and RunConfig(encrypt=False).guardians == 0
    assert RunConfig(guardians=0).guardians == 0  # the paper's trust model, on request
    assert RunConfig.from_json(RunConfig(clients=1).to_json()).guardians == 2  # config.json records it

    from fbh.chain import Ledger
    from fbh.chain.embedded import EmbeddedBackend
    from fbh.protocol import guarded
    from fbh.protocol.keyring import Keyring
    from fbh.protocol.kgc import KeyGenerationCentre

    _, secret = Keyring(tmp_path / "keys").create(["server"], kgc_key=False)
    assert secret is None and "kgc-keyset" not in (tmp_path / "keys" / "keys.json").read_text()
    ledger = Ledger(EmbeddedBackend())
    ledger.deploy(ledger.account("kgc"))
    council = guarded.convene(ledger, 2, 2, ["auditor", "hospital_0"], threads=1)
    kgc = KeyGenerationCentre.registrar(ledger, council.public)
    assert not kgc.holds_key and kgc.public_key is council.public
    with pytest.raises(PermissionError, match="holds no key"):
        kgc.decrypt_sum(1, [b"a", b"b"], bound=2**10)
