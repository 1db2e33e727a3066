"""Type stub of the private C++ extension ``fbh.crypto._ec`` (use :mod:`fbh.crypto` instead).

Ciphertext rows are ``uint8[K, 128]``: C1.x | C1.y | C2.x | C2.y, 32-byte big-endian
coordinates, the point at infinity as 64 zero bytes. Batch functions release the GIL and
split the batch over ``threads`` threads; results never depend on the thread count.
Functions returning ``(result, bad)`` report the first offending index in ``bad`` (-1: ok).
"""

import numpy as np
import numpy.typing as npt

ROW_BYTES: int
MAX_PLAINTEXT: int
MAX_BABY_STEPS: int

class PubKey:
    """A public key with lazily built fixed-base tables (constant-time and fast)."""

    @staticmethod
    def from_bytes(data: bytes) -> PubKey:
        """Parse SEC1 (33 compressed / 65 uncompressed bytes); ValueError if invalid."""
    def to_bytes(self, compressed: bool = True) -> bytes:
        """SEC1 encoding of the key."""

class SecKey:
    """A private scalar in [1, n-1]; zeroed when the object is freed."""

    @staticmethod
    def generate() -> SecKey:
        """Uniform key from the OS CSPRNG (getrandom), rejection-sampled."""
    @staticmethod
    def from_bytes(data: bytes) -> SecKey:
        """32-byte big-endian scalar; ValueError for wrong size, 0 or >= n."""
    def to_bytes(self) -> bytes:
        """The scalar as 32 big-endian bytes."""
    def public_key(self) -> PubKey:
        """sk * G, computed in constant time."""

class BsgsTable:
    """Baby-step table x(mG) -> m for m in [1, baby] (8-byte open-addressing slots)."""

    baby: int
    nbytes: int
    def __init__(self, baby: int, threads: int) -> None:
        """Build the table; baby must be in [1, 2^22)."""

def encrypt(
    pk: PubKey,
    m: npt.NDArray[np.int64],
    nonces: npt.NDArray[np.uint8] | None,
    threads: int,
    ct: bool,
    complete: bool = False,
) -> tuple[npt.NDArray[np.uint8], int]:
    """Rows of Enc(m); nonces uint8[K, 32] (tests only) or None for OS randomness.

    ``complete`` forces the one-at-a-time complete-formula path (reference for tests).
    ``bad`` is the first index with |m| > MAX_PLAINTEXT or a nonce outside [1, n-1].
    """

def decrypt(
    sk: SecKey, rows: npt.NDArray[np.uint8], table: BsgsTable, bound: int, threads: int, ct: bool
) -> tuple[npt.NDArray[np.int64], int]:
    """Plaintexts of trusted rows; ``bad`` is the first index not decodable within bound."""

def validate_rows(rows: npt.NDArray[np.uint8], threads: int) -> int:
    """First invalid point index (2k: C1 of row k, 2k+1: C2), or -1."""

def to_sec1(rows: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    """uint8[K, 2, 33] SEC1 compressed points (infinity: 33 zero bytes)."""

def from_sec1(points: npt.NDArray[np.uint8]) -> tuple[npt.NDArray[np.uint8], int]:
    """Decompress and validate uint8[K, 2, 33]; ``bad`` is the first invalid point index."""

# ---- packed ciphertexts (format v2) ----

MAX_SLOTS: int
PROOF_BYTES: int
CHALLENGE_TAG: bytes

class PubKeySet:
    """k public slot keys with their interleaved fixed-base tables (built on first use)."""
    @staticmethod
    def from_points(points: npt.NDArray[np.uint8]) -> PubKeySet: ...
    @property
    def k(self) -> int: ...
    def points(self) -> npt.NDArray[np.uint8]: ...

class SecKeySet:
    """k secret slot scalars, cleared on destruction."""
    @staticmethod
    def generate(k: int) -> SecKeySet: ...
    @staticmethod
    def from_bytes(data: bytes) -> SecKeySet: ...
    @property
    def k(self) -> int: ...
    def to_bytes(self) -> bytes: ...
    def public(self) -> PubKeySet: ...

def packed_encrypt(
    pk: PubKeySet, m: npt.NDArray[np.int64], ctx: bytes, count: int,
    nonces: npt.NDArray[np.uint8] | None, threads: int, ct: bool,
) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.uint8], int]:
    """(points uint8[B, k + 1, 64], proof uint8[96], bad) for whole blocks of m; nonces, if
    given, are uint8[B + 1, 32] (the block nonces r_i, then the proof's a)."""

