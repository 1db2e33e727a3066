"""Dispatch of the packed kernels to the backend :mod:`fbh.crypto.backend` chooses.

Each function has the signature and results of the matching ``fbh.crypto._ec.packed_*``
call, so :mod:`fbh.crypto.packed_ops` and :mod:`fbh.crypto.packed` call it in their place.
The fixed tables of the portable and GPU encryption (G and every key, 4-bit windows: about
about 77 KB per key with 4-bit windows) are built once per public key set and kept while the key set lives.
"""

from __future__ import annotations

import os
import weakref

import numpy as np

from fbh.crypto import _ec
from fbh.crypto.backend import choose, gpu_module

__all__ = ["aggregate", "encrypt", "mul_r", "portable_tables", "verify", "verify_many"]

_tables: weakref.WeakKeyDictionary[object, object] = weakref.WeakKeyDictionary()
_device_tables: weakref.WeakKeyDictionary[object, object] = weakref.WeakKeyDictionary()


def portable_tables(pub: object, threads: int) -> _ec.PortableTables:
    """The fixed tables of ``pub`` (a PublicKeySet) for the portable kernels, built once."""
    t = _tables.get(pub)
    if t is None:
        t = _ec.PortableTables(pub._core.points(), threads)  # type: ignore[attr-defined]
        _tables[pub] = t
    return t


def _fresh_nonces(nblocks: int) -> np.ndarray:
    """Nonces ``uint8[B + 1, 32]`` (the block nonces r_b, then the proof nonce a) from the OS
    CSPRNG, each in [1, n - 1] (for the GPU route; the CPU drivers draw their own). Only a
    scalar starting with eight 0xff bytes can be >= n, and only an all-zero one is 0: those
    rare rows (~2^-64) are checked exactly and redrawn."""
    order = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
    out = np.frombuffer(bytearray(os.urandom(32 * (nblocks + 1))), dtype=np.uint8).reshape(-1, 32)
    suspect = (out[:, :8] == 0xFF).all(axis=1) | ~out.any(axis=1)
    for i in np.flatnonzero(suspect):
        while not 0 < int.from_bytes(out[i].tobytes(), "big") < order:
            out[i] = np.frombuffer(os.urandom(32), dtype=np.uint8)
    return out


def encrypt(
    pub: object,
    m: np.ndarray,
    digest: bytes,
    count: int,
    nonces: np.ndarray | None,
    threads: int,
    constant_time: bool,
) -> tuple[np.ndarray, np.ndarray, int]:
    """Packed encryption (as ``_ec.packed_encrypt``): points, the blob's proof, first bad index or -1."""
    which = choose(m.shape[0], secret=True, constant_time=constant_time)
    if which == "cpu":
        return _ec.packed_encrypt(pub._core, m, digest, count, nonces, threads, constant_time)  # type: ignore[attr-defined]
    tabs = portable_tables(pub, threads)
    if which == "portable":
        return _ec.portable_encrypt(tabs, m, digest, count, nonces, threads)
    dev = _device_tables.get(pub)
    if dev is None:
        dev = gpu_module().DeviceTables(tabs.to_array(), tabs.k)  # type: ignore[union-attr]
        _device_tables[pub] = dev
    if nonces is not None:
        return gpu_module().encrypt(dev, m, digest, count, nonces)  # type: ignore[union-attr]
    fresh = _fresh_nonces(m.shape[0] // tabs.k)
    try:
        return gpu_module().encrypt(dev, m, digest, count, fresh)  # type: ignore[union-attr]
    finally:
        fresh.fill(0)


def verify(points: np.ndarray, proof: np.ndarray, k: int, digest: bytes, count: int, threads: int) -> bool:
    """Whether the blob's proof holds (as ``_ec.packed_verify``; public work)."""
    which = choose(points.shape[0] * k, secret=False)
    if which == "cpu":
        return bool(_ec.packed_verify(points, proof, k, digest, count, threads))
    if which == "portable":
        return bool(_ec.portable_verify(points, proof, k, digest, count, threads))
    return bool(gpu_module().verify(points, proof, k, digest, count))  # type: ignore[union-attr]


def verify_many(
    points: list[np.ndarray], proofs: list[np.ndarray], k: int, digests: list[bytes], count: int, threads: int
) -> int:
    """The first of C same-shape blobs whose proof fails, or -1 (as ``_ec.packed_verify_many``)."""
    if choose(points[0].shape[0] * k, secret=False) == "cpu":
        return int(_ec.packed_verify_many(points, proofs, digests, k, count, threads))
    for c, (pts, proof, digest) in enumerate(zip(points, proofs, digests, strict=True)):
        if not verify(pts, proof, k, digest, count, threads):
            return c
    return -1


def aggregate(items: list[np.ndarray], threads: int) -> tuple[np.ndarray, int, int]:
    """Slot-wise sum of validated point arrays of one shape: (sum, bad point, bad input)."""
    which = choose(items[0].size // 64, secret=False)
    if which == "cpu":
        return _ec.aggregate_points(items, [False] * len(items), threads)
    stacked = np.stack(items)
    if which == "portable":
        return _ec.portable_aggregate(stacked, threads)
    return gpu_module().aggregate(stacked)  # type: ignore[union-attr]


def mul_r(ks: object, points: np.ndarray, threads: int, constant_time: bool) -> np.ndarray:
    """``s_j R_b`` for every block and slot (as ``_ec.packed_mul_r``)."""
    core = ks._core  # type: ignore[attr-defined]
    which = choose(points.shape[0] * core.k, secret=True, constant_time=constant_time)
    if which == "cpu":
        return _ec.packed_mul_r(core, points, threads, constant_time)
    if which == "portable":
        out, bad = _ec.portable_mul_r(core, points, threads)
    else:
        secrets = np.frombuffer(bytearray(core.to_bytes()), dtype=np.uint8).reshape(-1, 32)
        out, bad = gpu_module().mul_r(secrets, points)  # type: ignore[union-attr]
        secrets.fill(0)
    if bad >= 0:  # inputs are validated objects: unreachable
        msg = f"partial decryption kernel rejected block {bad}"
        raise RuntimeError(msg)
    return out
