"""Known-answer vectors for packed ciphertexts (wire format v3), written independently of fbh.

Points come from coincurve (libsecp256k1); the Fiat-Shamir transcript seed, the 128-bit
coefficients e_i and the response ``z = a + sum_i e_i r_i mod n`` of the blob's one batched
proof are computed here in plain Python with hashlib, following the format documented in
src/fbh/crypto/packed.py. Called by scripts/gen_vectors.py.
"""

from __future__ import annotations

import hashlib
import random
import struct

from coincurve import PublicKey
from coincurve_points import add, mul_g  # coincurve k*G and P + Q (None for infinity)

N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
P = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEFFFFFC2F
CHALLENGE_TAG = b"FBH/packed-v3/batch-pok"
CONTEXT_TAG = b"FBH/packed-v3/context\x00"
AGGREGATE_TAG = b"FBH/packed-v3/aggregate\x00"
VERSION = 3
PROOF = 96
HEADER = struct.Struct("<4sBBHQ32s")
INF64 = bytes(64)


def raw(point: PublicKey | None) -> bytes:
    """64-byte x || y, zeros for infinity."""
    return INF64 if point is None else point.format(compressed=False)[1:]


def context_digest(context: bytes) -> bytes:
    return hashlib.sha256(CONTEXT_TAG + context).digest()


def transcript_seed(ctx_digest: bytes, k: int, count: int, a: bytes, blocks: bytes) -> bytes:
    """SHA-256(tag || ctx || k || count || A || every block's R, C_0..C_{k-1})."""
    return hashlib.sha256(CHALLENGE_TAG + ctx_digest + struct.pack(">QQ", k, count) + a + blocks).digest()


