"""Threshold decryption of packed aggregates: decryption shares with proofs, and their combination.

Guardian i with key shares ``x_ij`` (:mod:`fbh.crypto.vss`) and a quorum Q of t guardians returns
``D_i[b, j] = (lambda_i x_ij) R_b`` for every block b and slot j of the aggregate, where
``lambda_i`` is its Lagrange coefficient for Q, with a :class:`~fbh.crypto.chaum_pedersen.ShareProof`
against the public ``lambda_i S_ij``. Pre-scaling by ``lambda_i`` keeps combination to point
additions: ``m_j G = C_j - sum_{i in Q} D_i[., j]``, then baby-step giant-step decoding.
Cost: each guardian makes one shared-table pass over the aggregate (the multiplication part of
a single-key decryption); the combiner adds t shares and decodes once.

References:
    Y. Desmedt, Y. Frankel, "Threshold cryptosystems", CRYPTO 1989; T. P. Pedersen, "A threshold
    cryptosystem without a trusted party", EUROCRYPT 1991; ElectionGuard specification 2.0,
    section 3.6 (decryption shares with Chaum-Pedersen proofs).
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass

import numpy as np

from fbh.crypto import _ec
from fbh.crypto._common import resolve_threads
from fbh.crypto.chaum_pedersen import ShareProof, make_share_proof
from fbh.crypto.errors import PlaintextOutOfRange
from fbh.crypto.hash import hash_elems
from fbh.crypto.keyset import KeySet
from fbh.crypto.packed import PackedCiphertexts
from fbh.crypto.packed_ops import partial_decrypt
from fbh.crypto.tables import DecodingTable, check_bound
from fbh.crypto.vss import lagrange_coefficient

__all__ = ["DecryptionShare", "combine_shares", "make_decryption_share", "scaled_keys", "share_context"]

SHARE_TAG = b"FBH/decryption-share/v1"
SHARE_MAGIC = b"FBHD"
_SHARE_HEADER = struct.Struct("<4sBBHIH")  # magic, version 1, quorum size, index, blocks, k


def share_context(context: bytes, index: int, quorum: list[int]) -> bytes:
    """The proof context of guardian ``index``'s share for ``quorum`` (binds both)."""
    return hash_elems(SHARE_TAG, context, index, b"".join(q.to_bytes(4, "big") for q in quorum))


def scaled_keys(verification_keys: np.ndarray, index: int, quorum: list[int]) -> np.ndarray:
    """``lambda_i S_ij`` for every slot: the public keys a pre-scaled share is proven against."""
    lam = lagrange_coefficient(index, quorum)
    return _ec.scale_points(np.ascontiguousarray(verification_keys), lam.to_bytes(32, "big"), 1)


@dataclass(frozen=True)
class DecryptionShare:
    """Guardian ``index``'s pre-scaled share ``D[b, j]`` for ``quorum`` and its proof."""

    index: int
    quorum: tuple[int, ...]
    points: np.ndarray  # uint8[B, k, 64]
    proof: ShareProof

    def digest(self) -> bytes:
        """SHA-256 over index, quorum, share and proof: what goes on chain."""
        return hash_elems(
            SHARE_TAG, self.index, bytes(self.quorum), hashlib.sha256(self.points.tobytes()).digest(),
            self.proof.to_bytes(),
        )

    def to_bytes(self) -> bytes:
        """``b"FBHD"`` header, the quorum (u16 each), the share's points, then the proof."""
        nb, k = self.points.shape[0], self.points.shape[1]
        head = _SHARE_HEADER.pack(SHARE_MAGIC, 1, len(self.quorum), self.index, nb, k)
        return head + struct.pack(f"<{len(self.quorum)}H", *self.quorum) + self.points.tobytes() + self.proof.to_bytes()

    @classmethod
    def from_bytes(cls, data: bytes) -> DecryptionShare:
        """Parse :meth:`to_bytes` output (points are checked when the proof is verified).

        Raises:
            ValueError: Bad magic, version or length.
        """
        if len(data) < _SHARE_HEADER.size:
            msg = "decryption share truncated"
            raise ValueError(msg)
        magic, version, t, index, nb, k = _SHARE_HEADER.unpack_from(data)
        if magic != SHARE_MAGIC or version != 1:
            msg = f"not an fbh decryption share (magic {magic!r}, version {version})"
            raise ValueError(msg)
        off = _SHARE_HEADER.size
        quorum = struct.unpack_from(f"<{t}H", data, off)
        off += 2 * t
        end = off + nb * k * 64
        if len(data) < end:
            msg = f"decryption share truncated: {len(data)} bytes for {nb} blocks of k = {k}"
            raise ValueError(msg)
        pts = np.frombuffer(data, dtype=np.uint8, count=nb * k * 64, offset=off).reshape(nb, k, 64).copy()
        return cls(index, tuple(quorum), pts, ShareProof.from_bytes(data[end:]))

    def is_valid(
        self, verification_keys: np.ndarray, aggregate: PackedCiphertexts, context: bytes,
        *, threads: int | None = None,
    ) -> bool:
        """Check the proof against guardian ``index``'s public keys ``S_ij`` (uint8[k, 64])."""
        quorum = list(self.quorum)
        if self.index not in quorum or self.points.shape != (aggregate.num_blocks, aggregate.k, 64):
            return False
        keys = scaled_keys(verification_keys, self.index, quorum)
        return self.proof.is_valid(
            keys, aggregate._points, self.points, share_context(context, self.index, quorum),
            threads=threads,
        )


