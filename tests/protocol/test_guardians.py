"""Guardians: key ceremony with a cheating dealer, decrypt-once refusals (issue 8 attack 1),
invalid shares identified, guardian and hospital dropouts, t - 1 guardians cannot decrypt."""

from __future__ import annotations

import types

import numpy as np
import pytest

import fbh.crypto as fc
from fbh.chain.records import RoundStatus, UpdateRecord
from fbh.crypto.threshold import DecryptionShare
from fbh.protocol.ceremony import (
    DecryptionMediator,
    GuardianUnavailable,
    KeyCeremonyMediator,
    ThresholdNotMet,
)
from fbh.protocol.guardian import Backup, DecryptionRequest, Guardian, Refusal, aggregate_digest
from fbh.protocol.messages import digest

K, T = 4, 2
CTX = b"chain 31337 / contract 0x1234"
HOSPITALS = ["0xA", "0xB", "0xC"]
BOUND = 2**12


class FakeLedger:
    """In-memory view of the rounds, as the registry would hold them."""

    def __init__(self) -> None:
        self.rounds: dict[int, types.SimpleNamespace] = {}

    def open(self, r: int, blobs: dict[str, bytes], accepted: list[str]) -> None:
        updates = tuple(UpdateRecord(h, digest(b), 1, 0, None if h in accepted else 8) for h, b in blobs.items())
        self.rounds[r] = types.SimpleNamespace(status=RoundStatus.OPEN, updates=updates, sum_digest=None,
                                               accepted_updates=tuple(u for u in updates if u.accepted))

    def record_sum(self, r: int, agg_digest: bytes) -> None:
        self.rounds[r].sum_digest = agg_digest

    def round(self, r: int):
        return self.rounds[r]

    def trust_record(self, r: int):
        return self.rounds[r]


class CheatingDealer(Guardian):
    """Deals a share that does not match its commitments to guardian 2."""

    def share_backups(self, announcements):
        out = super().share_backups(announcements)
        a = next(a for a in announcements if a.index == 2)
        bad = self._poly.evaluate(3)  # someone else's share
        from fbh.crypto import ecies
        from fbh.protocol.guardian import backup_aad

        return [Backup(1, 2, ecies.encrypt(a.enc_key, bad, backup_aad(self.context, 1, 2))) if b.recipient == 2 else b
                for b in out]


class FalseComplainer(Guardian):
    def verify_backups(self, backups, announcements):
        from fbh.crypto import ecies
        from fbh.protocol.guardian import Complaint

        complaints = super().verify_backups(backups, announcements)
        b = next(b for b in backups if b.recipient == self.index)
        shared, proof = ecies.open_with_proof(self._enc_secret, b.ciphertext, self.context)
        return [*complaints, Complaint(b, shared, proof)]


class Offline:
    def decrypt_share(self, request, *, constant_time=True):
        raise GuardianUnavailable("no answer")


def setup(ledger, cls=(Guardian, Guardian, Guardian)):
    guardians = [c(i + 1, T, K, ledger=ledger, context=CTX, name=f"g{i + 1}") for i, c in enumerate(cls)]
    return guardians, KeyCeremonyMediator(guardians, threshold=T, context=CTX).run()


@pytest.fixture(scope="module")
def federation():
    ledger = FakeLedger()
    guardians, result = setup(ledger)
    values = {h: np.arange(10, dtype=np.int64) * (c + 1) - 3 for c, h in enumerate(HOSPITALS)}
    blobs = {h: fc.encrypt_packed(result.public, v, context=h.encode()).to_bytes() for h, v in values.items()}
    return ledger, guardians, result, values, blobs


def open_round(ledger, r, blobs, accepted):
    ledger.open(r, blobs, accepted)
    agg = fc.aggregate_packed([blobs[h] for h in accepted])
    ledger.record_sum(r, aggregate_digest(agg))
    return [(h, blobs[h]) for h in accepted]


def mediator(guardians, result, overrides=None):
    members = {g.index: g for g in guardians} | (overrides or {})
    return DecryptionMediator(members, result.verification_keys, threshold=T, context=CTX)


