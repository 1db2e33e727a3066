"""Chaum-Pedersen proofs of equal discrete logarithms (DLEQ), single and batched over blocks.

A :class:`DleqProof` shows ``log_G X = log_H Y`` (the prover knows x with X = xG, Y = xH):
commit ``A = wG, B = wH``, challenge ``c = H(tag, context, X, H, Y, A, B)``, response
``z = w + c x``; the proof is ``(c, z)`` and the verifier recomputes ``A = zG - cX``,
``B = zH - cY`` and the challenge (ElectionGuard's ``make_chaum_pedersen`` /
``ChaumPedersenProof.is_valid``, microsoft/electionguard-python:src/electionguard/chaum_pedersen.py).

A :class:`ShareProof` shows that a guardian's partial decryption ``D[b, j] = s_j R_b`` of every
block b of an aggregate used its slot keys ``s_j`` (public ``S_j = s_j G``) with one DLEQ per
slot. Coefficients ``c_b`` (128 bits) are hashed from the context, the keys, the aggregate and
the whole share, so they are fixed only after D is; the proof holds ``R* = sum_b c_b R_b``,
``D*_j = s_j R*`` and a DLEQ ``log_G S_j = log_R* D*_j`` per slot. The verifier checks the DLEQs
and, with fresh random 128-bit ``rho``, the single multi-scalar equation
``sum_{b,j} rho_j c_b D[b,j] - sum_j rho_j D*_j + rho_k (sum_b c_b R_b - R*) = O``.

Soundness: if some ``D[b,j] != s_j R_b`` write ``D[b,j] = s_j R_b + E_bj``. Then
``sum_b c_b D[b,j] = s_j R* + sum_b c_b E_bj``; a valid DLEQ forces ``D*_j = s_j R*``, so the
prover needs ``sum_b c_b E_bj = O`` for coefficients it cannot predict (they hash E): for each
hash query that is a nonzero linear form vanishing at a random point, probability
``<= 2^-128`` (the small-exponent batch test, Bellare-Garay-Rabin, EUROCRYPT 1998). The random
``rho`` fold the k + 1 equations into one with the same bound. Cost: proving is one
multi-scalar sum over the B values ``R_b`` and k constant-time multiplications; verifying is one
multi-scalar check over ``B (k + 1)`` points (Pippenger), a fraction of the share's ``B k``
full multiplications.

References:
    D. Chaum, T. P. Pedersen, "Wallet databases with observers", CRYPTO 1992; A. Fiat,
    A. Shamir, "How to prove yourself", CRYPTO 1986; M. Bellare, J. Garay, T. Rabin, "Fast batch
    verification for modular exponentiation and digital signatures", EUROCRYPT 1998.
"""

from __future__ import annotations

import hashlib
import os
import struct
from dataclasses import dataclass

import numpy as np

from fbh.crypto import _ec
from fbh.crypto import points as pt
from fbh.crypto._common import resolve_threads
from fbh.crypto.hash import GROUP_ORDER, coefficients, hash_elems, hash_to_scalar

__all__ = ["DleqProof", "ShareProof", "G_BYTES", "make_dleq", "make_share_proof"]

#: The generator G as 64 bytes.
G_BYTES = pt.mul_base((1).to_bytes(32, "big"))
DLEQ_TAG = b"FBH/dleq/v1"
SHARE_SEED_TAG = b"FBH/share-proof/seed/v1"
SHARE_SLOT_TAG = b"FBH/share-proof/slot/v1"


def _sc_add(a: bytes, b: bytes) -> bytes:
    return _ec._scalar_op("add", a, b)  # constant time (C++ scalar arithmetic)


def _sc_mul(a: bytes, b: bytes) -> bytes:
    return _ec._scalar_op("mul", a, b)


@dataclass(frozen=True)
class DleqProof:
    """Non-interactive proof of ``log_G X = log_H Y``: challenge c and response z."""

    challenge: int
    response: int

    def to_bytes(self) -> bytes:
        return pt.scalar_bytes(self.challenge) + pt.scalar_bytes(self.response)

    @classmethod
    def from_bytes(cls, data: bytes) -> DleqProof:
        if len(data) != 64:
            msg = f"a DLEQ proof is 64 bytes, got {len(data)}"
            raise ValueError(msg)
        c, z = int.from_bytes(data[:32], "big"), int.from_bytes(data[32:], "big")
        if c >= GROUP_ORDER or z >= GROUP_ORDER:
            msg = "DLEQ proof scalars must be below the group order"
            raise ValueError(msg)
        return cls(c, z)

    def is_valid(self, x: bytes, h: bytes, y: bytes, context: bytes) -> bool:
        """True if the proof shows ``log_G x = log_h y`` under ``context``."""
        try:
            minus_c = GROUP_ORDER - self.challenge
            a = pt.combine([(G_BYTES, self.response), (x, minus_c)])
            b = pt.combine([(h, self.response), (y, minus_c)])
        except ValueError:
            return False
        return self.challenge == hash_to_scalar(DLEQ_TAG, context, x, h, y, a, b)


