"""Guardian-run rounds on chain: start model, sum frozen before decryption, shares digest, ceremony."""

from __future__ import annotations

from fbh.chain import RejectReason, RoundStatus, commitment
from tests.chain.reverts import expect_revert

START, SUM, SHARES, PARAMS, MODEL = (commitment(x) for x in (b"start", b"sum", b"shares", b"params", b"model"))


def test_chain_guardian_round_records_every_binding_step(parties) -> None:
    led, (h0, h1, h2) = parties.ledger, parties.hospitals
    led.publish_guardians(commitment(b"ceremony"), 3, 2)
    assert led.guardians() == (commitment(b"ceremony"), 3, 2)
    expect_revert("GuardiansAlreadyPublished", lambda: led.publish_guardians(commitment(b"other"), 3, 2))
    led.open_round_from(1, START)
    gas = [led.commit_update(1, commitment(b"u%d" % i), 10, sender=h).gas_used for i, h in enumerate((h0, h1))]
    assert all(g <= 80_000 for g in gas), gas
    expect_revert("SumNotRecorded", lambda: led.record_decryption(1, SHARES, PARAMS))
    led.record_sum(1, SUM)
    # Frozen: no late commitment, no exclusion, no second sum, no other aggregate at closing.
    expect_revert("SumAlreadyRecorded", lambda: led.commit_update(1, commitment(b"late"), 10, sender=h2))
    expect_revert("SumAlreadyRecorded", lambda: led.record_rejection(1, h0.address, RejectReason.MALFORMED))
    expect_revert("SumAlreadyRecorded", lambda: led.record_sum(1, commitment(b"subset")))
    led.record_decryption(1, SHARES, PARAMS)
    expect_revert("SumMismatch", lambda: led.record_aggregate(1, commitment(b"invented"), MODEL))
    led.record_aggregate(1, SUM, MODEL)
    rec, trust = led.round(1), led.trust_record(1)
    assert rec.status is RoundStatus.AGGREGATED and rec.aggregate_digest == SUM and rec.model_hash == MODEL
    assert (trust.start_model, trust.sum_digest, trust.shares_digest, trust.params_digest) == (START, SUM, SHARES, PARAMS)


def test_chain_guardian_inputs_bounded(parties) -> None:
    led = parties.ledger
    expect_revert("InvalidThreshold", lambda: led.publish_guardians(commitment(b"c"), 2, 3))
    expect_revert("InvalidThreshold", lambda: led.publish_guardians(commitment(b"c"), 2, 0))
    expect_revert("NotAdmin", lambda: led.publish_guardians(commitment(b"c"), 3, 2, sender=parties.server))
    expect_revert("NotServer", lambda: led.open_round_from(1, START, sender=parties.hospitals[0]))
    expect_revert("RoundNotOpen", lambda: led.record_sum(1, SUM))
    led.open_round(1)  # the plain open still works; its trust record stays empty
    assert led.trust_record(1).start_model is None