def test_ceremony_and_one_decryption(federation):
    ledger, guardians, result, values, blobs = federation
    assert result.qualified == (1, 2, 3) and not result.disqualified
    accepted = open_round(ledger, 1, blobs, HOSPITALS)
    out = mediator(guardians, result).decrypt(1, accepted, bound=BOUND)
    assert np.array_equal(out.values, sum(values.values()))
    assert [s.index for s in out.shares] == [1, 2] and not out.invalid


def test_cheating_dealer_identified_by_complaint():
    guardians, result = setup(FakeLedger(), (CheatingDealer, Guardian, Guardian))
    assert result.disqualified == (1,) and result.qualified == (2, 3)
    ks = {i: k for i, k in result.verification_keys.items()}
    assert set(ks) == {1, 2, 3}  # the cheat still holds a valid share of the others' key


def test_false_complaint_blames_the_complainer():
    _, result = setup(FakeLedger(), (Guardian, FalseComplainer, Guardian))
    assert result.disqualified == () and result.false_complaints == (2,)
    assert 2 not in result.verification_keys


def test_curious_server_subset_duplicates_and_second_decryption_refused(federation):
    ledger, guardians, result, values, blobs = federation
    accepted = open_round(ledger, 2, blobs, HOSPITALS)
    g = guardians[0]
    subset = DecryptionRequest(2, tuple(accepted[1:]), (1, 2))  # (B + C): then (A+B+C) - (B+C) = A
    with pytest.raises(Refusal, match="not-the-accepted-set"):
        g.decrypt_share(subset)
    dup = DecryptionRequest(2, (accepted[0], accepted[0], accepted[1], accepted[2]), (1, 2))  # A + A + B + C
    with pytest.raises(Refusal, match="duplicate"):
        g.decrypt_share(dup)
    swapped = DecryptionRequest(2, ((HOSPITALS[0], blobs["0xB"]), accepted[1], accepted[2]), (1, 2))
    with pytest.raises(Refusal, match="duplicate"):
        g.decrypt_share(swapped)
    mediator(guardians, result).decrypt(2, accepted, bound=BOUND)
    # The server records another aggregate (B + C) for the round and asks again.
    ledger.rounds[2].sum_digest = aggregate_digest(fc.aggregate_packed([blobs["0xB"], blobs["0xC"]]))
    for guardian in guardians[:2]:
        with pytest.raises(Refusal, match="second-aggregate|not-the-accepted-set"):
            guardian.decrypt_share(DecryptionRequest(2, tuple(accepted[1:]), (1, 2)))
    ledger.rounds[2].status = RoundStatus.AGGREGATED  # the model was recorded: round decrypted
    with pytest.raises(Refusal, match="round-closed"):
        guardians[2].decrypt_share(DecryptionRequest(2, tuple(accepted), (2, 3)))


def test_recorded_aggregate_must_be_the_accepted_sum(federation):
    ledger, guardians, _, _, blobs = federation
    accepted = open_round(ledger, 3, blobs, HOSPITALS)
    ledger.rounds[3].sum_digest = bytes(32)  # invented aggregate digest
    with pytest.raises(Refusal, match="aggregate-mismatch"):
        guardians[0].decrypt_share(DecryptionRequest(3, tuple(accepted), (1, 2)))
    tampered = ((accepted[0][0], accepted[0][1][:-1] + b"\x00"), *accepted[1:])
    with pytest.raises(Refusal, match="not-committed"):
        guardians[0].decrypt_share(DecryptionRequest(3, tampered, (1, 2)))


def test_invalid_share_identified_and_round_completes(federation):
    ledger, guardians, result, values, blobs = federation
    accepted = open_round(ledger, 4, blobs, HOSPITALS)
    liar = _Liar(guardians[0])
    out = mediator(guardians, result, {1: liar}).decrypt(4, accepted, bound=BOUND)
    assert out.invalid == [1] and [s.index for s in out.shares] == [2, 3]
    assert np.array_equal(out.values, sum(values.values()))


class _Liar:
    """Wraps an honest guardian and corrupts its share (swaps two points)."""

    def __init__(self, inner):
        self.inner = inner

    def decrypt_share(self, request, *, constant_time=True):
        good = self.inner.decrypt_share(request, constant_time=constant_time)
        pts = good.points.copy()
        pts[0, 0], pts[0, 1] = good.points[0, 1].copy(), good.points[0, 0].copy()
        return DecryptionShare(good.index, good.quorum, pts, good.proof)


