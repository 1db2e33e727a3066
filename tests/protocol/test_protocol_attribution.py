"""Updates belong to the key that signed them (issue 8, attack 2) and blobs to their sender (issue 7).

Each test reproduces an attack that worked against the server that trusted
the ``hospital`` field: unsigned junk naming an honest hospital got its real
update refused as a duplicate, or excluded it on chain before it committed.
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np
import pytest

from fbh import crypto as fc
from fbh.chain import Ledger, RejectReason
from fbh.protocol.auditor import Auditor
from fbh.protocol.client import Hospital
from fbh.protocol.kgc import KeyGenerationCentre
from fbh.protocol.messages import EncryptedUpdate, sign_update, update_context
from fbh.protocol.server import Server

P = 32
BOUND = 2**20
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


@pytest.fixture
def cast(embedded_backend):
    ledger = Ledger(embedded_backend)
    ledger.deploy(ledger.account("kgc"))
    kgc = KeyGenerationCentre(ledger, threads=1)
    server = Server(ledger.account("server"), ledger, clip=1.0, bound=BOUND, threads=1)
    auditor = Auditor(ledger.account("auditor"), evaluate=lambda flat: 0.9, ledger=ledger)
    hospitals = [Hospital(ledger.account(f"h{i}"), 100 * (i + 1), kgc.public_key, ledger, threads=1)
                 for i in range(3)]
    kgc.setup(server=server.address, hospitals=[h.address for h in hospitals], auditors=[auditor.address])
    return ledger, kgc, server, hospitals


def _open(server, hospitals, round_):
    return server.open_round(round_, np.zeros(P, np.float32), {h.address: h.num_samples for h in hospitals})


def _update(hospital, plan, value: int = 1, *, commit: bool = True) -> EncryptedUpdate:
    update = hospital.encrypt(plan, np.full(P, value, np.int64))
    if commit:
        hospital.commit(update)
    return update


def _honest_round_1(server, kgc, hospitals) -> list[EncryptedUpdate]:
    """Round 1, every hospital honest, through to the new model; returns its updates."""
    plan = _open(server, hospitals, 1)
    updates = [_update(h, plan) for h in hospitals]
    accepted, _ = server.verify(plan, updates, P)
    aggregate = server.aggregate(plan, accepted)
    summed = kgc.decrypt_sum(1, [u.blob for u in accepted], bound=BOUND)
    server.apply(plan, accepted, aggregate, summed, np.zeros(P, np.float32))
    return updates


def _junk(plan, victim: str, round_=None) -> EncryptedUpdate:
    """Random bytes and a random 65-byte 'signature' that name ``victim``."""
    sig = os.urandom(64) + bytes([27])
    return EncryptedUpdate(plan.round if round_ is None else round_, victim, os.urandom(P * 64), sig, 100)


def test_junk_naming_a_hospital_does_not_get_its_real_update_refused(cast):
    ledger, _, server, hospitals = cast
    plan = _open(server, hospitals, 1)
    victim = hospitals[0]
    updates = [_update(h, plan) for h in hospitals]
    accepted, rejected = server.verify(plan, [_junk(plan, victim.address), *updates], P)
    assert {u.hospital for u in accepted} == {h.address for h in hospitals}
    (noise,) = rejected
    assert (noise.hospital, noise.reason, noise.recorded) == (None, "bad-signature", False)
    assert ledger.round(1).rejected == frozenset()


def test_junk_sent_before_the_commitment_does_not_pre_exclude_the_hospital(cast):
    ledger, _, server, hospitals = cast
    plan = _open(server, hospitals, 1)
    victim = hospitals[0]
    junk = [_junk(plan, victim.address), _junk(plan, victim.address, round_=plan.round + 1)]
    _, rejected = server.verify(plan, junk, P)
    assert [r.reason for r in rejected] == ["bad-signature", "bad-signature"]
    assert ledger.round(1).rejected == frozenset()
    update = _update(victim, plan)  # commitUpdate would revert had the victim been excluded
    accepted, rejected = server.verify(plan, [update], P)
    assert accepted == [update] and rejected == []


def test_a_replayed_old_message_neither_duplicates_nor_excludes_its_hospital(cast):
    ledger, kgc, server, hospitals = cast
    old = _honest_round_1(server, kgc, hospitals)

    plan2 = _open(server, hospitals, 2)
    fresh = [_update(h, plan2, 2) for h in hospitals]
    accepted, rejected = server.verify(plan2, [old[0], *fresh], P)
    assert {u.hospital for u in accepted} == {h.address for h in hospitals}
    assert [(r.hospital, r.reason, r.recorded) for r in rejected] == [(hospitals[0].address, "wrong-round", False)]
    assert ledger.round(2).rejected == frozenset()


def test_an_update_belongs_to_its_signer_not_to_the_name_it_claims(cast):
    ledger, _, server, hospitals = cast
    plan = _open(server, hospitals, 1)
    h0, h1, h2 = hospitals
    mine = _update(h1, plan)
    posing = dataclasses.replace(mine, hospital=h0.address)  # h1's signed update, claiming to be h0's
    accepted, rejected = server.verify(plan, [posing, _update(h0, plan), _update(h2, plan)], P)
    assert sorted(u.hospital for u in accepted) == sorted(h.address for h in hospitals)
    assert next(u for u in accepted if u.digest == mine.digest).hospital == h1.address
    assert rejected == []


def test_duplicate_means_two_different_updates_signed_by_the_hospital_itself(cast):
    ledger, _, server, hospitals = cast
    plan = _open(server, hospitals, 1)
    h0, h1, h2 = hospitals
    committed = _update(h0, plan, 1)
    second = _update(h0, plan, 2, commit=False)
    honest = _update(h1, plan)
    # An exact re-send is the same update; an ECDSA-malleated copy (s -> n - s) is either
    # refused as noise (eth_keys enforces low s) or the same update: never a second one.
    r, s, v = honest.signature[:32], int.from_bytes(honest.signature[32:64], "big"), honest.signature[64]
    flipped = r + (SECP256K1_N - s).to_bytes(32, "big") + bytes([v ^ 1])
    malleated = dataclasses.replace(honest, signature=flipped)
    updates = [committed, second, honest, honest, malleated, _update(h2, plan)]
    accepted, rejected = server.verify(plan, updates, P)
    assert sorted(u.hospital for u in accepted) == sorted([h1.address, h2.address])
    assert [(r.hospital, r.reason) for r in rejected if r.recorded] == [(h0.address, "duplicate")]
    assert ledger.round(1).rejected == {h0.address}
    assert ledger.round(1).by_hospital[h0.address].reject_reason is RejectReason.DUPLICATE


def test_a_committed_hospital_whose_update_never_arrives_is_excluded_as_not_received(cast):
    ledger, _, server, hospitals = cast
    plan = _open(server, hospitals, 1)
    updates = [_update(h, plan) for h in hospitals]
    blob = bytearray(updates[0].blob)
    blob[-1] ^= 1  # altered in transit: the signature no longer matches, so it is noise
    updates[0] = dataclasses.replace(updates[0], blob=bytes(blob))
    accepted, rejected = server.verify(plan, updates, P)
    assert len(accepted) == 2
    assert [(r.hospital, r.reason, r.recorded) for r in rejected] == [
        (None, "bad-signature", False), (hospitals[0].address, "not-received", True)]
    assert ledger.round(1).by_hospital[hospitals[0].address].reject_reason is RejectReason.NOT_RECEIVED


def test_a_copy_of_another_hospitals_blob_is_refused(cast):
    """Issue 7: h1 signs and commits h0's exact bytes as its own; with three hospitals it was summed."""
    ledger, kgc, server, hospitals = cast
    plan = _open(server, hospitals, 1)
    h0, h1, h2 = hospitals
    original = _update(h0, plan)
    copy = EncryptedUpdate(1, h1.address, original.blob,
                           sign_update(h1.account, ledger, 1, original.blob, h1.num_samples), h1.num_samples)
    h1.commit(copy)
    accepted, rejected = server.verify(plan, [original, copy, _update(h2, plan)], P)
    assert sorted(u.hospital for u in accepted) == sorted([h0.address, h2.address])
    assert [(r.hospital, r.reason) for r in rejected] == [(h1.address, "invalid-proof")]
    assert ledger.round(1).by_hospital[h1.address].reject_reason is RejectReason.INVALID_PROOF