def coefficients(seed: bytes, nblocks: int) -> list[int]:
    """e_2t || e_2t+1 = SHA-256(seed || t), 16 big-endian bytes each."""
    out = []
    for t in range(-(-nblocks // 2)):
        d = hashlib.sha256(seed + struct.pack(">Q", t)).digest()
        out += [int.from_bytes(d[:16], "big"), int.from_bytes(d[16:], "big")]
    return out[:nblocks]


def encrypt_block(keys: list[PublicKey], values: list[int], r: int) -> bytes:
    """R || C_0 .. C_{k-1} with R = r G, C_j = r P_j + m_j G."""
    return raw(mul_g(r)) + b"".join(
        raw(add(pj.multiply(r.to_bytes(32, "big")), mul_g(m))) for pj, m in zip(keys, values, strict=True)
    )


def encrypt_blob(keys, values, nonces, a, context) -> tuple[bytes, dict]:
    k, count = len(keys), len(values)
    padded = values + [0] * (-count % k)
    digest = context_digest(context)
    body = b"".join(encrypt_block(keys, padded[b * k : (b + 1) * k], r) for b, r in enumerate(nonces))
    commit = raw(mul_g(a))
    seed = transcript_seed(digest, k, count, commit, body)
    e = coefficients(seed, len(nonces))
    z = (a + sum(ei * r for ei, r in zip(e, nonces, strict=True))) % N
    proof = {"r": [f"{r:064x}" for r in nonces], "a": f"{a:064x}", "seed": seed.hex(),
             "coefficients": [f"{x:032x}" for x in e], "z": f"{z:064x}"}
    return HEADER.pack(b"FBHC", VERSION, 0, k, count, digest) + commit + z.to_bytes(32, "big") + body, proof


def gen_packed(rng: random.Random, doc) -> dict:
    k = 3
    secrets = [rng.randrange(1, N) for _ in range(k)]
    keys = [mul_g(s) for s in secrets]
    values = [5, -7, 0, 2**20, -(2**15)]
    context = b"chain 31337|contract 0x00ab|round 2|sender 0x1234"
    nonces = [rng.randrange(1, N) for _ in range(2)]
    blob, proof = encrypt_blob(keys, values, nonces, rng.randrange(1, N), context)
    other_values = [1, 2, 3, 4, 5]
    other_nonces = [rng.randrange(1, N) for _ in range(2)]
    other, _ = encrypt_blob(keys, other_values, other_nonces, rng.randrange(1, N), b"another sender")
    # The aggregate of the two blobs: slot-wise point sums, no proof, digest of both digests.
    agg_body = b""
    for b in range(2):
        for j in range(k + 1):
            off = 48 + PROOF + b * (k + 1) * 64 + 64 * j
            pts = [PublicKey(b"\x04" + x[off : off + 64]) for x in (blob, other)]
            agg_body += raw(add(*pts))
    agg_digest = hashlib.sha256(AGGREGATE_TAG + blob[16:48] + other[16:48]).digest()
    aggregate = HEADER.pack(b"FBHC", VERSION, 1, k, 5, agg_digest) + agg_body
    keyset = struct.pack("<4sBBH", b"FBHK", 2, 0, k) + b"".join(raw(p) for p in keys)
    secret = struct.pack("<4sBBH", b"FBHS", 2, 0, k) + b"".join(s.to_bytes(32, "big") for s in secrets)
    src = ("points: coincurve from_secret/multiply/combine_keys; seed, coefficients and z: "
           "hashlib + Python integers (scripts/packed_vectors.py)")
    vectors = [{
        "context": context.hex(), "values": values, "blob": blob.hex(), "proof": proof,
        "other_context": b"another sender".hex(), "other_values": other_values, "other_blob": other.hex(),
        "aggregate": aggregate.hex(), "source": src,
    }]
    return doc(
        "Packed ElGamal wire format v3: a key set, a blob with its proof under fixed nonces, a "
        "second sender's blob and their aggregate", vectors,
        secret_key_set=secret.hex(), public_key_set=keyset.hex(),
        public_key_set_digest=hashlib.sha256(keyset).hexdigest(),
        invalid=gen_invalid(blob, k),
    )


def gen_invalid(blob: bytes, k: int) -> list[dict]:
    """Blobs every v3 reader must reject, each with the error class and why."""
    body = 48 + PROOF  # header, proof A || z, then the blocks
    block = (k + 1) * 64
    off_curve = bytearray(blob)
    off_curve[body + 64 + 63] ^= 1
    big_x = bytearray(blob)
    big_x[body + block : body + block + 32] = (P + 1).to_bytes(32, "big")
    big_z = bytearray(blob)
    big_z[48 + 64 : body] = N.to_bytes(32, "big")
    inf_a = bytearray(blob)
    inf_a[48 : 48 + 64] = INF64
    v1 = struct.pack("<4sBBHQ", b"FBHC", 1, 0, 0, 1) + bytes(128)
    v2 = bytearray(blob)
    v2[4] = 2
    flagged = bytearray(blob)
    flagged[5] = 1  # claims to be an aggregate but carries a proof: wrong length
    cases = [
        (bytes(off_curve), "InvalidPoint", "block 0: C_0.y changed, point off the curve"),
        (bytes(big_x), "InvalidPoint", "block 1: R.x = p + 1 (coordinate not below p)"),
        (bytes(big_z), "InvalidPoint", "proof: z = n (not a reduced scalar)"),
        (bytes(inf_a), "InvalidPoint", "proof: commitment A = infinity"),
        (v1, "UnsupportedVersion", "a version 1 blob"),
        (bytes(v2), "UnsupportedVersion", "a version 2 blob (one proof per block)"),
        (bytes(flagged), "MalformedCiphertext", "aggregate flag with a proof: length mismatch"),
        (blob[:-1], "MalformedCiphertext", "truncated by one byte"),
        (blob + b"\x00", "MalformedCiphertext", "one trailing byte"),
        (b"FBHC\x03\x04" + blob[6:], "MalformedCiphertext", "unknown flag bit 2"),
        (blob[:6] + b"\x00\x00" + blob[8:], "MalformedCiphertext", "k = 0"),
    ]
    return [{"blob": b.hex(), "error": e, "source": f"hand-written: {why}"} for b, e, why in cases]