def make_decryption_share(
    index: int, key_shares: bytes, quorum: list[int], aggregate: PackedCiphertexts, context: bytes,
    *, threads: int | None = None, constant_time: bool = True,
) -> DecryptionShare:
    """Guardian ``index``'s share of ``aggregate`` for ``quorum`` from its k secret key shares."""
    lam = lagrange_coefficient(index, quorum).to_bytes(32, "big")
    k = aggregate.k
    scaled = [_ec._scalar_op("mul", key_shares[32 * j : 32 * (j + 1)], lam) for j in range(k)]
    ks = KeySet(_ec.SecKeySet.from_bytes(b"".join(scaled)))
    pts = partial_decrypt(ks, aggregate, threads=threads, constant_time=constant_time)
    keys = ks.public.to_bytes()[8:]
    keys_arr = np.frombuffer(keys, dtype=np.uint8).reshape(k, 64)
    proof = make_share_proof(scaled, keys_arr, aggregate._points, pts, share_context(context, index, quorum))
    return DecryptionShare(index, tuple(quorum), pts, proof)


def combine_shares(
    aggregate: PackedCiphertexts, shares: list[DecryptionShare], *, bound: int = 2**20,
    table: DecodingTable | None = None, threads: int | None = None,
) -> np.ndarray:
    """Decrypt from the pre-scaled shares of one quorum (checked beforehand by the caller).

    Raises:
        ValueError: The shares are not exactly one per quorum member.
        PlaintextOutOfRange: A value does not decode within bound (never a wrong number).
    """
    bound = check_bound(bound)
    quorum = set(shares[0].quorum) if shares else set()
    if not shares or {s.index for s in shares} != quorum or len(shares) != len(quorum) or any(
        set(s.quorum) != quorum for s in shares
    ):
        msg = "combine needs exactly one share from each member of a single quorum"
        raise ValueError(msg)
    nthreads = resolve_threads(threads)
    d = shares[0].points
    if len(shares) > 1:
        d, bad, _ = _ec.aggregate_points([s.points for s in shares], [True] * len(shares), nthreads)
        if bad >= 0:
            msg = f"invalid share point {bad}"
            raise ValueError(msg)
    c = np.ascontiguousarray(aggregate._points[:, 1:, :])
    m, bad, _ = _ec.aggregate_points([c, _ec.negate_points(d)], [False, False], nthreads)
    if table is None:
        table = DecodingTable.cached(bound)
    out, bad = _ec.points_decode(m, table._core, bound, nthreads)
    if bad >= 0:
        msg = f"combined value at index {bad} is not within +-{bound} (wrong shares or too large)"
        raise PlaintextOutOfRange(msg, index=int(bad), value=None, bound=bound)
    return out[: aggregate.count]
