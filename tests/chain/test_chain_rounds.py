"""A full round through the ledger, read back through the getters."""

from __future__ import annotations

from eth_utils import event_abi_to_log_topic

from fbh.chain import RejectReason, Role, RoundStatus, commitment, load_artifact


def test_chain_full_round_happy_path(parties) -> None:
    # Prepare
    led, hospitals = parties.ledger, parties.hospitals
    blobs = [bytes([i]) * (100 + i) for i in range(len(hospitals))]
    samples = [120, 80, 200]
    # Execute
    opened = led.open_round(1)
    assert led.current_round() == 1
    for h, blob, n in zip(hospitals, blobs, samples, strict=True):
        led.commit_update(1, commitment(blob), n, sender=h)
    mid = led.round(1)
    led.record_aggregate(1, commitment(b"aggregate"), commitment(b"model-1"))
    led.approve(1, True, 0.9731)
    # Assert
    assert mid.status is RoundStatus.OPEN and mid.aggregate_digest is None and mid.accuracy is None
    rec = led.round(1)
    assert rec.round == 1 and rec.status is RoundStatus.APPROVED and rec.approved
    assert [u.hospital for u in rec.updates] == [h.address for h in hospitals]
    assert [u.digest for u in rec.updates] == [commitment(b) for b in blobs]
    assert [u.num_samples for u in rec.updates] == samples
    assert all(u.accepted and u.block_number > opened.block_number for u in rec.updates)
    assert rec.total_samples == sum(samples)
    assert rec.aggregate_digest == commitment(b"aggregate")
    assert rec.model_hash == commitment(b"model-1")
    assert rec.accuracy_bps == 9731 and rec.auditor == parties.auditor.address
    assert rec.opened_block == opened.block_number < rec.aggregated_block < rec.audited_block
    assert rec.rejections == ()
    assert led.current_round() is None
    assert led.commitments(1) == rec.updates


def test_chain_rejections_adjust_the_round(parties) -> None:
    led, (h0, h1, h2), outsider = parties.ledger, parties.hospitals, parties.outsider
    led.open_round(1)
    for h, n in ((h0, 10), (h1, 20), (h2, 30)):
        led.commit_update(1, commitment(h.address.encode()), n, sender=h)
    led.record_rejection(1, h1.address, RejectReason.DIGEST_MISMATCH)
    led.record_rejection(1, outsider.address, RejectReason.UNREGISTERED_SENDER)
    led.record_rejection(1, h2.address, RejectReason.MALFORMED)
    led.record_aggregate(1, commitment(b"agg"), commitment(b"model"))
    led.approve(1, False, 0.5)

    rec = led.round(1)
    assert rec.status is RoundStatus.REJECTED and not rec.approved and rec.accuracy == 0.5
    assert [u.reject_reason for u in rec.updates] == [None, RejectReason.DIGEST_MISMATCH, RejectReason.MALFORMED]
    assert [u.hospital for u in rec.accepted_updates] == [h0.address]
    assert rec.rejected == {h1.address, h2.address, outsider.address}
    assert rec.by_hospital[h2.address].num_samples == 30
    assert rec.total_samples == 10
    assert [(r.party, r.reason) for r in rec.rejections] == [
        (h1.address, RejectReason.DIGEST_MISMATCH),
        (outsider.address, RejectReason.UNREGISTERED_SENDER),
        (h2.address, RejectReason.MALFORMED),
    ]


def test_chain_participants_history_and_key(parties, public_key) -> None:
    led = parties.ledger
    signer = parties.outsider.address
    led.register(Role.HOSPITAL, led.account("hospital-x").address, signer=signer)
    assert led.history() == []
    for r in (1, 2):
        led.open_round(r)
        led.commit_update(r, commitment(b"%d" % r), r, sender=parties.hospitals[0])
        led.record_aggregate(r, commitment(b"a%d" % r), commitment(b"m%d" % r))
    led.approve(1, True, 1.0)

    people = led.participants()
    assert [(p.address, p.role) for p in people] == [
        (parties.server.address, Role.SERVER),
        (parties.auditor.address, Role.AUDITOR),
        *((h.address, Role.HOSPITAL) for h in parties.hospitals),
        (led.account("hospital-x").address, Role.HOSPITAL),
    ]
    assert people[-1].signer == signer and people[0].signer == parties.server.address
    assert led.participant(parties.outsider.address).role is Role.NONE
    assert led.participant(parties.outsider.address).signer is None
    assert led.admin() == parties.kgc.address
    assert led.public_key() == public_key
    history = led.history()
    assert led.round_ids() == [h.round for h in history] == [1, 2]
    assert [h.status for h in history] == [RoundStatus.APPROVED, RoundStatus.AGGREGATED]
    assert history == [led.round(1), led.round(2)]


def test_chain_update_signatures(parties) -> None:
    led, h0, h1 = parties.ledger, parties.hospitals[0], parties.hospitals[1]
    digest = commitment(b"blob")
    sig = led.sign_update(h0, 2, digest, 50)
    assert led.recover_update_signer(sig, 2, digest, 50) == h0.address
    assert led.recover_update_signer(sig, 3, digest, 50) != h0.address  # replayed into round 3
    assert led.recover_update_signer(sig, 2, digest, 51) != h0.address
    assert led.recover_update_signer(led.sign_update("hospital-1", 2, digest, 50), 2, digest, 50) == h1.address


def test_chain_commit_gas_stays_under_target(parties) -> None:
    # Gas is deterministic, so the 80k target is a plain regression check.
    led = parties.ledger
    led.open_round(1)
    for h in parties.hospitals:
        led.commit_update(1, commitment(h.address.encode()), 5, sender=h)
    gas = [t.gas_used for t in led.transactions if t.function == "commitUpdate"]
    assert len(gas) == len(parties.hospitals)
    assert all(21_000 < g <= 80_000 for g in gas), gas


def test_chain_every_state_change_emits_its_event(parties) -> None:
    led, (h0, h1, _) = parties.ledger, parties.hospitals
    led.open_round(1)
    led.commit_update(1, commitment(b"a"), 1, sender=h0)
    led.commit_update(1, commitment(b"b"), 2, sender=h1)
    led.record_rejection(1, h1.address, RejectReason.REPLAY)
    led.record_aggregate(1, commitment(b"agg"), commitment(b"model"))
    led.approve(1, True, 0.5)

    abi = load_artifact()["abi"]
    names = {event_abi_to_log_topic(e): e["name"] for e in abi if e["type"] == "event"}
    deployed = next(t.block_number for t in led.transactions if t.function == "deploy")
    logs = led.w3.eth.get_logs({"address": led.address, "fromBlock": deployed, "toBlock": "latest"})
    assert [names[bytes(log["topics"][0])] for log in logs] == [
        *["ParticipantRegistered"] * 5, "PublicKeyPublished", "RoundOpened",
        "UpdateCommitted", "UpdateCommitted", "PartyRejected", "AggregateRecorded", "RoundAudited",
    ]
