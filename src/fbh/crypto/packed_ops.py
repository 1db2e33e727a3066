"""Encrypt, aggregate and decrypt packed ciphertexts (see :mod:`fbh.crypto.packed`).

By default every operation on secrets (nonces, keys, plaintexts) runs in constant time;
``constant_time=False`` selects the documented fast mode (variable-time table indexing, for
simulations on trusted hosts). Verification, aggregation and decoding are variable time:
they only touch public data.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

import numpy as np

from fbh.crypto import _ec, packed_kernels
from fbh.crypto._common import resolve_threads
from fbh.crypto.elgamal import as_plaintexts
from fbh.crypto.errors import PlaintextOutOfRange
from fbh.crypto.keyset import KeySet, PublicKeySet
from fbh.crypto.packed import AGGREGATE_TAG, PackedCiphertexts, context_digest, num_blocks
from fbh.crypto.tables import DecodingTable, check_bound

__all__ = ["aggregate_packed", "decrypt_packed", "encrypt_packed", "partial_decrypt"]


def _padded(values: np.ndarray, k: int) -> np.ndarray:
    """values followed by zeros up to a whole number of blocks."""
    out = np.zeros(num_blocks(values.shape[0], k) * k, dtype=np.int64)
    out[: values.shape[0]] = values
    return out


def encrypt_packed(
    pub: PublicKeySet,
    values: object,
    *,
    context: bytes,
    constant_time: bool = True,
    threads: int | None = None,
    _nonces: np.ndarray | None = None,
) -> PackedCiphertexts:
    """Encrypt values in blocks of ``pub.k`` with one fresh nonce per block and one proof of
    knowledge of all nonces for the blob.

    Args:
        pub: The recipients' public key set.
        values: 1-D integer array-like of N values, ``|v| <= MAX_PLAINTEXT``.
        context: Bytes naming where this blob may be used (for the protocol: chain id,
            contract, round, sender, ...); the proofs only verify under the same context.
        constant_time: If False, use the fast variable-time mode (trusted hosts only).
        threads: Worker threads (default: all cores); the result's structure does not depend
            on it (nonces are fresh either way).

    Returns:
        A blob with ``ceil(N / k)`` blocks, padded with encryptions of 0.

    Raises:
        PlaintextOutOfRange: A value beyond MAX_PLAINTEXT (names the first index).
        ValueError: values is not a 1-D integer array.
    """
    if not isinstance(pub, PublicKeySet):
        msg = f"encrypt_packed needs a PublicKeySet, got {type(pub).__name__}"
        raise TypeError(msg)
    arr = as_plaintexts(values)
    digest = context_digest(context)
    m = _padded(arr, pub.k)
    pts, proof, bad = packed_kernels.encrypt(
        pub, m, digest, arr.shape[0], _nonces, resolve_threads(threads), bool(constant_time)
    )
    if bad >= 0:
        msg = f"nonce {bad // pub.k} must be a scalar in [1, n - 1]"
        raise ValueError(msg)
    return PackedCiphertexts._trusted(pts, proof, arr.shape[0], digest)


def _as_packed(item: object, position: int, threads: int | None) -> PackedCiphertexts:
    if isinstance(item, PackedCiphertexts):
        return item
    if isinstance(item, (bytes, bytearray, memoryview)):
        return PackedCiphertexts.from_bytes(item, threads=threads)
    msg = f"aggregate input {position} must be PackedCiphertexts or bytes, got {type(item).__name__}"
    raise TypeError(msg)


def _verify_all(cts: list[PackedCiphertexts], contexts: Sequence[bytes], threads: int | None) -> None:
    """Every blob's proof under its context, in one batched call (transcripts hashed two at a
    time); a failure is re-checked alone so that its error names the blob."""
    digests = [context_digest(context) for context in contexts]
    for ct, context, digest in zip(cts, contexts, digests, strict=True):
        if ct._proof is None or not hmac.compare_digest(digest, ct.context_digest):
            ct.verify(context, threads=threads)  # raises: an aggregate, or another context
    bad = packed_kernels.verify_many(
        [ct._points for ct in cts], [ct._proof for ct in cts], cts[0].k, digests, cts[0].count,
        resolve_threads(threads),
    )
    if bad >= 0:
        cts[bad].verify(contexts[bad], threads=threads)  # raises InvalidProof for that blob
        msg = f"batched verification rejected blob {bad} but its own check passed"
        raise RuntimeError(msg)


def aggregate_packed(
    items: Sequence[PackedCiphertexts | bytes | bytearray | memoryview],
    *,
    contexts: Sequence[bytes] | None = None,
    threads: int | None = None,
) -> PackedCiphertexts:
    """Slot-wise homomorphic sum of C blobs with the same k and count.

    Byte inputs are parsed and validated first. With ``contexts`` (one per input) every
    input's proof is verified before anything is summed. The sum is an aggregate: it
    carries no proof, and its context digest is the SHA-256 of its inputs' digests.

    Raises:
        ValueError: No inputs, or inputs of different k or count (names both).
        MalformedCiphertext, InvalidPoint: A byte input that does not parse (names it).
        InvalidProof: With contexts, an input whose proofs fail.
    """
    items = list(items)
    if not items:
        msg = "aggregate_packed needs at least one blob"
        raise ValueError(msg)
    cts = [_as_packed(item, c, threads) for c, item in enumerate(items)]
    first = cts[0]
    for c, ct in enumerate(cts):
        if (ct.k, ct.count) != (first.k, first.count):
            msg = (
                f"aggregate input {c} has k = {ct.k}, count = {ct.count} but input 0 has "
                f"k = {first.k}, count = {first.count}"
            )
            raise ValueError(msg)
    if contexts is not None:
        if len(contexts) != len(cts):
            msg = f"{len(contexts)} contexts for {len(cts)} inputs"
            raise ValueError(msg)
        _verify_all(cts, contexts, threads)
    digest = hashlib.sha256(AGGREGATE_TAG + b"".join(ct.context_digest for ct in cts)).digest()
    if len(cts) == 1:
        return PackedCiphertexts._trusted(first._points, None, first.count, digest)
    out, bad, _ = packed_kernels.aggregate([ct._points for ct in cts], resolve_threads(threads))
    if bad >= 0:  # inputs are validated objects: unreachable
        msg = f"aggregate kernel rejected point {bad}"
        raise RuntimeError(msg)
    return PackedCiphertexts._trusted(out, None, first.count, digest)


def _check_keys(ks: KeySet, ct: PackedCiphertexts) -> None:
    if not isinstance(ks, KeySet):
        msg = f"decryption needs a KeySet, got {type(ks).__name__}"
        raise TypeError(msg)
    if not isinstance(ct, PackedCiphertexts):
        msg = f"expected PackedCiphertexts, got {type(ct).__name__}"
        raise TypeError(msg)
    if ks.k != ct.k:
        msg = f"key set has k = {ks.k} but the ciphertext has k = {ct.k}"
        raise ValueError(msg)


def decrypt_packed(
    ks: KeySet,
    ct: PackedCiphertexts | bytes,
    *,
    bound: int = 2**20,
    table: DecodingTable | None = None,
    threads: int | None = None,
    constant_time: bool = True,
) -> np.ndarray:
    """Decrypt every slot: ``m_j = dlog(C_j - s_j R)`` with ``|m_j| <= bound``.

    Returns:
        int64 array of shape (count,) (the padding is dropped).

    Raises:
        PlaintextOutOfRange: The first index that does not decode within ``bound`` (a value
            too large, or not encrypted under this key set); never a wrong number.
    """
    bound = check_bound(bound)
    if isinstance(ct, (bytes, bytearray, memoryview)):
        ct = PackedCiphertexts.from_bytes(ct, threads=threads)
    _check_keys(ks, ct)
    if table is None:
        table = DecodingTable.cached(bound)
    out, bad = _ec.packed_decrypt(
        ks._core, ct._points, table._core, bound, resolve_threads(threads), bool(constant_time)
    )
    if bad >= 0:
        where = f"index {bad}" if bad < ct.count else f"padding slot {bad} (beyond count {ct.count})"
        msg = (
            f"decrypted value at {where} is not within +-{bound} "
            "(too large, or not encrypted under this key set)"
        )
        raise PlaintextOutOfRange(msg, index=int(bad), value=None, bound=bound)
    return out[: ct.count]


def partial_decrypt(
    ks: KeySet, ct: PackedCiphertexts, *, threads: int | None = None, constant_time: bool = True
) -> np.ndarray:
    """``D[b, j] = s_j R_b`` for every block b and slot j: ``uint8[B, k, 64]`` points.

    This is the share a holder of the slot keys contributes to a decryption (``m_j G =
    C_j - D_j``); with Shamir-shared ``s_j`` each guardian runs it on its shares.
    """
    _check_keys(ks, ct)
    return packed_kernels.mul_r(ks, ct._points, resolve_threads(threads), bool(constant_time))