def test_guardian_and_hospital_dropouts(federation):
    ledger, guardians, result, values, blobs = federation
    accepted = open_round(ledger, 5, blobs, ["0xA", "0xC"])  # hospital B dropped out
    out = mediator(guardians, result, {2: Offline()}).decrypt(5, accepted, bound=BOUND)
    assert out.absent == [2] and [s.index for s in out.shares] == [1, 3]
    assert np.array_equal(out.values, values["0xA"] + values["0xC"])


def test_t_minus_one_guardians_cannot_decrypt(federation):
    ledger, guardians, result, _, blobs = federation
    accepted = open_round(ledger, 6, blobs, HOSPITALS)
    with pytest.raises(ThresholdNotMet, match="fewer than 2"):
        mediator(guardians, result, {2: None, 3: Offline()}).decrypt(6, accepted, bound=BOUND)
    # What one guardian's share gives alone is not the sum: it does not even decode.
    share = guardians[0].decrypt_share(DecryptionRequest(6, tuple(accepted), (1,)))
    from fbh.crypto.threshold import combine_shares

    with pytest.raises(fc.PlaintextOutOfRange):
        combine_shares(fc.aggregate_packed([b for _, b in accepted]), [share], bound=BOUND)


def test_guardian_refuses_pickling(federation):
    import pickle

    with pytest.raises(TypeError):
        pickle.dumps(federation[1][0])


def test_guardian_restarted_between_every_message_keeps_ceremony_and_decrypt_once(tmp_path):
    """A guardian on its own Flower node runs each message in a fresh process: reloaded from its
    own 0600 file before every ceremony step and every request, it still completes the ceremony,
    decrypts, and refuses a second aggregate for a round it answered before the restart."""
    ledger = FakeLedger()
    paths = {i: tmp_path / f"guardian_{i}.json" for i in (1, 2, 3)}
    for i, path in paths.items():
        Guardian(i, T, K, ledger=ledger, context=CTX, name=f"g{i}").save_state(path)

    class Restarting:  # what the server's stand-in reaches: the guardian as last saved
        def __init__(self, i):
            self.index, self.k = i, K

        def __getattr__(self, step):
            def call(*args, **kwargs):
                g = Guardian.load_state(paths[self.index], ledger=ledger, context=CTX)
                out = getattr(g, step)(*args, **kwargs)
                g.save_state(paths[self.index])
                return out
            return call

    result = KeyCeremonyMediator([Restarting(i) for i in paths], threshold=T, context=CTX).run()
    assert result.qualified == (1, 2, 3)
    for i, path in paths.items():
        assert path.stat().st_mode & 0o777 == 0o600
        saved = path.read_text()
        assert "key_shares" in saved and "poly" not in saved and "enc_secret" not in saved  # ceremony secrets gone
    values = {h: np.arange(10, dtype=np.int64) * (c + 1) for c, h in enumerate(HOSPITALS)}
    blobs = {h: fc.encrypt_packed(result.public, v, context=h.encode()).to_bytes() for h, v in values.items()}
    accepted = open_round(ledger, 1, blobs, HOSPITALS)
    members = {i: Restarting(i) for i in paths}
    out = DecryptionMediator(members, result.verification_keys, threshold=T, context=CTX).decrypt(1, accepted,
                                                                                                  bound=BOUND)
    assert np.array_equal(out.values, sum(values.values()))
    ledger.rounds[1].sum_digest = aggregate_digest(fc.aggregate_packed([blobs["0xB"], blobs["0xC"]]))
    with pytest.raises(Refusal, match="second-aggregate|not-the-accepted-set"):
        members[1].decrypt_share(DecryptionRequest(1, tuple(accepted[1:]), (1, 2)))
    ledger.rounds[1].accepted_updates = tuple(u for u in ledger.rounds[1].updates if u.hospital != "0xA")
    with pytest.raises(Refusal, match="second-aggregate"):  # the record of round 1 survived the restarts
        members[1].decrypt_share(DecryptionRequest(1, tuple(accepted[1:]), (1, 2)))
