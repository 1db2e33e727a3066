"""Guardian-run rounds on a real chain (embedded and anvil): decrypt once, the model bound to the
sum, and every model-binding attack of issue 8 caught by the recomputation from public data."""

from __future__ import annotations

import numpy as np
import pytest

import fbh.crypto as fc
from fbh.chain import Ledger, RejectReason, RevertError, Role
from fbh.crypto.quantize import Quantizer
from fbh.crypto.threshold import DecryptionShare
from fbh.protocol.binding import RoundParams, check_round, shares_digest
from fbh.protocol.ceremony import ThresholdNotMet
from fbh.protocol.council import GuardianCouncil
from fbh.protocol.guardian import Guardian, aggregate_digest, sum_blobs
from fbh.protocol.messages import digest, model_digest

K, T, P = 4, 2, 10
CLIP, BOUND = 0.5, 2**16
PUBLIC_KEY = bytes.fromhex("02" + "79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798")


class Federation:
    def __init__(self, backend) -> None:
        self.ledger = led = Ledger(backend)
        kgc, self.server, self.auditor = (led.account(n) for n in ("kgc", "server", "auditor"))
        self.hospitals = [led.account(f"hospital-{i}") for i in range(3)]
        led.deploy(kgc)
        led.register(Role.SERVER, self.server.address)
        led.register(Role.AUDITOR, self.auditor.address)
        for h in self.hospitals:
            led.register(Role.HOSPITAL, h.address)
        led.publish_key(PUBLIC_KEY)
        self.context = b"%d/%s" % (backend.chain_id, led.address.encode())
        # Guardians: the auditor and two hospitals (never the server).
        guardians = [Guardian(i + 1, T, K, ledger=led, context=self.context, name=n)
                     for i, n in enumerate(["auditor", "hospital-0", "hospital-1"])]
        self.council = GuardianCouncil(guardians, T, context=self.context, ledger=led)
        names = [h.address for h in self.hospitals]
        self.params = RoundParams(np.full(P, CLIP), 3, BOUND, {a: 1 / 3 for a in names})
        self.quant = Quantizer(clip=self.params.clip, num_clients=3, bound=BOUND)

    def commit_all(self, r: int, start: np.ndarray, hospitals=None) -> dict[str, bytes]:
        self.ledger.open_round_from(r, model_digest(start), sender=self.server)
        blobs = {}
        for i, h in enumerate(hospitals or self.hospitals):
            assert self.ledger.trust_record(r).start_model == model_digest(start)  # hospitals check the model
            q, _ = self.quant.quantize(np.linspace(-0.2, 0.3, P) * (i + 1), 1 / 3, seed=r * 10 + i)
            blob = fc.encrypt_packed(self.council.public, q, context=b"%d/%s" % (r, h.address.encode())).to_bytes()
            self.ledger.commit_update(r, digest(blob), 10, sender=h)
            blobs[h.address] = blob
        return blobs

    def check(self, r, blobs, start, new, shares):
        return check_round(
            r, record=self.ledger.round(r), trust=self.ledger.trust_record(r), blobs=blobs, start_model=start,
            new_model=new, shares=shares, verification_keys=self.council.ceremony.verification_keys,
            threshold=T, context=self.context, params=self.params,
        )


@pytest.fixture
def fed(backend):
    return Federation(backend)


def test_honest_guardian_round_recomputes_from_public_data(fed):
    start = np.zeros(P, dtype=np.float32)
    blobs = fed.commit_all(1, start)
    out = fed.council.close_round(1, list(blobs.items()), params=fed.params, start_model=start, sender=fed.server)
    # The shares travel through bytes (the run directory) and still verify.
    shares = [DecryptionShare.from_bytes(s.to_bytes()) for s in out.decryption.shares]
    assert fed.check(1, blobs, start, out.new_model, shares) == []
    fed.ledger.approve(1, True, 0.9, sender=fed.auditor)
    assert fed.ledger.round(1).approved


def test_wrong_model_caught(fed):
    start = np.zeros(P, dtype=np.float32)
    blobs = fed.commit_all(1, start)
    led = fed.ledger
    agg = sum_blobs(blobs.items())
    led.record_sum(1, aggregate_digest(agg), sender=fed.server)
    result = fed.council.mediator().decrypt(1, list(blobs.items()), bound=BOUND)
    wrong = fed.params.apply(start, result.values, list(blobs)) + np.float32(0.01)  # not old + sum
    led.record_decryption(1, shares_digest(result.shares), fed.params.digest(), sender=fed.server)
    led.record_aggregate(1, aggregate_digest(agg), model_digest(wrong), sender=fed.server)
    findings = fed.check(1, blobs, start, wrong, result.shares)
    assert [f.step for f in findings] == ["model"] and "round 1: step model" in str(findings[0])
    led.approve(1, False, 0.1, sender=fed.auditor)
    assert not led.round(1).approved


def test_wrong_start_model_caught(fed):
    start = np.zeros(P, dtype=np.float32)
    blobs = fed.commit_all(1, start)
    out = fed.council.close_round(1, list(blobs.items()), params=fed.params, start_model=start, sender=fed.server)
    other = start + np.float32(1)
    assert [f.step for f in fed.check(1, blobs, other, out.new_model, out.decryption.shares)] == ["start-model"]


def test_committed_hospital_left_out_cannot_be_decrypted_or_hidden(fed):
    start = np.zeros(P, dtype=np.float32)
    blobs = fed.commit_all(1, start)
    subset = [(h, b) for h, b in blobs.items()][1:]  # hospital 0 committed, accepted, left out
    with pytest.raises(ThresholdNotMet) as info:
        fed.council.close_round(1, subset, params=fed.params, start_model=start, sender=fed.server)
    assert {r.reason for r in info.value.result.refused} == {"not-the-accepted-set"}
    findings = fed.check(1, dict(subset), start, start, [])
    assert findings[0].step == "accepted-set"


def test_invented_aggregate_and_frozen_exclusions(fed):
    start = np.zeros(P, dtype=np.float32)
    blobs = fed.commit_all(1, start)
    fed.ledger.record_sum(1, digest(b"invented"), sender=fed.server)
    with pytest.raises(RevertError, match="SumAlreadyRecorded"):  # cannot then exclude someone
        fed.ledger.record_rejection(1, fed.hospitals[0].address, RejectReason.MALFORMED, sender=fed.server)
    with pytest.raises(ThresholdNotMet) as info:
        fed.council.mediator().decrypt(1, list(blobs.items()), bound=BOUND)
    assert {r.reason for r in info.value.result.refused} == {"aggregate-mismatch"}
    assert fed.check(1, blobs, start, start, [])[0].step == "aggregate"


def test_guardian_dropout_on_chain(fed):
    start = np.zeros(P, dtype=np.float32)
    blobs = fed.commit_all(1, start)
    available = {1: fed.council.guardians[1], 2: None, 3: fed.council.guardians[3]}
    out = fed.council.close_round(1, list(blobs.items()), params=fed.params, start_model=start,
                                  sender=fed.server, available=available)
    assert out.decryption.absent == [2] and fed.check(1, blobs, start, out.new_model, out.decryption.shares) == []
