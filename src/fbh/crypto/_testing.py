"""Test-only hooks. Never use these in production: nonces must be fresh and secret."""

from __future__ import annotations

import numpy as np

from fbh.crypto import _ec
from fbh.crypto._common import resolve_threads
from fbh.crypto.ciphertexts import Ciphertexts
from fbh.crypto.elgamal import as_plaintexts
from fbh.crypto.keys import PublicKey

__all__ = ["encrypt_packed_with_nonces", "encrypt_with_nonces"]


def encrypt_with_nonces(
    pk: PublicKey,
    m: object,
    nonces: object,
    *,
    threads: int | None = None,
    constant_time: bool = True,
    complete: bool = False,
) -> Ciphertexts:
    """Encrypt with caller-chosen nonces: ``C1 = r G``, ``C2 = m G + r PK``.

    Args:
        pk: Public key.
        m: K plaintexts.
        nonces: ``uint8[K, 32]`` big-endian scalars (or a sequence of 32-byte strings), each
            in ``[1, n - 1]``.
        threads: Worker threads.
        constant_time: Kernel mode, as in :func:`fbh.crypto.encrypt`.
        complete: Force the one-at-a-time complete-formula path (reference for tests).

    Raises:
        ValueError: Bad nonce shape, or a nonce that is 0 or >= n (names the index).
    """
    if not isinstance(pk, PublicKey):
        msg = f"encrypt_with_nonces needs a PublicKey, got {type(pk).__name__}"
        raise TypeError(msg)
    arr = as_plaintexts(m)
    if not isinstance(nonces, np.ndarray):
        rows = [np.frombuffer(bytes(r), dtype=np.uint8) for r in nonces]
        nonces = np.array(rows, dtype=np.uint8).reshape(-1, 32)
    nonces = np.ascontiguousarray(nonces, dtype=np.uint8)
    if nonces.shape != (arr.shape[0], 32):
        msg = f"nonces must have shape ({arr.shape[0]}, 32), got {nonces.shape}"
        raise ValueError(msg)
    rows, bad = _ec.encrypt(
        pk._core, arr, nonces, resolve_threads(threads), bool(constant_time), bool(complete)
    )
    if bad >= 0:
        msg = f"nonce at index {bad} must be a scalar in [1, n - 1]"
        raise ValueError(msg)
    return Ciphertexts(rows)


def encrypt_packed_with_nonces(
    pub: object,
    values: object,
    nonces: object,
    *,
    context: bytes,
    threads: int | None = None,
    constant_time: bool = True,
) -> object:
    """Packed encryption with caller-chosen nonces ``uint8[B + 1, 32]``: rows 0..B-1 are the
    block nonces r_b, row B the proof nonce a; big-endian, each in ``[1, n - 1]``. For
    known-answer tests only."""
    from fbh.crypto.packed_ops import encrypt_packed  # noqa: PLC0415

    arr = np.ascontiguousarray(nonces, dtype=np.uint8)
    return encrypt_packed(
        pub, values, context=context, threads=threads, constant_time=constant_time, _nonces=arr
    )
