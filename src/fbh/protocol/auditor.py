"""The auditor: re-derives a round's aggregate from the committed blobs and validates the model.

For each round the auditor (1) checks every accepted blob against its on-chain
commitment and re-verifies its proofs for its hospital and round, (2) adds
them itself and compares the SHA-256 of that sum with the
aggregate the server recorded, (3) checks the global model's hash, and
(4) evaluates the model on its held-out validation split.  It approves on
chain only when all hashes agree and the validation accuracy has not
regressed by more than ``tolerance`` from the last approved model.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from fbh import crypto as fc
from fbh.protocol.messages import digest, model_digest, update_context

__all__ = ["Auditor", "Verdict"]


@dataclasses.dataclass(frozen=True)
class Verdict:
    """The auditor's finding for one round."""

    round: int
    approved: bool
    validation_accuracy: float
    problems: tuple[str, ...] = ()


class Auditor:
    """Validates each round's global model and records approval on chain.

    Args:
      account: the auditor's Ethereum account.
      evaluate: ``flat_params -> accuracy`` on the auditor's validation split.
      ledger: chain handle acting as the auditor, or ``None``.
      tolerance: largest accepted drop in validation accuracy from the last
        approved model.
      threads: threads for re-aggregating ciphertexts.
    """

    def __init__(
        self,
        account,
        evaluate: Callable[[np.ndarray], float],
        ledger=None,
        *,
        tolerance: float = 0.05,
        threads: int | None = None,
    ) -> None:
        self.account = account
        self.evaluate = evaluate
        self.ledger = ledger
        self.tolerance = tolerance
        self.threads = threads
        self.best_accuracy = 0.0

    @property
    def address(self) -> str:
        return self.account.address

    def check_round(
        self, round_: int, blobs: Mapping[str, bytes], model_flat: np.ndarray
    ) -> list[str]:
        """Hash checks of one round against the chain; returns the problems found."""
        if self.ledger is None:
            return []
        info = self.ledger.round(round_)
        problems = []
        committed = info.by_hospital
        for address, blob in blobs.items():
            record = committed.get(address)
            if record is None:
                problems.append(f"round {round_}: hospital {address} has no commitment on chain")
            elif not record.accepted:
                problems.append(f"round {round_}: hospital {address} was excluded on chain, yet its blob was summed")
            elif record.digest != digest(blob):
                problems.append(f"round {round_}: blob of hospital {address} does not match its commitment")
        if blobs and not problems:  # a blob that differs from its commitment already fails the round
            ordered = sorted(blobs.items())  # the server adds in address order
            contexts = [update_context(self.ledger, round_, address) for address, _ in ordered]
            try:  # re-verifies every blob's proofs for its hospital and round, then adds them
                aggregate = fc.aggregate_packed([blob for _, blob in ordered], contexts=contexts,
                                                threads=self.threads).to_bytes()
            except fc.InvalidProof as exc:
                problems.append(f"round {round_}: a committed blob's proofs do not verify: {exc}")
            except ValueError as exc:
                problems.append(f"round {round_}: the committed blobs do not add up: {exc}")
            else:
                if digest(aggregate) != info.aggregate_digest:
                    problems.append(f"round {round_}: the aggregate of the accepted blobs is not the one recorded")
        if model_digest(model_flat) != info.model_hash:
            problems.append(f"round {round_}: the global model's hash is not the one recorded")
        return problems

    def audit(self, round_: int, blobs: Mapping[str, bytes], model_flat: np.ndarray, *,
              extra_problems: Sequence[str] = ()) -> Verdict:
        """Check hashes, evaluate on the validation split, record the verdict on chain.

        ``extra_problems`` are findings of checks made elsewhere (a guardian-run round's
        recomputation, :func:`fbh.protocol.binding.check_round`): any of them rejects the round.
        """
        problems = self.check_round(round_, blobs, model_flat) + list(extra_problems)
        accuracy = float(self.evaluate(model_flat))
        if accuracy < self.best_accuracy - self.tolerance:
            problems.append(
                f"round {round_}: validation accuracy {accuracy:.4f} regressed from {self.best_accuracy:.4f}"
            )
        approved = not problems
        if approved:
            self.best_accuracy = max(self.best_accuracy, accuracy)
        if self.ledger is not None:
            self.ledger.approve(round_, approved, accuracy, sender=self.account)
        return Verdict(round_, approved, accuracy, tuple(problems))
