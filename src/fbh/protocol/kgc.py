"""The key generation centre (KGC): registration, and in the paper's trust model the key.

The KGC registers every participant's address on chain under its role and
publishes the public key set's SHA-256 before round one (its points go to the
hospitals off chain, and they check them against that digest).

With guardians (the default, :mod:`fbh.protocol.guarded`) that is all it does:
:meth:`KeyGenerationCentre.registrar` publishes the guardians' joint key and
holds no secret at all.  In the paper's trust model (``--guardians 0``) it also
creates the packed ElGamal key set (k independent slot keys), holds the
private key and decrypts only blobs committed on chain for the round, so it
never decrypts an individual hospital's update on purpose — but it is the one
party that could.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from fbh import crypto as fc
from fbh.protocol.messages import digest

__all__ = ["KeyGenerationCentre"]


class KeyGenerationCentre:
    """Sets up keys and participants; decrypts recorded aggregates.

    Args:
      ledger: the chain handle (``fbh.chain``), acting as the KGC's account;
        ``None`` runs without a chain (plain simulation).
      threads: worker threads for decryption (``None``: all cores).
      k: values per packed block (slot keys in the key set).
      secret: the key set when the KGC comes back after a crash (``None``:
        a fresh one from the OS CSPRNG).
    """

    def __init__(self, ledger=None, *, threads: int | None = None, k: int = fc.DEFAULT_K,
                 secret: fc.KeySet | None = None) -> None:
        self._secret: fc.KeySet | None = fc.KeySet.generate(k=k) if secret is None else secret
        self.public_key = self._secret.public
        self.ledger = ledger
        self.threads = threads

    @classmethod
    def registrar(cls, ledger, public_key: fc.PublicKeySet) -> KeyGenerationCentre:
        """A KGC with registration duties only: it publishes ``public_key`` (the guardians'
        joint key) and never generates or holds a secret key."""
        kgc = cls.__new__(cls)
        kgc._secret, kgc.public_key, kgc.ledger, kgc.threads = None, public_key, ledger, None
        return kgc

    @property
    def holds_key(self) -> bool:
        """Whether this KGC holds the private key (the paper's trust model)."""
        return self._secret is not None

    def __reduce__(self):  # the private key must never be pickled by accident
        msg = "KeyGenerationCentre holds a private key and cannot be pickled"
        raise TypeError(msg)

    def setup(self, *, server: str, hospitals: Sequence[str], auditors: Sequence[str]) -> None:
        """Register all participants and publish the key set's digest (before round 1)."""
        if self.ledger is None:
            return
        from fbh.chain import Role

        self.ledger.register(Role.SERVER, server)
        for address in hospitals:
            self.ledger.register(Role.HOSPITAL, address)
        for address in auditors:
            self.ledger.register(Role.AUDITOR, address)
        self.ledger.publish_key_set(self.public_key.digest())

    def decrypt_sum(
        self, round_: int, blobs: Sequence[bytes], *, bound: int, min_parties: int = 2,
        constant_time: bool = True,
    ) -> np.ndarray:
        """Decrypt the sum of ``blobs``, each of which must be committed on chain this round.

        The KGC adds the ciphertexts itself rather than trusting a sum handed
        to it, and refuses to decrypt fewer than ``min_parties`` distinct
        committed updates: it can only ever reveal an aggregate.

        Raises:
          PermissionError: if a blob is not committed for ``round_``, too
            few parties are summed, or this KGC holds no key (guardians decrypt).
        """
        if self._secret is None:
            msg = f"round {round_}: the KGC holds no key in guardian mode: only t guardians together decrypt"
            raise PermissionError(msg)
        if len(set(blobs)) < min_parties:
            msg = f"round {round_}: refusing to decrypt a sum of fewer than {min_parties} distinct updates"
            raise PermissionError(msg)
        if self.ledger is not None:
            committed = {u.digest for u in self.ledger.round(round_).accepted_updates}
            for i, blob in enumerate(blobs):
                if digest(blob) not in committed:
                    msg = f"round {round_}: blob {i} (sha256 {digest(blob).hex()}) is not committed on chain"
                    raise PermissionError(msg)
        total = fc.aggregate_packed(list(blobs), threads=self.threads)
        return fc.decrypt_packed(
            self._secret, total, bound=bound, threads=self.threads, constant_time=constant_time
        )
