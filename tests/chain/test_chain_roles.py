"""Every refusal of the registry, decoded to its custom error on every backend."""

from __future__ import annotations

import pytest

from fbh.chain import RejectReason, Role, commitment
from tests.chain.reverts import expect_revert

PUBLIC_KEY = bytes.fromhex("0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798")  # G

DIGEST = commitment(b"ciphertext")


def _open(p, r: int = 1) -> None:
    p.ledger.open_round(r)


def _aggregate(p, r: int = 1) -> None:
    p.ledger.record_aggregate(r, commitment(b"agg"), commitment(b"model"))


# (method, prepare, call with sender, error, roles that are wrong)
WRONG_ROLE = {
    "register": (None, lambda p, s: p.ledger.register(Role.HOSPITAL, p.outsider.address, sender=s),
                 "NotAdmin", ("server", "auditor", "hospital", "outsider")),
    "publish_key": (None, lambda p, s: p.ledger.publish_key(PUBLIC_KEY, sender=s),
                    "NotAdmin", ("server", "auditor", "hospital", "outsider")),
    "open_round": (None, lambda p, s: p.ledger.open_round(1, sender=s),
                   "NotServer", ("kgc", "auditor", "hospital", "outsider")),
    "commit_update": (_open, lambda p, s: p.ledger.commit_update(1, DIGEST, 10, sender=s),
                      "NotHospital", ("kgc", "server", "auditor", "outsider")),
    "record_rejection": (_open, lambda p, s: p.ledger.record_rejection(
        1, p.hospitals[0].address, RejectReason.DIGEST_MISMATCH, sender=s),
        "NotServer", ("kgc", "auditor", "hospital", "outsider")),
    "record_aggregate": (_open, lambda p, s: p.ledger.record_aggregate(
        1, commitment(b"agg"), commitment(b"model"), sender=s),
        "NotServer", ("kgc", "auditor", "hospital", "outsider")),
    "approve": (lambda p: (_open(p), _aggregate(p)), lambda p, s: p.ledger.approve(1, True, 0.9, sender=s),
                "NotAuditor", ("kgc", "server", "hospital", "outsider")),
}


@pytest.mark.parametrize("method", sorted(WRONG_ROLE))
def test_chain_wrong_role_is_refused(backend, parties_factory, method: str) -> None:
    parties = parties_factory(backend, publish=method != "publish_key")
    prepare, call, error, wrong = WRONG_ROLE[method]
    if prepare is not None:
        prepare(parties)
    accounts = {"kgc": parties.kgc, "server": parties.server, "auditor": parties.auditor,
                "hospital": parties.hospitals[0], "outsider": parties.outsider}
    for role in wrong:
        err = expect_revert(error, lambda role=role: call(parties, accounts[role]))
        assert err.error_args["caller"] == accounts[role].address
    # The right role still succeeds afterwards: the refusals changed nothing.
    right = {"NotAdmin": "kgc", "NotServer": "server", "NotHospital": "hospital", "NotAuditor": "auditor"}
    call(parties, accounts[right[error]])


def test_chain_register_twice_and_invalid(parties) -> None:
    led = parties.ledger
    err = expect_revert("AlreadyRegistered", lambda: led.register(Role.AUDITOR, parties.hospitals[1].address))
    assert err.error_args["account"] == parties.hospitals[1].address
    expect_revert("InvalidRole", lambda: led.register(Role.NONE, parties.outsider.address))
    expect_revert("ZeroAddress", lambda: led.register(Role.HOSPITAL, "0x" + "00" * 20))


def test_chain_key_rules(backend, parties_factory) -> None:
    p = parties_factory(backend, hospitals=1, publish=False)
    expect_revert("KeyNotPublished", lambda: p.ledger.open_round(1))
    assert p.ledger.public_key() is None
    expect_revert("InvalidPublicKey", lambda: p.ledger.publish_key(b"\x04" + PUBLIC_KEY[1:]))
    expect_revert("InvalidPublicKey", lambda: p.ledger.publish_key(PUBLIC_KEY[:-1]))
    p.ledger.publish_key(PUBLIC_KEY)
    expect_revert("KeyAlreadyPublished", lambda: p.ledger.publish_key(PUBLIC_KEY))
    assert p.ledger.public_key() == PUBLIC_KEY