def _signed(hospital, ledger, round_: int, blob: bytes) -> EncryptedUpdate:
    """``blob`` signed and committed by ``hospital`` as its own update."""
    update = EncryptedUpdate(round_, hospital.address, blob,
                             sign_update(hospital.account, ledger, round_, blob, hospital.num_samples),
                             hospital.num_samples)
    hospital.commit(update)
    return update


def test_a_copy_with_its_header_rewritten_or_a_rerandomized_copy_fails_the_proofs(cast):
    ledger, kgc, server, hospitals = cast
    plan = _open(server, hospitals, 1)
    h0, h1, h2 = hospitals
    original = _update(h0, plan)
    # h1 puts its own context digest in the header of h0's blob: the proofs bind the blocks to h0.
    own = fc.context_digest(update_context(ledger, 1, h1.address))
    relabelled = original.blob[:16] + own + original.blob[48:]
    # h2 adds an encryption of zero (re-randomizes): a sum carries no proofs at all.
    zero = fc.encrypt_packed(kgc.public_key, np.zeros(P, np.int64), context=b"anything")
    rerandomized = fc.aggregate_packed([original.blob, zero]).to_bytes()
    updates = [original, _signed(h1, ledger, 1, relabelled), _signed(h2, ledger, 1, rerandomized)]
    accepted, rejected = server.verify(plan, updates, P)
    assert accepted == [original]
    assert {(r.hospital, r.reason) for r in rejected} == {(h1.address, "invalid-proof"), (h2.address, "invalid-proof")}


