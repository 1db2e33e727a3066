"""Batched exponential ElGamal on secp256k1: encrypt, aggregate, decrypt.

``Enc(m) = (r G, m G + r PK)`` with a fresh uniform nonce r per value; adding ciphertexts
adds plaintexts, and decryption recovers ``m G = C2 - sk C1`` and decodes m with a
baby-step giant-step table, so plaintexts must be small (``|m| <= bound``).

By default every operation on secrets (nonces, the private key, plaintexts) runs in constant
time. ``constant_time=False`` selects a documented fast mode for simulations and trusted
single-tenant hosts: wider tables indexed directly by secret digits (cache-timing leaks).
Aggregation and decoding of the public aggregate are always variable time.

References:
    T. ElGamal, "A public key cryptosystem and a signature scheme based on discrete
    logarithms", IEEE Trans. Inf. Theory, 1985 (exponential variant: m encoded as m G).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from fbh.crypto import _ec
from fbh.crypto._common import resolve_threads
from fbh.crypto.ciphertexts import ROW_BYTES, Ciphertexts, parse_wire
from fbh.crypto.errors import InvalidPoint, PlaintextOutOfRange
from fbh.crypto.keys import PrivateKey, PublicKey
from fbh.crypto.tables import DecodingTable, check_bound

__all__ = ["MAX_PLAINTEXT", "aggregate", "as_plaintexts", "decrypt", "encrypt"]

#: Largest |m| that encrypt accepts: 2^47 - 1 (the kernel encodes m G as an odd multiple of
#: G/2 with a 2^48 offset). Sums of many ciphertexts may exceed it; decrypt takes any bound.
MAX_PLAINTEXT: int = int(_ec.MAX_PLAINTEXT)


def as_plaintexts(m: object) -> np.ndarray:
    """Convert a 1-D integer array-like to a C-contiguous int64 array of shape (K,).

    Raises:
        ValueError: Not 1-D, not integers, or a value outside int64.
        PlaintextOutOfRange: ``|m[k]| > MAX_PLAINTEXT`` (first such k).
    """
    arr = np.asarray(m)
    if arr.ndim != 1:
        msg = f"plaintexts must be a 1-D array, got shape {arr.shape}"
        raise ValueError(msg)
    if arr.size == 0:
        return np.zeros(0, dtype=np.int64)
    if arr.dtype == object:
        try:
            arr = np.array([int(v) for v in arr], dtype=np.int64)
        except OverflowError:
            arr = np.array([int(v) for v in arr], dtype=object)
    if arr.dtype.kind not in "iuO" or arr.dtype == np.bool_:
        msg = f"plaintexts must be integers, got dtype {arr.dtype}"
        raise ValueError(msg)
    over = (arr > MAX_PLAINTEXT) | (arr < -MAX_PLAINTEXT)
    if over.any():
        k = int(np.argmax(over))
        msg = f"plaintext at index {k} is {int(arr[k])}, outside +-MAX_PLAINTEXT (+-{MAX_PLAINTEXT})"
        raise PlaintextOutOfRange(msg, index=k, value=int(arr[k]), bound=MAX_PLAINTEXT)
    return np.ascontiguousarray(arr, dtype=np.int64)


def encrypt(
    pk: PublicKey, m: object, *, threads: int | None = None, constant_time: bool = True
) -> Ciphertexts:
    """Encrypt each value of m under pk with a fresh nonce from the OS CSPRNG.

    Args:
        pk: The recipient's public key (its tables are built on first use and cached).
        m: 1-D integer array-like of K plaintexts, ``|m[k]| <= MAX_PLAINTEXT``.
        threads: Worker threads (default: all cores); results do not depend on it.
        constant_time: If False, use the fast variable-time mode (trusted hosts only).

    Returns:
        K ciphertexts.

    Raises:
        PlaintextOutOfRange: A value beyond MAX_PLAINTEXT (names the first index).
        ValueError: m is not a 1-D integer array.
    """
    if not isinstance(pk, PublicKey):
        msg = f"encrypt needs a PublicKey, got {type(pk).__name__}"
        raise TypeError(msg)
    arr = as_plaintexts(m)
    rows, bad = _ec.encrypt(pk._core, arr, None, resolve_threads(threads), bool(constant_time))
    if bad >= 0:  # unreachable after as_plaintexts; kept as a guard on the C++ side
        msg = f"plaintext at index {bad} rejected by the encryption kernel"
        raise PlaintextOutOfRange(msg, index=int(bad), value=int(arr[bad]), bound=MAX_PLAINTEXT)
    return Ciphertexts(rows)


def _rows_of(item: object, position: int) -> tuple[np.ndarray, bool]:
    """Rows of one aggregate input and whether they still need point validation."""
    if isinstance(item, Ciphertexts):
        return item._rows, False
    if isinstance(item, (bytes, bytearray, memoryview)):
        return parse_wire(item), True
    msg = f"aggregate input {position} must be Ciphertexts or bytes, got {type(item).__name__}"
    raise TypeError(msg)


def aggregate(
    items: Sequence[Ciphertexts | bytes | bytearray | memoryview], *, threads: int | None = None
) -> Ciphertexts:
    """Homomorphic sum of several batches of equal length (e.g. one per client).

    Wire-format inputs are parsed and every point validated in the same pass. Runs in
    variable time: ciphertexts are public.

    Args:
        items: C batches of K ciphertexts each, as :class:`Ciphertexts` or wire bytes.
        threads: Worker threads (default: all cores).

    Returns:
        K ciphertexts of the element-wise sums.

    Raises:
        ValueError: No inputs, or inputs of different lengths (names both).
        MalformedCiphertext: A blob with a bad header or length.
        InvalidPoint: A point off the curve or with a coordinate >= p (names input and index).
    """
    items = list(items)
    if not items:
        msg = "aggregate needs at least one batch of ciphertexts"
        raise ValueError(msg)
    parsed = [_rows_of(item, c) for c, item in enumerate(items)]
    k0 = parsed[0][0].shape[0]
    for c, (rows, _) in enumerate(parsed):
        if rows.shape[0] != k0:
            msg = f"aggregate input {c} has {rows.shape[0]} ciphertexts but input 0 has {k0}"
            raise ValueError(msg)
    rows = [r for r, _ in parsed]
    points = [r.reshape(-1, 2, 64) for r in rows]  # a row is C1 || C2
    out, bad, bad_c = _ec.aggregate_points(points, [v for _, v in parsed], resolve_threads(threads))
    out = out.reshape(-1, ROW_BYTES)
    bad = bad // 2 if bad >= 0 else bad
    if bad >= 0:
        msg = (
            f"aggregate input {bad_c}, ciphertext {bad}: point not on secp256k1 "
            "(coordinate >= p or curve equation fails)"
        )
        raise InvalidPoint(msg)
    return Ciphertexts(out)


def decrypt(
    sk: PrivateKey,
    ct: Ciphertexts | bytes,
    *,
    bound: int = 2**20,
    table: DecodingTable | None = None,
    threads: int | None = None,
    constant_time: bool = True,
) -> np.ndarray:
    """Decrypt and decode a batch: ``m = dlog(C2 - sk C1)`` with ``|m| <= bound``.

    Args:
        sk: The private key.
        ct: K ciphertexts (or their wire bytes, validated first).
        bound: Every plaintext must satisfy ``|m| <= bound``.
        table: A decoding table to use; default: ``DecodingTable.cached(bound)``. Any table
            works for any bound (giant steps cover bounds above its baby steps).
        threads: Worker threads (default: all cores); results do not depend on it.
        constant_time: If False, ``sk C1`` uses the fast variable-time mode.

    Returns:
        int64 array of shape (K,).

    Raises:
        PlaintextOutOfRange: The first index whose value is beyond ``bound`` (or whose point
            is not ``m G`` for any such m, e.g. encrypted under another key).
    """
    if not isinstance(sk, PrivateKey):
        msg = f"decrypt needs a PrivateKey, got {type(sk).__name__}"
        raise TypeError(msg)
    bound = check_bound(bound)
    if not isinstance(ct, Ciphertexts):
        ct = Ciphertexts.from_bytes(ct, threads=threads)
    if table is None:
        table = DecodingTable.cached(bound)
    out, bad = _ec.decrypt(
        sk._core, ct._rows, table._core, bound, resolve_threads(threads), bool(constant_time)
    )
    if bad >= 0:
        msg = (
            f"decrypted value at index {bad} is not within +-{bound} "
            "(too large, or not encrypted under this key)"
        )
        raise PlaintextOutOfRange(msg, index=int(bad), value=None, bound=bound)
    return out
