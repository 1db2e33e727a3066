"""A model bound to the decrypted sum: what the auditor and ``fbh audit`` recompute per round.

From public data alone (the chain's round and trust records, the accepted committed blobs, the
guardians' shares with their proofs, the ceremony's verification keys, the dequantization
parameters and the two models) :func:`check_round` redoes every step and names the first that
fails: ``start-model``, ``accepted-set``, ``commitments``, ``aggregate``, ``shares``,
``decryption``, ``params``, ``model``. No secret is needed: the shares' proofs show they come
from the guardians' keys, and combining them yields the same sum the server used.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

import numpy as np

from fbh import crypto as fc
from fbh.crypto.hash import hash_elems
from fbh.crypto.quantize import Quantizer
from fbh.crypto.threshold import DecryptionShare, combine_shares
from fbh.protocol.guardian import aggregate_digest, decryption_context, sum_blobs
from fbh.protocol.messages import digest, model_digest

__all__ = ["STEPS", "Finding", "RoundParams", "check_round", "shares_digest"]

STEPS = ("start-model", "accepted-set", "commitments", "aggregate", "shares", "decryption", "params", "model")
PARAMS_TAG = b"FBH/dequantization/v1"
SHARES_TAG = b"FBH/decryption-shares/v1"


@dataclasses.dataclass(frozen=True)
class Finding:
    """A step of a round that does not check out."""

    round: int
    step: str
    detail: str

    def __str__(self) -> str:
        return f"round {self.round}: step {self.step}: {self.detail}"


@dataclasses.dataclass(frozen=True)
class RoundParams:
    """Dequantization parameters of a round: per-coordinate clip, hospitals invited, bound, weights."""

    clip: np.ndarray
    num_clients: int
    bound: int
    weights: Mapping[str, float]

    def digest(self) -> bytes:
        clip = np.ascontiguousarray(self.clip, dtype="<f8").tobytes()
        weights = "".join(f"{h.lower()}={float(w).hex()};" for h, w in sorted(self.weights.items()))
        return hash_elems(PARAMS_TAG, clip, self.num_clients, self.bound, weights)

    def apply(self, start: np.ndarray, summed: np.ndarray, accepted: Sequence[str]) -> np.ndarray:
        """The FedAvg step the server takes (see ``Server.apply``): old + dequantized sum / weight."""
        quantizer = Quantizer(clip=self.clip, num_clients=self.num_clients, bound=self.bound)
        share = sum(self.weights[h] for h in accepted)
        return start + quantizer.dequantize(summed) / np.float32(share)


def shares_digest(shares: Sequence[DecryptionShare]) -> bytes:
    """Digest of a round's decryption shares (ordered by guardian): what goes on chain."""
    return hash_elems(SHARES_TAG, *(s.digest() for s in sorted(shares, key=lambda s: s.index)))


def check_round(
    round_: int, *, record, trust, blobs: Mapping[str, bytes], start_model: np.ndarray,
    new_model: np.ndarray, shares: Sequence[DecryptionShare], verification_keys: Mapping[int, np.ndarray],
    threshold: int, context: bytes, params: RoundParams, threads: int | None = None,
) -> list[Finding]:
    """Recompute one guardian-run round from public data; returns the failing step(s), if any."""

    def fail(step: str, detail: str) -> list[Finding]:
        return [Finding(round_, step, detail)]

    if trust.start_model is None or trust.start_model != model_digest(start_model):
        return fail("start-model", "the model the round started from is not the one recorded at openRoundFrom")
    accepted = {u.hospital: u.digest for u in record.accepted_updates}
    if set(blobs) != set(accepted):
        missing, extra = sorted(set(accepted) - set(blobs)), sorted(set(blobs) - set(accepted))
        return fail("accepted-set", f"committed and accepted but not summed: {missing}; summed but not accepted: {extra}")
    excluded_without_reason = [u.hospital for u in record.updates if not u.accepted and not u.reject_reason]
    if excluded_without_reason:
        return fail("accepted-set", f"excluded without a recorded reason: {excluded_without_reason}")
    for h, blob in blobs.items():
        if digest(blob) != accepted[h]:
            return fail("commitments", f"the blob of {h} is not its on-chain commitment")
    if not blobs:
        return fail("aggregate", "no accepted commitment: there is nothing to sum")
    aggregate = sum_blobs(blobs.items(), threads=threads)
    agg = aggregate_digest(aggregate)
    if trust.sum_digest != agg or record.aggregate_digest != agg:
        return fail("aggregate", "the sum of exactly the accepted committed blobs is not the recorded aggregate")
    if trust.shares_digest != shares_digest(shares):
        return fail("shares", "the decryption shares are not the ones recorded on chain")
    quorum = {s.index for s in shares}
    if len(shares) < threshold or len(quorum) != len(shares) or any(set(s.quorum) != quorum for s in shares):
        return fail("shares", f"{len(shares)} shares of quorum {sorted(quorum)}, threshold {threshold}")
    ctx = decryption_context(context, round_, agg)
    for s in shares:
        if s.index not in verification_keys or not s.is_valid(verification_keys[s.index], aggregate, ctx,
                                                              threads=threads):
            return fail("shares", f"the share of guardian {s.index} fails its proof")
    try:
        summed = combine_shares(aggregate, list(shares), bound=params.bound, threads=threads)
    except (ValueError, fc.PlaintextOutOfRange) as exc:
        return fail("decryption", str(exc))
    if trust.params_digest != params.digest():
        return fail("params", "the dequantization parameters are not the ones recorded on chain")
    expected = params.apply(start_model, summed, list(blobs))
    if expected.shape != np.shape(new_model) or expected.astype("<f4").tobytes() != np.asarray(
        new_model, dtype="<f4"
    ).tobytes():
        return fail("model", "the new model is not old model + dequantized decrypted sum / accepted weight")
    if record.model_hash != model_digest(expected):
        return fail("model", "the recorded model hash is not the hash of the recomputed model")
    return []
