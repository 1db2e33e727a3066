"""Rounds can be cancelled (never stuck Open), participants revoked, and every input is bounded."""

from __future__ import annotations

from fbh.chain import CancelReason, RejectReason, RoundStatus, commitment
from tests.chain.reverts import expect_revert

DIGEST = commitment(b"ciphertext")


def test_chain_cancel_an_open_round_and_redo_it_under_the_next_number(backend, parties_factory) -> None:
    parties = parties_factory(backend)
    led, h = parties.ledger, parties.hospitals[0]
    led.open_round(1)
    led.commit_update(1, DIGEST, 10, sender=h)

    led.cancel_round(1, CancelReason.INTERRUPTED)

    rec = led.round(1)
    assert rec.status is RoundStatus.CANCELLED and rec.cancel_reason is CancelReason.INTERRUPTED
    assert led.current_round() is None
    expect_revert("RoundNotOpen", lambda: led.commit_update(1, commitment(b"late"), 10, sender=h))
    expect_revert("RoundNotNext", lambda: led.open_round(1))  # the number stays used: nothing recorded twice
    led.open_round(2)
    led.commit_update(2, DIGEST, 10, sender=h)
    assert led.round(2).status is RoundStatus.OPEN and led.round(2).cancel_reason is None


def test_chain_cancel_rules(parties) -> None:
    led = parties.ledger
    expect_revert("RoundNotCancellable", lambda: led.cancel_round(1, CancelReason.INTERRUPTED))  # never opened
    led.open_round(1)
    for bad in (0, len(CancelReason) + 1):
        expect_revert("InvalidReason", lambda bad=bad: led.cancel_round(1, bad))
    for who in (parties.hospitals[0], parties.auditor, parties.outsider):
        err = expect_revert("NotServerOrAdmin", lambda who=who: led.cancel_round(1, CancelReason.INTERRUPTED, sender=who))
        assert err.error_args["caller"] == who.address
    led.record_aggregate(1, commitment(b"agg"), commitment(b"model"))
    led.cancel_round(1, CancelReason.AUDIT_TIMEOUT, sender=parties.kgc)  # the admin may, after aggregation too
    expect_revert("RoundNotAggregated", lambda: led.approve(1, True, 0.5))
    expect_revert("RoundNotCancellable", lambda: led.cancel_round(1, CancelReason.INTERRUPTED))
    led.open_round(2)
    led.record_aggregate(2, commitment(b"agg2"), commitment(b"model2"))
    led.approve(2, True, 0.5)
    expect_revert("RoundNotCancellable", lambda: led.cancel_round(2, CancelReason.ADMINISTRATIVE))  # audited: final


def test_chain_revoked_participant_can_no_longer_act(parties) -> None:
    led, h0, h1 = parties.ledger, parties.hospitals[0], parties.hospitals[1]
    led.open_round(1)
    led.commit_update(1, DIGEST, 10, sender=h0)
    expect_revert("NotAdmin", lambda: led.revoke(h1.address, sender=parties.server))

    led.revoke(h1.address)

    assert led.participant(h1.address).revoked and not led.participant(h0.address).revoked
    expect_revert("NotHospital", lambda: led.commit_update(1, DIGEST, 10, sender=h1))
    expect_revert("AlreadyRevoked", lambda: led.revoke(h1.address))
    expect_revert("NotRegistered", lambda: led.revoke(parties.outsider.address))
    led.revoke(parties.server.address)
    expect_revert("NotServerOrAdmin", lambda: led.cancel_round(1, CancelReason.INTERRUPTED, sender=parties.server))
    expect_revert("NotServer", lambda: led.record_aggregate(1, commitment(b"a"), commitment(b"m"), sender=parties.server))
    assert [u.hospital for u in led.commitments(1)] == [h0.address]  # history stays


def test_chain_inputs_are_bounded(parties) -> None:
    led, h = parties.ledger, parties.hospitals[0]
    expect_revert("RoundNotNext", lambda: led.open_round(2**64 - 1))
    led.open_round(1)
    err = expect_revert("TooManySamples", lambda: led.commit_update(1, DIGEST, 2**32, sender=h))
    assert err.error_args["numSamples"] == 2**32
    led.commit_update(1, DIGEST, 2**32 - 1, sender=h)
    for bad in (0, max(RejectReason) + 1, 2**16 - 1):
        expect_revert("InvalidReason", lambda bad=bad: led.record_rejection(1, h.address, bad))
    led.record_rejection(1, h.address, max(RejectReason))