def packed_verify(
    points: npt.NDArray[np.uint8], proof: npt.NDArray[np.uint8], k: int, ctx: bytes, count: int,
    threads: int,
) -> bool:
    """Whether the blob's one batched proof holds for ctx and count."""

def packed_verify_many(
    points: list[npt.NDArray[np.uint8]],
    proofs: list[npt.NDArray[np.uint8]],
    ctxs: list[bytes],
    k: int,
    count: int,
    threads: int,
) -> int:
    """packed_verify for C blobs of one shape (transcripts hashed two at a time): -1, or the
    first blob whose proof fails."""

def packed_validate(
    points: npt.NDArray[np.uint8], proof: npt.NDArray[np.uint8] | None, k: int, threads: int
) -> int:
    """First block with an invalid point, -2 if the proof's A is invalid or infinite or
    z >= n, or -1."""

def packed_mul_r(
    sk: SecKeySet, points: npt.NDArray[np.uint8], threads: int, ct: bool
) -> npt.NDArray[np.uint8]:
    """uint8[B, k, 64]: s_j R_b for every block and slot."""

def packed_decrypt(
    sk: SecKeySet, points: npt.NDArray[np.uint8], table: BsgsTable, bound: int, threads: int,
    ct: bool,
) -> tuple[npt.NDArray[np.int64], int]:
    """All B * k slot values; ``bad`` is the first index not decodable within bound."""

def aggregate_points(
    items: list[npt.NDArray[np.uint8]], validate: list[bool], threads: int
) -> tuple[npt.NDArray[np.uint8], int, int]:
    """Sum of C point arrays of equal shape (..., 64), checking those flagged in validate;
    returns (points, first bad point index or -1, its input)."""

def scale_points(points: npt.NDArray[np.uint8], k: bytes, threads: int) -> npt.NDArray[np.uint8]:
    """k * points for a public nonzero 32-byte scalar (variable time)."""

