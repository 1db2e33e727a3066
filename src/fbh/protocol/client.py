"""A hospital (client): turns its local model update into a signed, committed ciphertext.

Training happens in :mod:`fbh.train` (in simulation all hospitals train at
once, vmapped); this role covers what a hospital does with its update:
clip, weight and quantize it, encrypt it under the KGC's key set (packed, with
proofs bound to this hospital and round), sign the
ciphertext bytes and commit their SHA-256 on chain.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from fbh import crypto as fc
from fbh.crypto import bounded
from fbh.crypto.quantize import Quantizer
from fbh.protocol.messages import EncryptedUpdate, RoundPlan, sign_update, update_context

__all__ = ["Hospital"]


class Hospital:
    """One hospital's side of the protocol, one method per step.

    Args:
      account: the hospital's Ethereum account (``eth_account`` LocalAccount).
      num_samples: size of its training set (public FedAvg metadata).
      public_key: the packed key set (``fbh.crypto.PublicKeySet``) whose
        digest the KGC published on chain.
      ledger: chain handle acting as this hospital, or ``None``.
      constant_time: encrypt with constant-time code (default); ``False`` is
        the fast mode for simulations on a trusted host.
      threads: encryption threads (``None``: all cores).
    """

    def __init__(
        self,
        account,
        num_samples: int,
        public_key: fc.PublicKeySet,
        ledger=None,
        *,
        constant_time: bool = True,
        threads: int | None = None,
    ) -> None:
        if num_samples <= 0:
            msg = f"a hospital needs training data, got num_samples={num_samples}"
            raise ValueError(msg)
        self.account = account
        self.num_samples = int(num_samples)
        self.public_key = public_key
        self.ledger = ledger
        self.constant_time = constant_time
        self.threads = threads
        self._key_checked = False
        self._opening: tuple[int, fc.PackedCiphertexts, np.ndarray, np.ndarray] | None = None

    @property
    def address(self) -> str:
        return self.account.address

    def __reduce__(self):
        msg = "Hospital holds a signing key and cannot be pickled"
        raise TypeError(msg)

    def quantize(self, plan: RoundPlan, update: np.ndarray, seed: int) -> tuple[np.ndarray, int]:
        """Step 1: weight, clip and stochastically round the update (float[P] -> int64[P]).

        Under DP the plan's mechanism also clips in L2 and adds this hospital's noise share.
        """
        if plan.dp is not None:
            return plan.dp.privatize(update, plan.weights[self.address], seed)
        quantizer = Quantizer(clip=plan.clip, num_clients=len(plan.weights), bound=plan.bound)
        return quantizer.quantize(update, plan.weights[self.address], seed)

    def encrypt(self, plan: RoundPlan, q: np.ndarray) -> EncryptedUpdate:
        """Step 2: encrypt the integers and sign the ciphertext bytes."""
        self._check_key()
        context = update_context(self.ledger, plan.round, self.address)
        ct, nonces = bounded.encrypt_provable(
            self.public_key, q, context=context, threads=self.threads, constant_time=self.constant_time
        )
        # kept (in memory only) to answer this round's range challenges
        self._opening = (plan.round, ct, np.asarray(q, np.int64), nonces)
        blob = ct.to_bytes()
        signature = sign_update(self.account, self.ledger, plan.round, blob, self.num_samples)
        return EncryptedUpdate(plan.round, self.address, blob, signature, self.num_samples)

    def _check_key(self) -> None:
        """Encrypt only under the key set whose digest the KGC published on chain."""
        if self.ledger is None or self._key_checked:
            return
        published = self.ledger.public_key()
        if published != self.public_key.digest():
            msg = f"the key set handed to {self.address} is not the one published on chain"
            raise PermissionError(msg)
        self._key_checked = True

    def answer_range(self, round_: int, indices: np.ndarray, bound: int, context: bytes) -> tuple[np.ndarray, bytes]:
        """Step 4 (on challenge): :meth:`prove_range`, signed (``fbh.protocol.range_check.answer_digest``)."""
        from fbh.protocol.range_check import answer_digest, sign_answer

        proofs = self.prove_range(round_, indices, bound, context)
        return proofs, sign_answer(self.account, answer_digest(context, np.asarray(indices, np.int64), bound, proofs))

    def prove_range(self, round_: int, indices: np.ndarray, bound: int, context: bytes) -> np.ndarray:
        """Prove ``|q_i| <= bound`` at ``indices`` of this round's blob.

        Reveals nothing about the values but that they are in range (:mod:`fbh.crypto.bounded`).

        Raises:
          LookupError: no blob of ``round_`` is held; ValueError: a value is out of range.
        """
        if self._opening is None or self._opening[0] != round_:
            msg = f"{self.address} holds no blob of round {round_} to prove"
            raise LookupError(msg)
        _, ct, q, nonces = self._opening
        idx = np.asarray(indices, np.int64)
        values = np.where(idx < q.size, q[np.minimum(idx, q.size - 1)], 0)  # padding slots hold 0
        return bounded.prove_bounded(self.public_key, ct, idx, values, nonces, bound=bound, context=context,
                                     threads=self.threads)

    def forget(self) -> None:
        """Drop the round's nonces and values once the round is decided."""
        self._opening = None

    def save_opening(self, path: Path) -> None:
        """Keep this round's blob, values and nonces in ``path``, for this hospital alone (0600,
        written atomically): a hospital on its own Flower node answers the range challenge in
        another process than the one that encrypted.  The next round's opening replaces it."""
        if self._opening is None:
            msg = f"{self.address} holds no blob to keep"
            raise LookupError(msg)
        round_, ct, q, nonces = self._opening
        tmp = path.with_name(path.name + ".tmp")
        with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as f:
            np.savez(f, round=round_, blob=np.frombuffer(ct.to_bytes(), np.uint8), values=q, nonces=nonces)
        os.replace(tmp, path)

    def load_opening(self, path: Path) -> None:
        """The opening :meth:`save_opening` kept (none held if the file is absent)."""
        if not path.exists():
            return
        with np.load(path) as z:
            ct = fc.PackedCiphertexts.from_bytes(z["blob"].tobytes(), threads=self.threads)
            self._opening = (int(z["round"]), ct, z["values"].copy(), z["nonces"].copy())

    def commit(self, update: EncryptedUpdate) -> None:
        """Step 3: record SHA-256(blob) and the sample count on chain."""
        if self.ledger is not None:
            self.ledger.commit_update(update.round, update.digest, update.num_samples, sender=self.account)