def make_dleq(secret: bytes, h: bytes, *, context: bytes) -> tuple[bytes, bytes, DleqProof]:
    """Prove knowledge of ``secret`` with ``X = secret G`` and ``Y = secret h``.

    Returns:
        ``(X, Y, proof)``.
    """
    x, y = pt.mul_base(secret), pt.mul_secret(h, secret)
    w = _ec.SecKey.generate().to_bytes()  # OS CSPRNG
    a, b = pt.mul_base(w), pt.mul_secret(h, w)
    c = hash_to_scalar(DLEQ_TAG, context, x, h, y, a, b)
    z = _sc_add(w, _sc_mul(pt.scalar_bytes(c), secret))
    return x, y, DleqProof(c, int.from_bytes(z, "big"))


def _share_seed(context: bytes, keys: np.ndarray, blocks: np.ndarray, share: np.ndarray) -> bytes:
    return hash_elems(
        SHARE_SEED_TAG,
        context,
        keys.tobytes(),
        hashlib.sha256(blocks.tobytes()).digest(),
        hashlib.sha256(share.tobytes()).digest(),
    )


@dataclass(frozen=True)
class ShareProof:
    """Batched proof that ``share[b, j] = s_j R_b`` for all blocks b and slots j."""

    rstar: bytes
    dstar: np.ndarray  # uint8[k, 64]
    dleqs: tuple[DleqProof, ...]

    def to_bytes(self) -> bytes:
        k = len(self.dleqs)
        return struct.pack("<H", k) + self.rstar + self.dstar.tobytes() + b"".join(
            p.to_bytes() for p in self.dleqs
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> ShareProof:
        if len(data) < 2:
            msg = "share proof truncated"
            raise ValueError(msg)
        (k,) = struct.unpack_from("<H", data)
        if len(data) != 2 + 64 + k * 128:
            msg = f"share proof for k = {k} must be {2 + 64 + k * 128} bytes, got {len(data)}"
            raise ValueError(msg)
        dstar = np.frombuffer(data, dtype=np.uint8, count=64 * k, offset=66).reshape(k, 64).copy()
        off = 66 + 64 * k
        dleqs = tuple(DleqProof.from_bytes(data[off + 64 * j : off + 64 * (j + 1)]) for j in range(k))
        return cls(data[2:66], dstar, dleqs)

    def is_valid(
        self,
        keys: np.ndarray,
        blocks: np.ndarray,
        share: np.ndarray,
        context: bytes,
        *,
        threads: int | None = None,
    ) -> bool:
        """Verify against public slot keys ``keys`` (uint8[k, 64]), the aggregate's blocks
        (uint8[B, k + 1, 64]) and the share (uint8[B, k, 64])."""
        nb, k = share.shape[0], share.shape[1]
        if keys.shape != (k, 64) or blocks.shape != (nb, k + 1, 64) or len(self.dleqs) != k:
            return False
        if self.dstar.shape != (k, 64):
            return False
        seed = _share_seed(context, keys, blocks, share)
        for j in range(k):
            slot_ctx = hash_elems(SHARE_SLOT_TAG, seed, j)
            if not self.dleqs[j].is_valid(keys[j].tobytes(), self.rstar, self.dstar[j].tobytes(), slot_ctx):
                return False
        c = coefficients(seed, nb)
        rho = coefficients(os.urandom(32), k + 1)  # verifier's own randomness
        r = np.ascontiguousarray(blocks[:, 0, :])
        try:
            return bool(
                _ec.share_batch_check(r, share, c, self.rstar, self.dstar, rho, resolve_threads(threads))
            )
        except ValueError:
            return False


def make_share_proof(
    secrets: list[bytes], keys: np.ndarray, blocks: np.ndarray, share: np.ndarray, context: bytes
) -> ShareProof:
    """Prove ``share[b, j] = secrets[j] R_b`` (see :class:`ShareProof`); ``keys[j] = secrets[j] G``."""
    nb, k = share.shape[0], share.shape[1]
    seed = _share_seed(context, keys, blocks, share)
    c = coefficients(seed, nb)
    rstar = pt.lincomb(np.ascontiguousarray(blocks[:, 0, :]), c)
    dstar, dleqs = [], []
    for j in range(k):
        _, y, proof = make_dleq(secrets[j], rstar, context=hash_elems(SHARE_SLOT_TAG, seed, j))
        dstar.append(y)
        dleqs.append(proof)
    return ShareProof(rstar, np.frombuffer(b"".join(dstar), dtype=np.uint8).reshape(k, 64).copy(), tuple(dleqs))
