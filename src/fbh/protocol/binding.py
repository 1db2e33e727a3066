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
    """The public parameters that turn a round's decrypted sum into the next model.

    Attributes:
      clip: float64[P'] per-coordinate clip of the encrypted values (P' = len(trainable) or P).
      num_clients: hospitals invited to the round.
      bound: decoder bound.
      weights: hospital -> FedAvg weight.
      trainable: int64[P'] indices of the model vector that were encrypted (``--trainable``);
        ``None``: the whole vector. Only these coordinates change.
      dp_scale: integers per unit of the distributed discrete Gaussian (``--dp-epsilon``):
        its sum dequantizes as ``sum / scale`` (the noise is inside the decrypted sum);
        ``None``: the plain quantizer of ``clip`` and ``num_clients``.
      strategy: the server step (:mod:`fbh.protocol.strategy`); with an optimizer its state is a
        deterministic function of the approved rounds' decrypted sums, replayed by the caller.
      server_lr: its learning rate.
      optimized: bool[P'] coordinates the server optimizer acts on (``None``: all).
    """

    clip: np.ndarray
    num_clients: int
    bound: int
    weights: Mapping[str, float]
    trainable: np.ndarray | None = None
    dp_scale: float | None = None
    strategy: str = "fedavg"
    server_lr: float = 1.0
    optimized: np.ndarray | None = None

    def digest(self) -> bytes:
        clip = np.ascontiguousarray(self.clip, dtype="<f8").tobytes()
        weights = "".join(f"{h.lower()}={float(w).hex()};" for h, w in sorted(self.weights.items()))
        parts = [PARAMS_TAG, clip, self.num_clients, self.bound, weights]
        plain_step = self.strategy in ("fedavg", "fedprox")  # the same server step: w + delta
        if self.trainable is not None or self.dp_scale is not None or not plain_step or self.optimized is not None:
            # v1 digests (whole-model FedAvg/FedProx without DP) stay as they were
            trainable = b"" if self.trainable is None else np.ascontiguousarray(self.trainable, "<i8").tobytes()
            optimized = b"" if self.optimized is None else np.packbits(np.asarray(self.optimized, bool)).tobytes()
            scale = "" if self.dp_scale is None else float(self.dp_scale).hex()
            parts += [trainable, scale, self.strategy, float(self.server_lr).hex(), optimized]
        return hash_elems(*parts)

    def step(self, strategy=None):
        """The server step these parameters name: a fresh one, or ``strategy`` (whose state the
        caller carries from round to round) after checking it is the same kind."""
        from fbh.protocol.strategy import ServerStrategy

        if strategy is None:
            return ServerStrategy(self.strategy, self.server_lr, self.optimized)
        if strategy.name != self.strategy or strategy.server_lr != float(self.server_lr):
            msg = f"strategy {strategy.name} (lr {strategy.server_lr}) is not the round's {self.strategy}"
            raise ValueError(msg)
        return strategy

    def apply(self, start: np.ndarray, summed: np.ndarray, accepted: Sequence[str], strategy=None) -> np.ndarray:
        """The step the server takes (see ``Server.apply``): the strategy's step from the start
        model by the dequantized sum / accepted weight, on the encrypted coordinates only.

        ``strategy`` carries an optimizer's state across rounds (it is advanced); without one a
        fresh :class:`~fbh.protocol.strategy.ServerStrategy` is used (exact for FedAvg/FedProx).
        """
        if self.dp_scale is not None:  # as DistributedDiscreteGaussian.dequantize
            deq = (np.asarray(summed, np.float64) / self.dp_scale).astype(np.float32)
        else:
            deq = Quantizer(clip=self.clip, num_clients=self.num_clients, bound=self.bound).dequantize(summed)
        share = sum(self.weights[h] for h in accepted)
        delta = deq / np.float32(share)
        step = self.step(strategy)
        if self.trainable is None:
            return step.step(start, delta)
        new = np.array(start, np.float32)
        new[self.trainable] = step.step(new[self.trainable], delta)
        return new


def shares_digest(shares: Sequence[DecryptionShare]) -> bytes:
    """Digest of a round's decryption shares (ordered by guardian): what goes on chain."""
    return hash_elems(SHARES_TAG, *(s.digest() for s in sorted(shares, key=lambda s: s.index)))


def check_round(
    round_: int, *, record, trust, blobs: Mapping[str, bytes], start_model: np.ndarray,
    new_model: np.ndarray, shares: Sequence[DecryptionShare], verification_keys: Mapping[int, np.ndarray],
    threshold: int, context: bytes, params: RoundParams, threads: int | None = None, strategy=None,
) -> list[Finding]:
    """Recompute one guardian-run round from public data; returns the failing step(s), if any.

    ``strategy`` is the caller's replay of the server optimizer (advanced once the round is
    decrypted); ``None`` for FedAvg/FedProx.
    """

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
    try:
        expected = params.apply(start_model, summed, list(blobs), strategy)
    except ValueError as exc:  # the replayed strategy is not the one the parameters name
        return fail("params", str(exc))
    if expected.shape != np.shape(new_model) or expected.astype("<f4").tobytes() != np.asarray(
        new_model, dtype="<f4"
    ).tobytes():
        return fail("model", "the new model is not old model + dequantized decrypted sum / accepted weight")
    if record.model_hash != model_digest(expected):
        return fail("model", "the recorded model hash is not the hash of the recomputed model")
    return []
