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
from fbh.chain.records import RejectReason
from fbh.protocol import attribution
from fbh.protocol.messages import EncryptedUpdate, RoundPlan, digest, model_digest, update_context
from fbh.protocol.strategy import ServerStrategy

__all__ = ["REJECTION_REASONS", "Rejection", "Server"]

# Why an update can be refused, and the reason code recorded on chain.
REJECTION_REASONS = {
    "wrong-round": RejectReason.REPLAY,  # validly signed for another round (reported, not recorded)
    "unregistered": RejectReason.UNREGISTERED_SENDER,  # not a hospital invited to this round
    "bad-signature": RejectReason.BAD_SIGNATURE,  # signed by no registered key: noise, never recorded
    "duplicate": RejectReason.DUPLICATE,  # two different signed updates this round: all are refused
    "not-received": RejectReason.NOT_RECEIVED,  # committed on chain, no validly signed update arrived
    "no-commitment": RejectReason.NOT_COMMITTED,  # nothing committed on chain for this sender
    "commitment-mismatch": RejectReason.DIGEST_MISMATCH,  # bytes differ from the on-chain SHA-256
    "count-mismatch": RejectReason.DIGEST_MISMATCH,  # sample count differs from the on-chain one
    "replayed-blob": RejectReason.REPLAY,  # the same bytes were used in an earlier round
    "malformed": RejectReason.MALFORMED,  # not a ciphertext vector of the model's size
    "invalid-proof": RejectReason.INVALID_PROOF,  # proofs fail for (chain, contract, round, signer)
    "out-of-range": RejectReason.OUT_OF_RANGE,  # range proof fails at a sampled or blamed coordinate
    "no-range-proof": RejectReason.NO_RANGE_PROOF,  # no answer to the range challenge
}