def negate_points(points: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    """-points."""

def _sha256(data: bytes) -> bytes:
    """Test hook: the core's SHA-256."""

def _transcript_seed(ctx: bytes, k: int, count: int, a: bytes, pts: bytes) -> bytes:
    """Test hook: the Fiat-Shamir seed of a blob's proof (32 bytes)."""

def _batch_coeffs(seed: bytes, begin: int, end: int) -> list[bytes]:
    """Test hook: the proof's coefficients e_begin .. e_{end-1}, 32 bytes big-endian each."""

def _field_op(op: str, a: bytes, b: bytes) -> bytes | None:
    """Test hook: add/sub/mul/sqr/neg/inv/sqrt on 32-byte field elements (None: no sqrt)."""

def _scalar_op(op: str, a: bytes, b: bytes) -> bytes:
    """Test hook: add/mul/neg modulo n."""

def _split_lambda(k: bytes) -> tuple[bytes, bytes]:
    """Test hook: GLV split k = k1 + lambda k2 (mod n)."""

def _recode(k: bytes, w: int, nd: int) -> list[int]:
    """Test hook: regular odd signed digits of a nonzero scalar (width w, nd digits)."""

def _batch_add(
    acc: npt.NDArray[np.uint8], q: npt.NDArray[np.uint8], wide: bool
) -> npt.NDArray[np.uint8] | None:
    """Test hook: acc[i] + q[i] by the scalar or the eight-lane (IFMA) batch; None on a shared x."""

def _ifma_available() -> bool:
    """Whether this CPU runs the AVX-512 IFMA kernels (and they are not switched off)."""

def _ifma_set_scalar_only(on: bool) -> None:
    """Test hook: switch the IFMA kernels off (scalar paths everywhere) or back on."""

def _msm_is_infinity(
    points: npt.NDArray[np.uint8], scalars: npt.NDArray[np.uint8], threads: int
) -> bool:
    """Test hook: whether sum_i k_i P_i is infinity (uint8[n, 64] finite points, uint8[n, 32])."""

def _mul_points(
    points: npt.NDArray[np.uint8], k: bytes, ct: bool, complete: bool
) -> npt.NDArray[np.uint8]:
    """Test hook: k * P for uint8[P, 64] points via the batched kernel or the ladder."""

# ---- threshold kernels (csrc/threshold.h) ----

def points_lincomb(points: npt.NDArray[np.uint8], scalars: npt.NDArray[np.uint8]) -> bytes:
    """sum_i scalars[i] points[i] (uint8[n, 64], uint8[n, 32]); ValueError names a bad index."""

def point_mul_const(point: bytes, k: bytes) -> bytes:
    """k * point for a secret scalar in [1, n-1] and a finite point (constant time)."""

def points_decode(
    points: npt.NDArray[np.uint8], table: BsgsTable, bound: int, threads: int
) -> tuple[npt.NDArray[np.int64], int]:
    """Decode points m G with |m| <= bound; ``bad`` is the first invalid or undecodable index."""

def share_batch_check(
    r: npt.NDArray[np.uint8],
    d: npt.NDArray[np.uint8],
    c: npt.NDArray[np.uint8],
    rstar: bytes,
    dstar: npt.NDArray[np.uint8],
    rho: npt.NDArray[np.uint8],
    threads: int,
) -> bool:
    """One MSM check that d[b, j] = s_j r[b] given R* and D*_j (see fbh.crypto.chaum_pedersen)."""

RANGE_MAX_BITS: int
RANGE_MAX_BOUND: int

def range_proof_bytes(bits: int) -> int:
    """Bytes of one slot's range proof for `bits` bits."""

def range_generator_h() -> bytes:
    """H, the range proofs' Pedersen generator, as 64 bytes x || y."""

def range_bits(bound: int) -> int:
    """L = bitlen(2 bound), the bits a proof of |m| <= bound decomposes m + bound into."""

def range_prove(
    pk: PubKeySet,
    ctx: bytes,
    keys: npt.NDArray[np.uint8],
    rs: npt.NDArray[np.uint8],
    cs: npt.NDArray[np.uint8],
    m: npt.NDArray[np.int64],
    nonces: npt.NDArray[np.uint8],
    blocks: npt.NDArray[np.uint64],
    slots: npt.NDArray[np.uint64],
    bound: int,
    threads: int,
) -> tuple[npt.NDArray[np.uint8], int]:
    """Range proofs for S slots (constant time); returns (uint8[S, bytes], -1 or first bad item)."""

def range_verify(
    ctx: bytes,
    keys: npt.NDArray[np.uint8],
    rs: npt.NDArray[np.uint8],
    cs: npt.NDArray[np.uint8],
    proofs: npt.NDArray[np.uint8],
    blocks: npt.NDArray[np.uint64],
    slots: npt.NDArray[np.uint64],
    bound: int,
    threads: int,
) -> int:
    """Batch-verify S range proofs; -1 if all hold, else the first failing item."""

# --- portable (GPU-twin) kernels, csrc/portable_bindings.cpp: variable time ---------------------

class PortableTables:
    """Fixed 4-bit-window tables of G, P_0..P_{k-1} for the portable kernels."""

    k: int
    nbytes: int
    def __init__(self, points: npt.NDArray[np.uint8], threads: int) -> None: ...
    def to_array(self) -> npt.NDArray[np.uint8]:
        """The raw tables (what fbh.crypto._ec_cuda.DeviceTables uploads)."""

def portable_encrypt(
    tables: PortableTables,
    m: npt.NDArray[np.int64],
    ctx: bytes,
    count: int,
    nonces: npt.NDArray[np.uint8] | None,
    threads: int,
) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.uint8], int]:
    """As packed_encrypt: (uint8[B, k + 1, 64], uint8[B, 96], -1 or first bad index)."""

def portable_verify(
    points: npt.NDArray[np.uint8], proofs: npt.NDArray[np.uint8], k: int, ctx: bytes, count: int, threads: int
) -> int:
    """One check per block; -1 or the first failing block."""

def portable_aggregate(
    items: npt.NDArray[np.uint8], threads: int
) -> tuple[npt.NDArray[np.uint8], int, int]:
    """Slot-wise sum over axis 0 of uint8[C, ..., 64]: (sum, -1 or first bad point, its input)."""

def portable_mul_r(
    sk: SecKeySet, points: npt.NDArray[np.uint8], threads: int
) -> tuple[npt.NDArray[np.uint8], int]:
    """(uint8[B, k, 64] of s_j R_b, -1 or the first block with an invalid R)."""
