"""The encrypted round between real roles on a real chain (embedded and anvil).

Each test deploys a fresh registry, lets the KGC register a server, an auditor
and three hospitals, and runs one round with small random "models" — the
protocol does not care where updates come from (training is tested in
tests/train and end to end in test_protocol_run.py).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from fbh.chain import Ledger, RejectReason, RevertError
from fbh.crypto.quantize import Quantizer
from fbh.protocol.auditor import Auditor
from fbh.protocol.client import Hospital
from fbh.protocol.kgc import KeyGenerationCentre
from fbh.protocol.messages import EncryptedUpdate, model_digest
from fbh.protocol.server import Server

P = 64
BOUND = 2**20
CLIP = 1.0
BACKENDS = ["embedded", pytest.param("anvil", marks=pytest.mark.anvil)]


@dataclasses.dataclass
class Cast:
    ledger: Ledger
    kgc: KeyGenerationCentre
    server: Server
    auditor: Auditor
    hospitals: list[Hospital]
    outsider: object


@pytest.fixture(params=BACKENDS)
def cast(request) -> Cast:
    ledger = Ledger(request.getfixturevalue(f"{request.param}_backend"))
    ledger.deploy(ledger.account("kgc"))
    kgc = KeyGenerationCentre(ledger, threads=1)
    server = Server(ledger.account("server"), ledger, clip=CLIP, bound=BOUND, threads=1)
    auditor = Auditor(ledger.account("auditor"), evaluate=lambda flat: 0.9, ledger=ledger)
    hospitals = [
        Hospital(ledger.account(f"h{i}"), n, kgc.public_key, ledger, threads=1)
        for i, n in enumerate([100, 300, 600])
    ]
    kgc.setup(server=server.address, hospitals=[h.address for h in hospitals], auditors=[auditor.address])
    return Cast(ledger, kgc, server, auditor, hospitals, ledger.account("outsider"))


def _updates(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-0.5, 0.5, (3, P)).astype(np.float32)


def _contribute(cast: Cast, plan, deltas: np.ndarray, *, commit: bool = True) -> list[EncryptedUpdate]:
    out = []
    for i, hospital in enumerate(cast.hospitals):
        q, _ = hospital.quantize(plan, deltas[i], seed=i)
        update = hospital.encrypt(plan, q)
        if commit:
            hospital.commit(update)
        out.append(update)
    return out


def _finish(cast: Cast, plan, accepted, global_flat):
    aggregate = cast.server.aggregate(plan, accepted)
    summed = cast.kgc.decrypt_sum(plan.round, [u.blob for u in accepted], bound=BOUND)
    return cast.server.apply(plan, accepted, aggregate, summed, global_flat)


def _plan(cast: Cast, round_: int, global_flat: np.ndarray):
    return cast.server.open_round(round_, global_flat, {h.address: h.num_samples for h in cast.hospitals})


def _tolerance(plan, share: float = 1.0) -> float:
    # Each of C clients' stochastic rounding errs by < 1 step; FedAvg divides by the honest share.
    return len(plan.weights) * Quantizer(CLIP, len(plan.weights), BOUND).step / share + 1e-6


def test_honest_round_equals_plaintext_fedavg_and_is_approved(cast: Cast):
    global_flat = np.zeros(P, np.float32)
    plan = _plan(cast, 1, global_flat)
    deltas = _updates(0)
    accepted, rejected = cast.server.verify(plan, _contribute(cast, plan, deltas), P)
    assert rejected == [] and len(accepted) == 3
    new_flat = _finish(cast, plan, accepted, global_flat)

    counts = np.array([h.num_samples for h in cast.hospitals], np.float64)
    oracle = (counts[:, None] * deltas).sum(0) / counts.sum()
    np.testing.assert_allclose(new_flat, oracle, atol=_tolerance(plan))

    verdict = cast.auditor.audit(1, {u.hospital: u.blob for u in accepted}, new_flat)
    assert verdict.approved, verdict.problems
    record = cast.ledger.round(1)
    assert record.approved and record.model_hash == model_digest(new_flat)
    assert {u.hospital for u in record.accepted_updates} == {h.address for h in cast.hospitals}


def test_tampered_blob_is_rejected_recorded_and_fedavg_renormalised(cast: Cast):
    global_flat = np.zeros(P, np.float32)
    plan = _plan(cast, 1, global_flat)
    deltas = _updates(1)
    updates = _contribute(cast, plan, deltas)
    blob = bytearray(updates[0].blob)
    blob[-1] ^= 0x01  # one bit of one coordinate, after commit and signature
    updates[0] = dataclasses.replace(updates[0], blob=bytes(blob))

    accepted, rejected = cast.server.verify(plan, updates, P)
    # The signature covers the digest: altered bytes are noise, and h0's commitment went unanswered.
    assert [(r.reason, r.recorded) for r in rejected] == [("bad-signature", False), ("not-received", True)]
    assert cast.ledger.round(1).rejected == {cast.hospitals[0].address}
    new_flat = _finish(cast, plan, accepted, global_flat)

    counts = np.array([h.num_samples for h in cast.hospitals[1:]], np.float64)
    oracle = (counts[:, None] * deltas[1:]).sum(0) / counts.sum()
    share = counts.sum() / (counts.sum() + cast.hospitals[0].num_samples)
    np.testing.assert_allclose(new_flat, oracle, atol=_tolerance(plan, share))


def _first_round(cast: Cast, seed: int):
    """An honest round 1; returns its updates and the open round 2's plan."""
    global_flat = np.zeros(P, np.float32)
    plan1 = _plan(cast, 1, global_flat)
    updates = _contribute(cast, plan1, _updates(seed))
    accepted, _ = cast.server.verify(plan1, updates, P)
    return updates, _plan(cast, 2, _finish(cast, plan1, accepted, global_flat))