def test_a_blob_replayed_into_another_round_fails_the_proofs_even_for_a_server_that_forgot_it(cast):
    ledger, kgc, server, hospitals = cast
    old = _honest_round_1(server, kgc, hospitals)
    restarted = Server(server.account, ledger, clip=1.0, bound=BOUND, threads=1)  # no memory of round 1
    plan2 = _open(restarted, hospitals, 2)
    replay = _signed(hospitals[0], ledger, 2, old[0].blob)  # re-signed and committed for round 2
    accepted, rejected = restarted.verify(plan2, [replay], P)
    assert accepted == [] and [r.reason for r in rejected] == ["invalid-proof"]


def test_wrong_block_size_is_malformed_and_a_hospital_refuses_an_unpublished_key_set(cast):
    ledger, kgc, _, hospitals = cast
    server = Server(ledger.account("server"), ledger, clip=1.0, bound=BOUND, threads=1, k=kgc.public_key.k)
    plan = _open(server, hospitals, 1)
    other = fc.KeySet.generate(k=8).public
    stranger = Hospital(hospitals[0].account, 100, other, None, threads=1)  # no chain: no key check
    blob = stranger.encrypt(plan, np.ones(P, np.int64)).blob
    _, rejected = server.verify(plan, [_signed(hospitals[0], ledger, 1, blob)], P)
    assert [r.reason for r in rejected] == ["malformed"] and "k = 32" in rejected[0].detail
    with pytest.raises(PermissionError, match="not the one published on chain"):
        Hospital(hospitals[1].account, 100, other, ledger, threads=1).encrypt(plan, np.ones(P, np.int64))


def test_the_auditor_re_verifies_the_proofs_of_what_the_server_summed(cast):
    ledger, _, server, hospitals = cast
    plan = _open(server, hospitals, 1)
    h0, h1, _ = hospitals
    original = _update(h0, plan)
    copy = _signed(h1, ledger, 1, original.blob)  # committed on chain by h1; a lax server would sum it
    auditor = Auditor(ledger.account("auditor"), evaluate=lambda flat: 0.9, ledger=ledger)
    problems = auditor.check_round(1, {h0.address: original.blob, h1.address: copy.blob}, np.zeros(P))
    assert any("round 1: a committed blob's proofs do not verify" in p for p in problems), problems
