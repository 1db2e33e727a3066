"""The aggregation server: opens rounds, verifies updates against the chain, adds ciphertexts.

The server never sees an individual plaintext: it checks each hospital's blob
against the commitment on chain, adds the accepted ciphertexts
homomorphically, records the aggregate's SHA-256 on chain, has the KGC decrypt
that one sum, and turns it into the new global model (FedAvg) whose hash it
records too.  Rejected updates are recorded on chain with their reason and the
round goes on with the honest hospitals, FedAvg weights renormalised.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterable, Mapping

import numpy as np

from fbh import crypto as fc
from fbh.crypto.quantize import Quantizer
from fbh.chain.records import RejectReason
from fbh.protocol.messages import EncryptedUpdate, RoundPlan, digest, model_digest, signer_of

__all__ = ["REJECTION_REASONS", "Rejection", "Server"]

# Why an update can be refused, and the reason code recorded on chain.
REJECTION_REASONS = {
    "wrong-round": RejectReason.REPLAY,  # claims another round
    "unregistered": RejectReason.UNREGISTERED_SENDER,  # not a hospital invited to this round
    "bad-signature": RejectReason.BAD_SIGNATURE,  # does not recover to the sender
    "duplicate": RejectReason.DUPLICATE,  # a second submission this round: all of them are refused
    "no-commitment": RejectReason.NOT_COMMITTED,  # nothing committed on chain for this sender
    "commitment-mismatch": RejectReason.DIGEST_MISMATCH,  # bytes differ from the on-chain SHA-256
    "count-mismatch": RejectReason.DIGEST_MISMATCH,  # sample count differs from the on-chain one
    "replayed-blob": RejectReason.REPLAY,  # the same bytes were used in an earlier round
    "malformed": RejectReason.MALFORMED,  # not a ciphertext vector of the model's size
}


@dataclasses.dataclass(frozen=True)
class Rejection:
    """An update the server refused, and why."""

    hospital: str
    reason: str
    detail: str = ""

    @property
    def code(self) -> RejectReason:
        return REJECTION_REASONS[self.reason]


class Server:
    """The aggregation server, one method per step of a round.

    Args:
      account: the server's Ethereum account.
      ledger: chain handle acting as the server, or ``None``.
      clip: clipping threshold announced to hospitals: a float or float[P].
      bound: decoder bound of the decrypted sum.
      threads: threads for ciphertext aggregation (``None``: all cores).
      dp: the distributed discrete Gaussian mechanism announced to hospitals, or ``None``.
    """

    def __init__(self, account, ledger=None, *, clip, bound: int, threads: int | None = None, dp=None):
        self.account = account
        self.dp = dp
        self.ledger = ledger
        self.clip = clip
        self.bound = int(bound)
        self.threads = threads
        self._used_digests: set[bytes] = set()
        self._parsed: dict[bytes, fc.Ciphertexts] = {}

    @property
    def address(self) -> str:
        return self.account.address

    def open_round(self, round_: int, global_flat: np.ndarray, hospitals: Mapping[str, int]) -> RoundPlan:
        """Step 1: announce the round, the global model's hash and the FedAvg weights."""
        total = sum(hospitals.values())
        weights = {address: n / total for address, n in hospitals.items()}
        if self.ledger is not None:
            self.ledger.open_round(round_, sender=self.account)
        return RoundPlan(round_, model_digest(global_flat), weights, self.clip, self.bound, self.dp)

    def verify(
        self, plan: RoundPlan, updates: Iterable[EncryptedUpdate], num_params: int
    ) -> tuple[list[EncryptedUpdate], list[Rejection]]:
        """Step 2: keep the updates that match the chain; record the others there.

        Checks, in order: round, registration, the on-chain commitment (digest
        and sample count), the signature, reuse of bytes from an earlier
        round, and that the blob parses as ``num_params`` ciphertexts.  A
        hospital that sends two updates in one round has both refused.
        """
        updates = list(updates)
        committed = signers = None
        if self.ledger is not None:
            committed = self.ledger.round(plan.round).by_hospital
            signers = {p.address: p.signer for p in self.ledger.participants()}
        senders = Counter(u.hospital for u in updates)
        accepted: list[EncryptedUpdate] = []
        rejected: list[Rejection] = []
        for update in updates:
            if senders[update.hospital] > 1 and update.hospital in plan.weights:
                reason, detail = "duplicate", f"{senders[update.hospital]} updates this round"
            else:
                reason, detail = self._check(plan, update, committed, signers, num_params)
            if reason is None:
                accepted.append(update)
            else:
                rejected.append(Rejection(update.hospital, reason, detail))
        if self.ledger is not None:
            recorded: set[str] = set()
            for rejection in rejected:
                if rejection.hospital not in recorded:  # one exclusion per party and round
                    self.ledger.record_rejection(plan.round, rejection.hospital, rejection.code, sender=self.account)
                    recorded.add(rejection.hospital)
        return accepted, rejected

    def _check(self, plan, update, committed, signers, num_params) -> tuple[str | None, str]:
        if update.round != plan.round:
            return "wrong-round", f"update for round {update.round} sent in round {plan.round}"
        if update.hospital not in plan.weights:
            return "unregistered", f"{update.hospital} is not a hospital of round {plan.round}"
        if committed is not None:
            record = committed.get(update.hospital)
            if record is None:
                return "no-commitment", "no commitment on chain"
            if record.digest != update.digest:
                return "commitment-mismatch", f"sha256 {update.digest.hex()} != on-chain {record.digest.hex()}"
            if record.num_samples != update.num_samples:
                return "count-mismatch", f"{update.num_samples} != on-chain {record.num_samples}"
        try:
            signer = signer_of(update, self.ledger, plan.round)
        except ValueError as exc:
            return "bad-signature", str(exc)
        expected = update.hospital if signers is None else signers.get(update.hospital)
        if signer != expected:
            return "bad-signature", f"signed by {signer}, the registered signer is {expected}"
        if update.digest in self._used_digests:
            return "replayed-blob", "these bytes were used in an earlier round"
        try:
            parsed = fc.Ciphertexts.from_bytes(update.blob, threads=self.threads)
        except ValueError as exc:
            return "malformed", str(exc)
        if len(parsed) != num_params:
            return "malformed", f"{len(parsed)} ciphertexts, the model has {num_params} parameters"
        self._parsed[update.digest] = parsed  # validated once: aggregate() need not re-check the points
        return None, ""

    def aggregate(self, plan: RoundPlan, accepted: list[EncryptedUpdate]) -> bytes:
        """Step 3: add the accepted ciphertexts homomorphically; returns the sum's wire bytes."""
        if not accepted:
            msg = f"round {plan.round}: no acceptable update to aggregate"
            raise RuntimeError(msg)
        batches = [self._parsed.get(u.digest, u.blob) for u in accepted]
        self._parsed.clear()
        blob = fc.aggregate(batches, threads=self.threads).to_bytes()
        for update in accepted:
            self._used_digests.add(update.digest)
        return blob

    def apply(
        self,
        plan: RoundPlan,
        accepted: list[EncryptedUpdate],
        aggregate_blob: bytes,
        summed: np.ndarray,
        global_flat: np.ndarray,
    ) -> np.ndarray:
        """Step 4: dequantize the decrypted sum, take the FedAvg step, record both hashes.

        The hospitals weighted their updates by ``n_c / sum(n)`` over everyone
        invited; dividing by the accepted hospitals' share of the weight
        renormalises FedAvg to the honest ones.
        """
        quantizer = plan.dp or Quantizer(clip=plan.clip, num_clients=len(plan.weights), bound=plan.bound)
        share = sum(plan.weights[u.hospital] for u in accepted)
        new_flat = global_flat + quantizer.dequantize(summed) / np.float32(share)
        if self.ledger is not None:
            self.ledger.record_aggregate(
                plan.round, digest(aggregate_blob), model_digest(new_flat), sender=self.account
            )
        return new_flat