def test_replay_unregistered_double_submission_and_bad_signature(cast: Cast):
    old, plan2 = _first_round(cast, 2)
    fresh = _contribute(cast, plan2, _updates(3))
    intruder = Hospital(cast.outsider, 50, cast.kgc.public_key, cast.ledger)
    forged = intruder.encrypt(plan2, np.zeros(P, np.int64))
    second = cast.hospitals[2].encrypt(plan2, np.ones(P, np.int64))
    h1 = fresh[1]
    stolen = dataclasses.replace(h1, signature=fresh[0].signature)  # h0's signature on h1's bytes

    updates = [old[0], fresh[1], forged, fresh[2], second]  # h0 replays round 1; h2 sends twice
    accepted, rejected = cast.server.verify(plan2, updates, P)
    reasons = {(r.hospital, r.reason) for r in rejected}
    assert (cast.hospitals[0].address, "wrong-round") in reasons  # reported, not held against h0
    assert (cast.hospitals[0].address, "not-received") in reasons  # h0 committed but sent no round-2 update
    assert (cast.outsider.address, "unregistered") in reasons
    assert (cast.hospitals[2].address, "duplicate") in reasons
    assert [u.hospital for u in accepted] == [h1.hospital]
    assert cast.ledger.round(2).rejected == {
        cast.hospitals[0].address, cast.outsider.address, cast.hospitals[2].address
    }
    assert cast.ledger.round(2).by_hospital[cast.hospitals[0].address].reject_reason is RejectReason.NOT_RECEIVED
    _, rejected = cast.server.verify(plan2, [stolen], P)
    assert [(r.hospital, r.reason, r.recorded) for r in rejected] == [(None, "bad-signature", False)]
    assert len(cast.ledger.round(2).rejected) == 3


def test_chain_refuses_a_second_commitment(cast: Cast):
    plan = _plan(cast, 1, np.zeros(P, np.float32))
    update = _contribute(cast, plan, _updates(4))[0]
    with pytest.raises(RevertError) as info:
        cast.hospitals[0].commit(update)
    assert info.value.error_name == "AlreadySubmitted"


def test_replayed_bytes_from_an_earlier_round_are_refused(cast: Cast):
    updates, plan2 = _first_round(cast, 5)
    # Hospital 0 re-signs and re-commits last round's exact bytes for round 2.
    h0 = cast.hospitals[0]
    again = h0.encrypt(plan2, np.zeros(P, np.int64))
    again = dataclasses.replace(again, blob=updates[0].blob)
    from fbh.protocol.messages import sign_update

    again = dataclasses.replace(again, signature=sign_update(h0.account, cast.ledger, 2, again.blob, h0.num_samples))
    h0.commit(again)
    _, rejected = cast.server.verify(plan2, [again], P)
    assert [r.reason for r in rejected] == ["replayed-blob"]
    assert cast.ledger.round(2).by_hospital[h0.address].reject_reason is RejectReason.REPLAY


def test_kgc_decrypts_only_committed_sums_of_several_parties(cast: Cast):
    plan = _plan(cast, 1, np.zeros(P, np.float32))
    updates = _contribute(cast, plan, _updates(6))
    with pytest.raises(PermissionError, match="fewer than 2"):
        cast.kgc.decrypt_sum(1, [updates[0].blob], bound=BOUND)
    uncommitted = cast.hospitals[0].encrypt(plan, np.zeros(P, np.int64)).blob
    with pytest.raises(PermissionError, match="not committed"):
        cast.kgc.decrypt_sum(1, [updates[1].blob, uncommitted], bound=BOUND)


def test_auditor_rejects_a_model_that_is_not_the_recorded_one(cast: Cast):
    global_flat = np.zeros(P, np.float32)
    plan = _plan(cast, 1, global_flat)
    accepted, _ = cast.server.verify(plan, _contribute(cast, plan, _updates(7)), P)
    new_flat = _finish(cast, plan, accepted, global_flat)
    swapped = new_flat.copy()
    swapped[0] += 1.0
    verdict = cast.auditor.audit(1, {u.hospital: u.blob for u in accepted}, swapped)
    assert not verdict.approved
    assert any("model's hash" in p for p in verdict.problems)
    assert not cast.ledger.round(1).approved


def test_roles_refuse_to_be_pickled(cast: Cast):
    import pickle

    with pytest.raises(TypeError, match="private key"):
        pickle.dumps(cast.kgc)
    with pytest.raises(TypeError, match="signing key"):
        pickle.dumps(cast.hospitals[0])