@dataclasses.dataclass(frozen=True)
class Rejection:
    """An update the server refused, and why.

    Attributes:
      hospital: the party it is attributed to (its signer); ``None`` for
        noise that no registered key signed.
      reason: a key of :data:`REJECTION_REASONS`.
      detail: what exactly was wrong.
      recorded: whether it excludes ``hospital`` from the round on chain
        (noise and other rounds' messages are only reported).
      evidence: the signed updates that justify the exclusion, kept in the run
        directory so anyone can re-check it (:mod:`fbh.protocol.exclusions`).
    """

    hospital: str | None
    reason: str
    detail: str = ""
    recorded: bool = True
    evidence: tuple[EncryptedUpdate, ...] = dataclasses.field(default=(), repr=False, compare=False)

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
      threads: threads for proof verification and aggregation (``None``: all cores).
      k: block size of the published key set; blobs of another k are malformed
        (``None``: not checked).
      strategy: the step applied to the decrypted mean update (default FedAvg),
        see :mod:`fbh.protocol.strategy`.
      trainable: ``int64[P']`` indices of the model vector that hospitals
        encrypt (partial retraining); ``None``: the whole vector.
      dp: the distributed discrete Gaussian mechanism announced to hospitals, or ``None``.
    """

    def __init__(self, account, ledger=None, *, clip, bound: int, threads: int | None = None,
                 k: int | None = None, strategy: ServerStrategy | None = None,
                 trainable: np.ndarray | None = None, dp=None):
        self.strategy = strategy if strategy is not None else ServerStrategy()
        self.trainable = trainable
        self.account = account
        self.dp = dp
        self.ledger = ledger
        self.clip = clip
        self.bound = int(bound)
        self.threads = threads
        self.k = k
        self._used_digests: set[bytes] = set()
        self._parsed: dict[bytes, fc.PackedCiphertexts] = {}
        self._accepted: tuple[int, set[str]] = (0, set())  # (round, hospitals accepted so far)

    @property
    def address(self) -> str:
        return self.account.address

    def open_round(self, round_: int, global_flat: np.ndarray, hospitals: Mapping[str, int], *,
                   bind_model: bool = False) -> RoundPlan:
        """Step 1: announce the round, the global model's hash and the FedAvg weights."""
        total = sum(hospitals.values())
        weights = {address: n / total for address, n in hospitals.items()}
        if self.ledger is not None and bind_model:  # guardian mode: the round records its start model
            self.ledger.open_round_from(round_, model_digest(global_flat), sender=self.account)
        elif self.ledger is not None:
            self.ledger.open_round(round_, sender=self.account)
        return RoundPlan(round_, model_digest(global_flat), weights, self.clip, self.bound, self.dp)

    def verify(
        self, plan: RoundPlan, updates: Iterable[EncryptedUpdate], num_params: int
    ) -> tuple[list[EncryptedUpdate], list[Rejection]]:
        """Step 2: keep the updates that match the chain; record the others there.

        The signature comes first (:mod:`fbh.protocol.attribution`): every
        update is attributed to the hospital whose key signed it, whatever
        it claims; noise, outsiders and other rounds' messages are reported
        but never held against a hospital.  Then, per hospital: two
        different validly signed updates are both refused as duplicates;
        a single one must match its on-chain commitment (digest and sample
        count), must not reuse bytes of an earlier round, must parse as
        ``num_params`` packed values, and its proofs must verify for this
        chain, contract, round and signer (batched over blocks).  This call
        is the round's cut-off: a hospital that committed on chain but sent
        nothing valid is excluded as not received, so every commitment ends
        up accepted or excluded.
        """
        info = self.ledger.round(plan.round) if self.ledger is not None else None
        signers = attribution.hospital_signers(self.ledger, plan)
        rejected: list[Rejection] = []
        checked = []
        for update in updates:
            a = attribution.attribute(plan, update, self.ledger, signers)
            checked.append(a)
            if a.problem is not None:
                # Only an outsider's own, correctly signed update is put on the record.
                rejected.append(Rejection(a.sender, a.problem, a.detail, recorded=a.problem == attribution.OUTSIDER))
        accepted: list[EncryptedUpdate] = []
        for sender, mine in attribution.group_by_sender(checked).items():
            if len(mine) > 1:
                rejected.append(Rejection(sender, "duplicate", f"{len(mine)} different signed updates this round",
                                          evidence=tuple(mine)))
                continue
            reason, detail = self._check(plan, mine[0], info, num_params)
            if reason is None:
                accepted.append(mine[0])
            else:
                rejected.append(Rejection(sender, reason, detail, evidence=(mine[0],)))
        if self._accepted[0] != plan.round:
            self._accepted = (plan.round, set())
        self._accepted[1].update(u.hospital for u in accepted)
        if info is not None:
            senders = self._accepted[1] | {r.hospital for r in rejected if r.recorded}
            for record in info.accepted_updates:
                if record.hospital in plan.weights and record.hospital not in senders:
                    rejected.append(Rejection(record.hospital, "not-received",
                                              "committed on chain, but no validly signed update arrived"))
            self._record(plan, rejected, info)
        return accepted, rejected

    def exclude(self, plan: RoundPlan, rejected: list[Rejection], *, after_sum: bool = False) -> None:
        """Record later exclusions (the range stage's) on chain; ``after_sum``: the blame path after
        a recorded sum failed to decode (``recordBlame`` clears that sum)."""
        if self.ledger is None or not rejected:
            return
        if not after_sum:
            self._record(plan, rejected, self.ledger.round(plan.round))
            return
        for rejection in rejected:
            self.ledger.record_blame(plan.round, rejection.hospital, rejection.code, sender=self.account)

    def _record(self, plan: RoundPlan, rejected: list[Rejection], info) -> None:
        """One exclusion per party and round, on chain."""
        done = set(info.rejected)
        for rejection in rejected:
            if rejection.recorded and rejection.hospital not in done:
                self.ledger.record_rejection(plan.round, rejection.hospital, rejection.code, sender=self.account)
                done.add(rejection.hospital)

    def _check(self, plan, update, info, num_params) -> tuple[str | None, str]:
        """The checks of one hospital's single, validly signed update for this round."""
        if info is not None:
            record = info.by_hospital.get(update.hospital)
            if record is None:
                return "no-commitment", "no commitment on chain"
            if record.digest != update.digest:
                return "commitment-mismatch", f"sha256 {update.digest.hex()} != on-chain {record.digest.hex()}"
            if record.num_samples != update.num_samples:
                return "count-mismatch", f"{update.num_samples} != on-chain {record.num_samples}"
        if update.digest in self._used_digests:
            return "replayed-blob", "these bytes were used in an earlier round"
        try:
            parsed = fc.PackedCiphertexts.from_bytes(update.blob, threads=self.threads)
        except ValueError as exc:
            return "malformed", str(exc)
        if parsed.count != num_params or (self.k is not None and parsed.k != self.k):
            return "malformed", (f"{parsed.count} values in blocks of {parsed.k}, the model has {num_params} "
                                 f"parameters and the key set k = {self.k}")
        try:  # binds the blob to its signer and this round: a copied or replayed blob fails here
            parsed.verify(update_context(self.ledger, plan.round, update.hospital), threads=self.threads)
        except fc.InvalidProof as exc:
            return "invalid-proof", str(exc)
        self._parsed[update.digest] = parsed  # validated once: aggregate() need not re-check the points
        return None, ""

    def parsed(self, update: EncryptedUpdate) -> fc.PackedCiphertexts:
        """The blob of an update :meth:`verify` accepted, parsed once (validated points)."""
        cached = self._parsed.get(update.digest)
        return cached if cached is not None else fc.PackedCiphertexts.from_bytes(update.blob, threads=self.threads)

    def aggregate(self, plan: RoundPlan, accepted: list[EncryptedUpdate]) -> bytes:
        """Step 3: add the accepted ciphertexts homomorphically; returns the sum's wire bytes."""
        if not accepted:
            msg = f"round {plan.round}: no acceptable update to aggregate"
            raise RuntimeError(msg)
        # Address order: the sum's header hashes its inputs' contexts in order, so anyone
        # re-adding the accepted blobs (auditor, fbh audit) gets the same bytes.
        batches = [self._parsed.get(u.digest, u.blob) for u in sorted(accepted, key=lambda u: u.hospital)]
        self._parsed.clear()
        blob = fc.aggregate_packed(batches, threads=self.threads).to_bytes()
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
        """Step 4: dequantize the decrypted sum, take the strategy's step, record both hashes.

        The hospitals weighted their updates by ``n_c / sum(n)`` over everyone
        invited; dividing by the accepted hospitals' share of the weight
        renormalises FedAvg to the honest ones.
        """
        quantizer = plan.dp or Quantizer(clip=plan.clip, num_clients=len(plan.weights), bound=plan.bound)
        share = sum(plan.weights[u.hospital] for u in accepted)
        delta = quantizer.dequantize(summed) / np.float32(share)  # the mean update: all the server sees
        if self.trainable is None:
            new_flat = self.strategy.step(global_flat, delta)
        else:  # only the trainable coordinates were encrypted; the rest stays
            new_flat = np.array(global_flat, np.float32)
            new_flat[self.trainable] = self.strategy.step(new_flat[self.trainable], delta)
        if self.ledger is not None:
            self.ledger.record_aggregate(
                plan.round, digest(aggregate_blob), model_digest(new_flat), sender=self.account
            )
        return new_flat
