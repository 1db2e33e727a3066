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
from collections.abc import Iterable, Mapping

import numpy as np

from fbh import crypto as fc
from fbh.crypto.quantize import Quantizer
from fbh.protocol.messages import EncryptedUpdate, RoundPlan, digest, model_digest, signer_of

__all__ = ["REJECTION_REASONS", "Rejection", "Server"]

# Why an update can be refused; the index is the reason code recorded on chain.
REJECTION_REASONS = (
    "wrong-round",  # claims another round: a replay
    "unregistered",  # sender is not a hospital invited to this round
    "bad-signature",  # signature does not recover to the sender
    "duplicate",  # second submission from the same hospital this round
    "no-commitment",  # nothing committed on chain for this sender
    "commitment-mismatch",  # bytes differ from the on-chain SHA-256
    "count-mismatch",  # sample count differs from the on-chain one
    "replayed-blob",  # the same bytes were already used in an earlier round
    "malformed",  # not a valid ciphertext vector of the model's size
)


@dataclasses.dataclass(frozen=True)
class Rejection:
    """An update the server refused, and why."""

    hospital: str
    reason: str
    detail: str = ""

    @property
    def code(self) -> int:
        return REJECTION_REASONS.index(self.reason)


class Server:
    """The aggregation server, one method per step of a round.

    Args:
      account: the server's Ethereum account.
      ledger: chain handle acting as the server, or ``None``.
      clip: per-coordinate clipping threshold announced to hospitals.
      bound: decoder bound of the decrypted sum.
      threads: threads for ciphertext aggregation (``None``: all cores).
    """

    def __init__(self, account, ledger=None, *, clip: float, bound: int, threads: int | None = None):
        self.account = account
        self.ledger = ledger
        self.clip = float(clip)
        self.bound = int(bound)
        self.threads = threads
        self._used_digests: set[bytes] = set()

    @property
    def address(self) -> str:
        return self.account.address

    def open_round(self, round_: int, global_flat: np.ndarray, hospitals: Mapping[str, int]) -> RoundPlan:
        """Step 1: announce the round, the global model's hash and the FedAvg weights."""
        total = sum(hospitals.values())
        weights = {address: n / total for address, n in hospitals.items()}
        if self.ledger is not None:
            self.ledger.open_round(self.account, round_)
        return RoundPlan(round_, model_digest(global_flat), weights, self.clip, self.bound)

    def verify(
        self, plan: RoundPlan, updates: Iterable[EncryptedUpdate], num_params: int
    ) -> tuple[list[EncryptedUpdate], list[Rejection]]:
        """Step 2: keep the updates that match the chain; record the others there.

        Checks, in order: round, registration, signature, duplicates, the
        on-chain commitment (digest and sample count), reuse of bytes from an
        earlier round, and that the blob parses as ``num_params`` ciphertexts.
        """
        committed = self.ledger.round(plan.round).commitments if self.ledger else None
        accepted: list[EncryptedUpdate] = []
        rejected: list[Rejection] = []
        seen: set[str] = set()
        for update in updates:
            reason, detail = self._check(plan, update, committed, seen, num_params)
            if reason is None:
                accepted.append(update)
                seen.add(update.hospital)
            else:
                rejected.append(Rejection(update.hospital, reason, detail))
        if self.ledger is not None:
            for rejection in rejected:
                self.ledger.record_rejection(self.account, plan.round, rejection.hospital, rejection.code)
        return accepted, rejected

    def _check(self, plan, update, committed, seen, num_params) -> tuple[str | None, str]:
        if update.round != plan.round:
            return "wrong-round", f"update for round {update.round} sent in round {plan.round}"
        if update.hospital not in plan.weights:
            return "unregistered", f"{update.hospital} is not a hospital of round {plan.round}"
        try:
            signer = signer_of(plan.round, update.blob, update.signature)
        except Exception as exc:  # malformed signatures raise from eth_keys
            return "bad-signature", str(exc)
        if signer != update.hospital:
            return "bad-signature", f"signed by {signer}"
        if update.hospital in seen:
            return "duplicate", "a second update this round"
        if committed is not None:
            if update.hospital not in committed:
                return "no-commitment", "no commitment on chain"
            chain_digest, chain_count = committed[update.hospital]
            if chain_digest != update.digest:
                return "commitment-mismatch", f"sha256 {update.digest.hex()} != on-chain {chain_digest.hex()}"
            if chain_count != update.num_samples:
                return "count-mismatch", f"{update.num_samples} != on-chain {chain_count}"
        if update.digest in self._used_digests:
            return "replayed-blob", "these bytes were used in an earlier round"
        try:
            n = len(fc.Ciphertexts.from_bytes(update.blob))
        except ValueError as exc:
            return "malformed", str(exc)
        if n != num_params:
            return "malformed", f"{n} ciphertexts, the model has {num_params} parameters"
        return None, ""

    def aggregate(self, plan: RoundPlan, accepted: list[EncryptedUpdate]) -> bytes:
        """Step 3: add the accepted ciphertexts homomorphically; returns the sum's wire bytes."""
        if not accepted:
            msg = f"round {plan.round}: no acceptable update to aggregate"
            raise RuntimeError(msg)
        blob = fc.aggregate([u.blob for u in accepted], threads=self.threads).to_bytes()
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
        quantizer = Quantizer(clip=plan.clip, num_clients=len(plan.weights), bound=plan.bound)
        share = sum(plan.weights[u.hospital] for u in accepted)
        new_flat = global_flat + quantizer.dequantize(summed) / np.float32(share)
        if self.ledger is not None:
            self.ledger.record_aggregate(
                self.account, plan.round, digest(aggregate_blob), model_digest(new_flat)
            )
        return new_flat
