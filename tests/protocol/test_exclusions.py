"""Every exclusion on chain is justified from public data (issue 8: "an invented rejection reason").

Reproduced against the old code: the server excluded an honest hospital on chain with a made-up
reason (INVALID_PROOF for a blob whose proofs verify) and both the auditor and ``fbh audit``
approved the round. Now the kept evidence is re-checked and the round is rejected.
"""

from __future__ import annotations

import numpy as np
import pytest

from fbh import data as fdata
from fbh.chain import Ledger, RejectReason, restore
from fbh.cli import main
from fbh.crypto import context_digest
from fbh.protocol import exclusions
from fbh.protocol.client import Hospital
from fbh.protocol.config import RunConfig
from fbh.protocol.kgc import KeyGenerationCentre
from fbh.protocol.messages import EncryptedUpdate, sign_update, update_context
from fbh.protocol.server import Server
from fbh.protocol.rundir import RunDir
from fbh.protocol.simulation import run

P = 32


@pytest.fixture
def cast(embedded_backend):
    ledger = Ledger(embedded_backend)
    ledger.deploy(ledger.account("kgc"))
    kgc = KeyGenerationCentre(ledger, threads=1)
    server = Server(ledger.account("server"), ledger, clip=1.0, bound=2**20, threads=1, k=kgc.public_key.k)
    hospitals = [Hospital(ledger.account(f"h{i}"), 100, kgc.public_key, ledger, threads=1) for i in range(3)]
    kgc.setup(server=server.address, hospitals=[h.address for h in hospitals], auditors=[])
    plan = server.open_round(1, np.zeros(P, np.float32), {h.address: h.num_samples for h in hospitals})
    return ledger, server, hospitals, plan


def _signed(hospital, ledger, blob: bytes, *, commit: bool = True) -> EncryptedUpdate:
    update = EncryptedUpdate(1, hospital.address, blob, sign_update(hospital.account, ledger, 1, blob, 100), 100)
    if commit:
        hospital.commit(update)
    return update


def _evidence(rejected) -> dict:
    return {r.hospital: list(r.evidence) for r in rejected if r.recorded and r.evidence}


def test_honest_exclusions_are_justified_by_the_kept_evidence(cast, tmp_path):
    ledger, server, (h0, h1, h2), plan = cast
    good = h0.encrypt(plan, np.ones(P, np.int64))
    h0.commit(good)
    # h1 relabels h0's blob as its own: the proofs stay bound to h0, so they fail for h1
    own = context_digest(update_context(ledger, 1, h1.address))
    copied = _signed(h1, ledger, good.blob[:16] + own + good.blob[48:])
    # h2 commits one blob and sends two different signed ones
    first = h2.encrypt(plan, np.ones(P, np.int64))
    h2.commit(first)
    second = _signed(h2, ledger, h2.encrypt(plan, np.zeros(P, np.int64)).blob, commit=False)
    accepted, rejected = server.verify(plan, [good, copied, first, second], P)
    assert [u.hospital for u in accepted] == [h0.address]
    assert {r.hospital: r.code for r in rejected if r.recorded} == {h1.address: RejectReason.INVALID_PROOF,
                                                                      h2.address: RejectReason.DUPLICATE}
    exclusions.keep_evidence(tmp_path / "1", rejected)

    assert exclusions.audit_round(ledger, tmp_path / "1", shape=(P, 32)) == []
    # without the kept blobs neither claim can be checked: both are refused
    findings = exclusions.check_exclusions(ledger, 1, {}, shape=(P, 32))
    assert len(findings) == 2 and all("step exclusions" in f for f in findings)
    assert any("committed blob, signed by it, is not kept" in f for f in findings)
    assert any("no two different updates it signed" in f for f in findings)


@pytest.mark.parametrize(("reason", "says"), [
    (RejectReason.INVALID_PROOF, "its committed blob is well formed and its proofs verify"),
    (RejectReason.MALFORMED, "its committed blob is well formed and its proofs verify"),
    (RejectReason.NOT_COMMITTED, "its commitment is on chain"),
    (RejectReason.UNREGISTERED_SENDER, "it is a registered hospital"),
    (RejectReason.DUPLICATE, "no two different updates it signed"),
    (RejectReason.DIGEST_MISMATCH, "no update it signed that differs from its commitment"),
    (RejectReason.REPLAY, "never accepted in an earlier round"),
    (RejectReason.BAD_SIGNATURE, "attributed to nobody"),
])
def test_each_invented_reason_for_an_honest_hospital_is_caught(cast, reason, says):
    ledger, server, (h0, *_), plan = cast
    honest = h0.encrypt(plan, np.ones(P, np.int64))
    h0.commit(honest)
    ledger.record_rejection(1, h0.address, reason, sender=server.account)  # the server lies
    (finding,) = exclusions.check_exclusions(ledger, 1, {h0.address: [honest]}, shape=(P, 32))
    assert finding.startswith(f"round 1: step exclusions: {h0.address} excluded as {reason.name}, but ")
    assert says in finding


def test_not_received_cannot_be_checked_and_is_listed_as_such(cast):
    ledger, server, (h0, h1, _), plan = cast
    h0.commit(h0.encrypt(plan, np.ones(P, np.int64)))
    _, rejected = server.verify(plan, [], P)  # nothing arrived
    assert [r.reason for r in rejected] == ["not-received"]
    assert exclusions.check_exclusions(ledger, 1, {}) == []
    assert exclusions.unverifiable(ledger.round(1)) == [h0.address]
    ledger.record_rejection(1, h1.address, RejectReason.NOT_RECEIVED, sender=server.account)  # never committed
    (finding,) = exclusions.check_exclusions(ledger, 1, {})
    assert "it committed nothing that could have gone missing" in finding


@pytest.fixture(scope="module")
def tiny(data_dir):
    ds = fdata.load_dataset("mnist", data_dir)
    return fdata.Dataset("mnist", ds.x_train[:400], ds.y_train[:400], ds.x_test[:200], ds.y_test[:200], ds.classes)


@pytest.mark.parametrize("guardians", [3, 0])
def test_invent_exclusion_attack_is_rejected_on_chain_and_by_audit(tiny, tmp_path, capsys, guardians):
    out = tmp_path / "invented"
    cfg = RunConfig(model="ann", clients=3, rounds=1, validation_size=100, constant_time=False, seed=5,
                    bound=2**12, guardians=guardians, attack="invent-exclusion:1", range_samples=8)
    (row,) = run(cfg, out, dataset=tiny, progress=False)["rounds"]
    assert row["attack"]["kind"] == "invent-exclusion" and row["attack"]["by"] == "server"
    assert row["attack"]["excluded"] and row["accepted"] == 2
    assert not row["approved"]
    assert any("round 1: step exclusions" in p and "its proofs verify" in p for p in row["audit_problems"])
    with restore(RunDir(out).chain_dir) as ledger:
        assert ledger.round(1).status.name == "REJECTED"
    capsys.readouterr()
    assert main(["audit", str(out)]) == 1
    err = capsys.readouterr().err
    assert f"round 1: step exclusions: {row['attack']['victim']} excluded as INVALID_PROOF" in err
