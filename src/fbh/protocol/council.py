"""The guardians as one service of a run: key ceremony at set-up, one decryption per round.

:class:`GuardianCouncil` wires :class:`~fbh.protocol.guardian.Guardian` objects (each owning its
own secrets) to the two mediators, publishes the ceremony on chain, and closes a round in the
order the contract enforces: ``recordSum`` (the aggregate of exactly the accepted updates;
commitments and exclusions freeze), the guardians' decryption, ``recordDecryption`` (shares and
dequantization digests), then ``recordAggregate`` with the new model's hash. It holds no secret.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from fbh import crypto as fc
from fbh.protocol.binding import RoundParams, shares_digest
from fbh.protocol.ceremony import CeremonyResult, DecryptionMediator, DecryptionResult, KeyCeremonyMediator
from fbh.protocol.guardian import Guardian, aggregate_digest, sum_blobs
from fbh.protocol.faults import checkpoint
from fbh.protocol.messages import model_digest

__all__ = ["GuardianCouncil", "RoundOutcome"]


@dataclasses.dataclass
class RoundOutcome:
    """What closing a round produced: the new model and the decryption record."""

    new_model: np.ndarray
    decryption: DecryptionResult
    aggregate_digest: bytes


class GuardianCouncil:
    """n guardians with threshold t, their ceremony's public outcome, and the decryption mediator.

    Args:
      guardians: the guardian objects (indices 1..n).
      threshold: t.
      context: the deployment (chain id, contract) all proofs are bound to.
      ledger: the chain handle (the admin publishes the ceremony; the server records rounds).
    """

    def __init__(self, guardians: Sequence[Guardian], threshold: int, *, context: bytes, ledger=None,
                 threads: int | None = None) -> None:
        self.guardians = {g.index: g for g in guardians}
        self.threshold, self.context, self.ledger, self.threads = threshold, context, ledger, threads
        self.ceremony = KeyCeremonyMediator(list(guardians), threshold=threshold, context=context).run()
        if ledger is not None:
            ledger.publish_guardians(self.ceremony.record_digest, len(guardians), threshold)

    @classmethod
    def restored(cls, guardians: Sequence[Guardian], threshold: int, ceremony: CeremonyResult, *, context: bytes,
                 ledger=None, threads: int | None = None) -> GuardianCouncil:
        """The council of a resumed run: the guardians back with their saved shares, the ceremony's
        public outcome as published (nothing is dealt or published again)."""
        council = cls.__new__(cls)
        council.guardians = {g.index: g for g in guardians}
        council.threshold, council.context, council.ledger, council.threads = threshold, context, ledger, threads
        council.ceremony = ceremony
        return council

    @property
    def public(self) -> fc.PublicKeySet:
        """The joint key set hospitals encrypt to."""
        return self.ceremony.public

    def mediator(self, available: Mapping[int, object | None] | None = None) -> DecryptionMediator:
        members = dict(self.guardians) if available is None else dict(available)
        return DecryptionMediator(members, self.ceremony.verification_keys, threshold=self.threshold,
                                  context=self.context, threads=self.threads)

    def close_round(self, round_: int, blobs: Sequence[tuple[str, bytes]], *, params: RoundParams,
                    start_model: np.ndarray, sender=None, constant_time: bool = True,
                    available: Mapping[int, object | None] | None = None, blamed: tuple = (),
                    strategy=None) -> RoundOutcome:
        """Record the sum, have the guardians decrypt it once, record shares and the new model.

        ``blamed``: the blame path's evidence for a re-aggregation; ``strategy``: the server
        optimizer whose state carries across rounds (``None``: FedAvg).
        """
        aggregate = sum_blobs(blobs, threads=self.threads)
        agg = aggregate_digest(aggregate)
        if self.ledger is not None and self.ledger.trust_record(round_).sum_digest != agg:
            self.ledger.record_sum(round_, agg, sender=sender)
        result = self.mediator(available).decrypt(round_, blobs, bound=params.bound, constant_time=constant_time,
                                                  blamed=blamed)
        new_model = params.apply(start_model, result.values, [h for h, _ in blobs], strategy)
        if self.ledger is not None:
            self.ledger.record_decryption(round_, shares_digest(result.shares), params.digest(), sender=sender)
            checkpoint("decrypt", round_, self.ledger)
            self.ledger.record_aggregate(round_, agg, model_digest(new_model), sender=sender)
        return RoundOutcome(new_model, result, agg)

    @staticmethod
    def save_shares(directory: Path, result: DecryptionResult) -> list[Path]:
        """Write each share (with its proof) as ``guardian_<i>.share`` for later audit."""
        directory.mkdir(parents=True, exist_ok=True)
        out = []
        for s in result.shares:
            path = directory / f"guardian_{s.index}.share"
            path.write_bytes(s.to_bytes())
            out.append(path)
        return out
