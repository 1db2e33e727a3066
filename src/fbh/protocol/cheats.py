"""``fbh run --attack KIND:H``: hospital H cheats with its update, for demonstrations and tests.

* ``out-of-range:H`` puts ``2^40`` on a few coordinates it picks;
* ``inflate-weight:H`` multiplies its quantized update by 10 (as if its weight were 10x);
* ``copy:H`` signs and commits the blob of the hospital before it as its own;
* ``wrong-key:H`` encrypts under a key set of its own instead of the published one;
* ``silent:H`` puts ``2^40`` on a few coordinates, as ``out-of-range``, then answers no range
  challenge at all (nor a guardian that repeats one).

Asked for range proofs, H does its best to lie (it proves the values clamped to its range, which
cannot verify for what it encrypted), or, as ``silent``, says nothing. Each run must end with H excluded on chain with a reason and
the round finished by the honest hospitals.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from fbh import crypto as fc
from fbh.crypto import bounded
from fbh.protocol.messages import EncryptedUpdate, sign_update
from fbh.protocol.range_check import answer_digest, sign_answer

__all__ = ["Cheat", "KINDS", "parse"]

KINDS = ("out-of-range", "inflate-weight", "copy", "wrong-key", "silent")
OUT_OF_RANGE_VALUE = 2**40
OUT_OF_RANGE_COORDINATES = 3
INFLATION = 10


@dataclasses.dataclass(frozen=True)
class Cheat:
    """Hospital ``party`` (an index over all hospitals) plays ``kind``."""

    kind: str
    party: int

    def values(self, index: int, q: np.ndarray, seed: int) -> np.ndarray:
        """What H encrypts instead of its quantized update ``q``."""
        if index != self.party:
            return q
        if self.kind == "inflate-weight":
            return q * INFLATION
        if self.kind in ("out-of-range", "silent"):
            q = q.copy()
            picks = np.random.default_rng([seed, 9]).choice(q.size, OUT_OF_RANGE_COORDINATES, replace=False)
            q[picks] = OUT_OF_RANGE_VALUE
            return q
        return q

    def encrypt(self, index: int, hospital, plan, q: np.ndarray, previous: list[EncryptedUpdate]) -> EncryptedUpdate:
        """H's blob: honest for everyone else."""
        if index != self.party or self.kind not in ("copy", "wrong-key"):
            return hospital.encrypt(plan, q)
        if self.kind == "copy":
            victim = previous[-1]
            signature = sign_update(hospital.account, hospital.ledger, plan.round, victim.blob, hospital.num_samples)
            return EncryptedUpdate(plan.round, hospital.address, victim.blob, signature, hospital.num_samples)
        hospital._check_key()  # the real key passes the on-chain check once; then H swaps it
        real = hospital.public_key
        hospital.public_key = fc.KeySet.generate(k=real.k).public
        try:
            return hospital.encrypt(plan, q)
        finally:
            hospital.public_key = real

    def answer(self, hospital, round_, indices, bound, context):
        """A range challenge: everyone honest; H proves clamped values when the true ones do not fit
        (``silent``: H never answers)."""
        if self.kind == "silent" and hospital is self._target:
            return None
        try:
            return hospital.answer_range(round_, indices, bound, context)
        except ValueError:
            if hospital is not self._target:
                raise
            _, ct, q, nonces = hospital._opening
            idx = np.asarray(indices, np.int64)
            lie = np.clip(np.where(idx < q.size, q[np.minimum(idx, q.size - 1)], 0), -bound, bound)
            proofs = bounded.prove_bounded(hospital.public_key, ct, idx, lie, nonces, bound=bound, context=context)
            return proofs, sign_answer(hospital.account, answer_digest(context, idx, bound, proofs))

    def bind(self, hospitals: list) -> Cheat:
        """The cheat with its target role attached (for :meth:`answer`)."""
        object.__setattr__(self, "_target", hospitals[self.party])
        return self


def parse(attack: str | None) -> Cheat | None:
    """The hospital cheat named by ``--attack``, or None."""
    if attack is None:
        return None
    kind, _, party = attack.partition(":")
    return Cheat(kind, int(party)) if kind in KINDS else None