def test_chain_round_order(parties) -> None:
    led = parties.ledger
    expect_revert("RoundNotNext", lambda: led.open_round(0))
    err = expect_revert("RoundNotNext", lambda: led.open_round(2**64 - 1))  # would exhaust the round numbers
    assert (err.error_args["round"], err.error_args["expected"]) == (2**64 - 1, 1)
    led.open_round(1)
    err = expect_revert("RoundAlreadyOpen", lambda: led.open_round(2))
    assert err.error_args["openRound"] == 1
    _aggregate(parties, 1)
    err = expect_revert("RoundNotNext", lambda: led.open_round(3))  # no gaps
    assert (err.error_args["round"], err.error_args["expected"]) == (3, 2)
    led.open_round(2)
    assert led.current_round() == 2 and led.last_round() == 2


def test_chain_double_submission(parties) -> None:
    led, h = parties.ledger, parties.hospitals[0]
    led.open_round(1)
    led.commit_update(1, DIGEST, 10, sender=h)
    err = expect_revert("AlreadySubmitted", lambda: led.commit_update(1, commitment(b"other"), 10, sender=h))
    assert err.error_args == {"round": 1, "hospital": h.address}
    assert [u.digest for u in led.commitments(1)] == [DIGEST]


def test_chain_commit_to_unopened_or_closed_round(parties) -> None:
    led, h = parties.ledger, parties.hospitals[0]
    expect_revert("RoundNotOpen", lambda: led.commit_update(1, DIGEST, 10, sender=h))
    led.open_round(1)
    expect_revert("RoundNotOpen", lambda: led.commit_update(2, DIGEST, 10, sender=h))
    _aggregate(parties)
    expect_revert("RoundNotOpen", lambda: led.commit_update(1, DIGEST, 10, sender=h))
    expect_revert("RoundNotOpen", lambda: led.record_rejection(1, h.address, RejectReason.REPLAY))
    expect_revert("RoundNotOpen", lambda: _aggregate(parties))


def test_chain_commit_argument_checks(parties) -> None:
    led, h = parties.ledger, parties.hospitals[0]
    led.open_round(1)
    expect_revert("ZeroDigest", lambda: led.commit_update(1, bytes(32), 10, sender=h))
    expect_revert("ZeroSamples", lambda: led.commit_update(1, DIGEST, 0, sender=h))
    expect_revert("ZeroDigest", lambda: led.record_aggregate(1, bytes(32), commitment(b"m")))
    with pytest.raises(ValueError, match="32 bytes"):
        led.commit_update(1, DIGEST[:31], 10, sender=h)


def test_chain_rejection_rules(parties) -> None:
    led, h0, h1 = parties.ledger, parties.hospitals[0], parties.hospitals[1]
    led.open_round(1)
    led.commit_update(1, DIGEST, 10, sender=h0)
    expect_revert("InvalidReason", lambda: led.record_rejection(1, h0.address, 0))
    led.record_rejection(1, h0.address, RejectReason.DIGEST_MISMATCH)
    expect_revert("AlreadyRejected", lambda: led.record_rejection(1, h0.address, RejectReason.REPLAY))
    # An excluded hospital cannot commit later in the round.
    led.record_rejection(1, h1.address, RejectReason.BAD_SIGNATURE)
    err = expect_revert("Excluded", lambda: led.commit_update(1, DIGEST, 10, sender=h1))
    assert err.error_args["hospital"] == h1.address


def test_chain_audit_rules(parties) -> None:
    led = parties.ledger
    expect_revert("RoundNotAggregated", lambda: led.approve(1, True, 0.5))
    led.open_round(1)
    expect_revert("RoundNotAggregated", lambda: led.approve(1, True, 0.5))
    _aggregate(parties)
    with pytest.raises(ValueError, match="fraction"):
        led.approve(1, True, 1.5)
    led.approve(1, False, 0.25)
    expect_revert("RoundNotAggregated", lambda: led.approve(1, True, 0.99))  # one verdict per round
    expect_revert("UnknownRound", lambda: led.round(7))
