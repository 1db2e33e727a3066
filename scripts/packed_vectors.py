"""Known-answer vectors for packed ciphertexts (wire format v2), written independently of fbh.

Points come from coincurve (libsecp256k1); the Fiat-Shamir transcript, the challenge and the
response ``z = a + c r mod n`` are computed here in plain Python with hashlib, following the
format documented in src/fbh/crypto/packed.py. Imported by scripts/gen_vectors.py.
"""

from __future__ import annotations

import hashlib
import random
import struct

from coincurve import PublicKey
from gen_vectors import add, mul_g  # coincurve k*G and P + Q (None for infinity)

N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
P = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEFFFFFC2F
CHALLENGE_TAG = b"FBH/packed-v2/schnorr-pok"
CONTEXT_TAG = b"FBH/packed-v2/context\x00"
AGGREGATE_TAG = b"FBH/packed-v2/aggregate\x00"
HEADER = struct.Struct("<4sBBHQ32s")
INF64 = bytes(64)


def raw(point: PublicKey | None) -> bytes:
    """64-byte x || y, zeros for infinity."""
    return INF64 if point is None else point.format(compressed=False)[1:]


def context_digest(context: bytes) -> bytes:
    return hashlib.sha256(CONTEXT_TAG + context).digest()


def challenge(ctx_digest: bytes, k: int, count: int, index: int, block: bytes, a: bytes) -> int:
    """c = SHA-256(tag || ctx || k || count || index || R || C_0..C_{k-1} || A) mod n."""
    h = hashlib.sha256(CHALLENGE_TAG + ctx_digest + struct.pack(">QQQ", k, count, index))
    h.update(block + a)
    return int.from_bytes(h.digest(), "big") % N


def encrypt_block(keys: list[PublicKey], values: list[int], r: int) -> bytes:
    """R || C_0 .. C_{k-1} with R = r G, C_j = r P_j + m_j G."""
    return raw(mul_g(r)) + b"".join(
        raw(add(pj.multiply(r.to_bytes(32, "big")), mul_g(m))) for pj, m in zip(keys, values, strict=True)
    )


def encrypt_blob(keys, values, nonces, context) -> tuple[bytes, list[dict]]:
    k, count = len(keys), len(values)
    padded = values + [0] * (-count % k)
    digest = context_digest(context)
    body, blocks = b"", []
    for b, (r, a) in enumerate(nonces):
        block = encrypt_block(keys, padded[b * k : (b + 1) * k], r)
        commit = raw(mul_g(a))
        c = challenge(digest, k, count, b, block, commit)
        z = (a + c * r) % N
        body += block + commit + z.to_bytes(32, "big")
        blocks.append({"r": f"{r:064x}", "a": f"{a:064x}", "challenge": f"{c:064x}", "z": f"{z:064x}"})
    return HEADER.pack(b"FBHC", 2, 0, k, count, digest) + body, blocks


def gen_packed(rng: random.Random, doc) -> dict:
    k = 3
    secrets = [rng.randrange(1, N) for _ in range(k)]
    keys = [mul_g(s) for s in secrets]
    values = [5, -7, 0, 2**20, -(2**15)]
    context = b"chain 31337|contract 0x00ab|round 2|sender 0x1234"
    nonces = [(rng.randrange(1, N), rng.randrange(1, N)) for _ in range(2)]
    blob, blocks = encrypt_blob(keys, values, nonces, context)
    other_values = [1, 2, 3, 4, 5]
    other_nonces = [(rng.randrange(1, N), rng.randrange(1, N)) for _ in range(2)]
    other, _ = encrypt_blob(keys, other_values, other_nonces, b"another sender")
    # The aggregate of the two blobs: slot-wise point sums, no proofs, digest of both digests.
    block_in = (k + 1) * 64 + 96
    agg_body = b""
    for b in range(2):
        for j in range(k + 1):
            off = 48 + b * block_in + 64 * j
            pts = [PublicKey(b"\x04" + x[off : off + 64]) for x in (blob, other)]
            agg_body += raw(add(*pts))
    agg_digest = hashlib.sha256(AGGREGATE_TAG + blob[16:48] + other[16:48]).digest()
    aggregate = HEADER.pack(b"FBHC", 2, 1, k, 5, agg_digest) + agg_body
    keyset = struct.pack("<4sBBH", b"FBHK", 2, 0, k) + b"".join(raw(p) for p in keys)
    secret = struct.pack("<4sBBH", b"FBHS", 2, 0, k) + b"".join(s.to_bytes(32, "big") for s in secrets)
    src = ("points: coincurve from_secret/multiply/combine_keys; challenge and z: hashlib + "
           "Python integers (scripts/packed_vectors.py)")
    vectors = [{
        "context": context.hex(), "values": values, "blob": blob.hex(), "blocks": blocks,
        "other_context": b"another sender".hex(), "other_values": other_values, "other_blob": other.hex(),
        "aggregate": aggregate.hex(), "source": src,
    }]
    return doc(
        "Packed ElGamal wire format v2: a key set, a blob with proofs under fixed nonces, a "
        "second sender's blob and their aggregate", vectors,
        secret_key_set=secret.hex(), public_key_set=keyset.hex(),
        public_key_set_digest=hashlib.sha256(keyset).hexdigest(),
        invalid=gen_invalid(blob, k),
    )


def gen_invalid(blob: bytes, k: int) -> list[dict]:
    """Blobs every v2 reader must reject, each with the error class and why."""
    block = (k + 1) * 64 + 96
    off_curve = bytearray(blob)
    off_curve[48 + 64 + 63] ^= 1
    big_x = bytearray(blob)
    big_x[48 + block : 48 + block + 32] = (P + 1).to_bytes(32, "big")
    big_z = bytearray(blob)
    big_z[48 + block - 32 : 48 + block] = N.to_bytes(32, "big")
    inf_a = bytearray(blob)
    inf_a[48 + block - 96 : 48 + block - 32] = INF64
    v1 = struct.pack("<4sBBHQ", b"FBHC", 1, 0, 0, 1) + bytes(128)
    flagged = bytearray(blob)
    flagged[5] = 1  # claims to be an aggregate but carries proofs: wrong length
    cases = [
        (bytes(off_curve), "InvalidPoint", "block 0: C_0.y changed, point off the curve"),
        (bytes(big_x), "InvalidPoint", "block 1: R.x = p + 1 (coordinate not below p)"),
        (bytes(big_z), "InvalidPoint", "block 0: z = n (not a reduced scalar)"),
        (bytes(inf_a), "InvalidPoint", "block 0: proof commitment A = infinity"),
        (v1, "UnsupportedVersion", "a version 1 blob"),
        (bytes(flagged), "MalformedCiphertext", "aggregate flag with proofs: length mismatch"),
        (blob[:-1], "MalformedCiphertext", "truncated by one byte"),
        (blob + b"\x00", "MalformedCiphertext", "one trailing byte"),
        (b"FBHC\x02\x04" + blob[6:], "MalformedCiphertext", "unknown flag bit 2"),
        (blob[:6] + b"\x00\x00" + blob[8:], "MalformedCiphertext", "k = 0"),
    ]
    return [{"blob": b.hex(), "error": e, "source": f"hand-written: {why}"} for b, e, why in cases]
