#!/usr/bin/env python3
"""Generates the secp256k1 / EC-ElGamal known-answer vectors in tests/data/vectors/.

Every finite point comes from coincurve (libsecp256k1): ``PublicKey.from_secret(k)``
for k*G, ``PublicKey.combine_keys`` for P + Q and ``PublicKey.multiply`` for k*P.
coincurve cannot represent the point at infinity, so those vectors are written by
hand with SEC1's single ``0x00`` byte, and each says why the result is infinity.
Invalid inputs are built with plain integer arithmetic mod p and checked to be
rejected by coincurve as well. wire.json pins the ``Ciphertexts.to_bytes`` layout
(see src/fbh/crypto/ciphertexts.py) and lists blobs every reader must reject;
packed_v3.json does the same for packed ciphertexts (scripts/packed_vectors.py).
Each vector records its ``source``; each file records the coincurve version.
The output is deterministic (seeded): rerunning the script must not change the files.

Usage: python scripts/gen_vectors.py [--out tests/data/vectors]
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import random
import struct
import sys
from pathlib import Path

from coincurve import PublicKey

sys.path.insert(0, str(Path(__file__).resolve().parent))  # also when loaded by the tests

import packed_vectors  # noqa: E402
from coincurve_points import INF, N, P, add, hx, mul, mul_g  # noqa: E402

SEED = 20260101

FROM_SECRET = "coincurve PublicKey.from_secret(k).format()"
COMBINE = "coincurve PublicKey.combine_keys([P, Q]).format()"
MULTIPLY = "coincurve PublicKey(P).multiply(k).format()"


def elgamal(pk: PublicKey, m: int, r: int) -> tuple[PublicKey | None, PublicKey | None]:
    """(r*G, m*G + r*pk) with coincurve."""
    return mul_g(r), add(mul_g(m), mul(r, pk))


def is_square(a: int) -> bool:
    return pow(a % P, (P - 1) // 2, P) in (0, 1)


def _doc(description: str, vectors: list[dict], **extra) -> dict:
    return {
        "description": description,
        "generator": "scripts/gen_vectors.py",
        "coincurve_version": importlib.metadata.version("coincurve"),
        "curve": "secp256k1",
        **extra,
        "vectors": vectors,
    }


def gen_mul_g(rng: random.Random) -> dict:
    ks = [1, 2, 3, 7, 2**15, 2**20, 2**32 - 1, 2**128, 2**255, N - 2, N - 1]
    ks += [rng.randrange(1, N) for _ in range(8)]
    vecs = []
    for k in ks:
        q = mul_g(k)
        vecs.append({
            "k": f"{k:064x}",
            "compressed": q.format().hex(),
            "uncompressed": q.format(compressed=False).hex(),
            "source": FROM_SECRET,
        })
    return _doc("k*G for edge and random scalars k (32-byte big-endian hex)", vecs)


def gen_point_add(rng: random.Random) -> dict:
    pairs = [(1, 1), (1, 2), (2, N - 1), (N - 1, N - 2)]
    pairs += [(rng.randrange(1, N), rng.randrange(1, N)) for _ in range(6)]
    vecs = []
    for a, b in pairs:
        pa, pb = mul_g(a), mul_g(b)
        vecs.append({"a": hx(pa), "b": hx(pb), "sum": hx(add(pa, pb)), "source": COMBINE})
    return _doc("P + Q for points P = a*G, Q = b*G (compressed SEC1 hex)", vecs)


def gen_point_mul(rng: random.Random) -> dict:
    vecs = []
    for k in [1, 2, 3, N - 1, 2**128, rng.randrange(1, N), rng.randrange(1, N)]:
        point = mul_g(rng.randrange(1, N))
        vecs.append({"k": f"{k:064x}", "point": hx(point), "product": hx(mul(k, point)), "source": MULTIPLY})
    return _doc("k*P for random points P", vecs)


def gen_elgamal(rng: random.Random) -> dict:
    sk = rng.randrange(1, N)
    pk = mul_g(sk)
    ms = [0, 1, -1, 2, 2**15 - 1, -(2**15), 2**20, -(2**20), 123456789, -(2**40)]
    rs = [1, 2, N - 1, 2**128] + [rng.randrange(1, N) for _ in range(len(ms) - 4)]
    src = "C1 = from_secret(r); C2 = combine_keys([from_secret(m mod n), multiply(pk, r)])"
    vecs = []
    for m, r in zip(ms, rs, strict=True):
        c1, c2 = elgamal(pk, m, r)
        vecs.append({"m": m, "r": f"{r:064x}", "c1": hx(c1), "c2": hx(c2), "source": src})
    # C2 = m*G + r*pk is infinity when r = -m / sk (mod n): coincurve cannot say so.
    for m in (1, -5, 2**15):
        r = (-m * pow(sk, -1, N)) % N
        vecs.append({
            "m": m, "r": f"{r:064x}", "c1": hx(mul_g(r)), "c2": INF,
            "source": "hand-written: r = -m/sk mod n makes C2 the point at infinity; C1 from coincurve",
        })
    return _doc(
        "Exponential ElGamal with fixed nonces: C1 = r*G, C2 = m*G + r*pk",
        vecs, secret_key=f"{sk:064x}", public_key=hx(pk),
    )


def gen_elgamal_ops(rng: random.Random) -> dict:
    sk = rng.randrange(1, N)
    pk = mul_g(sk)

    def enc(m: int, r: int) -> list[str]:
        return [hx(p) for p in elgamal(pk, m, r)]

    vecs = []
    for count in (2, 3, 10):
        ms = [rng.randrange(-(2**15), 2**15) for _ in range(count)]
        rs = [rng.randrange(1, N) for _ in range(count)]
        total = elgamal(pk, sum(ms), sum(rs))  # = sum of ciphertexts, computed directly
        summed = [add(*(elgamal(pk, m, r)[i] for m, r in zip(ms, rs, strict=True))) for i in (0, 1)]
        assert [hx(p) for p in summed] == [hx(p) for p in total]
        vecs.append({
            "op": "aggregate", "inputs": [enc(m, r) for m, r in zip(ms, rs, strict=True)],
            "output": [hx(p) for p in summed], "plaintext": sum(ms),
            "source": "combine_keys over C1s and over C2s; equals Enc(sum m; sum r)",
        })
    # Enc(a; r) + Enc(-a; -r) is (infinity, infinity): written by hand.
    a, r = 777, rng.randrange(1, N)
    vecs.append({
        "op": "aggregate", "inputs": [enc(a, r), enc(-a, N - r)], "output": [INF, INF], "plaintext": 0,
        "source": "hand-written: nonces r and n - r and values a, -a cancel: both sums are infinity",
    })
    # Enc(a) + Enc(-a) with unrelated nonces: finite points, but the message point is infinity.
    r1, r2 = rng.randrange(1, N), rng.randrange(1, N)
    c1, c2 = elgamal(pk, 0, r1 + r2)
    vecs.append({
        "op": "aggregate", "inputs": [enc(a, r1), enc(-a, r2)], "output": [hx(c1), hx(c2)], "plaintext": 0,
        "source": "combine_keys; C2 - sk*C1 is the point at infinity (decrypts to 0)",
    })
    for k in (0, 1, 2, 3, -1, -7, 1000):
        m, r = rng.randrange(-(2**10), 2**10), rng.randrange(1, N)
        c1, c2 = elgamal(pk, m, r)
        vecs.append({
            "op": "scalar_mul", "k": k, "inputs": [enc(m, r)], "output": [hx(mul(k, c1)), hx(mul(k, c2))],
            "plaintext": k * m,
            "source": "hand-written infinity (k = 0)" if k == 0 else "coincurve multiply(k mod n) on C1 and C2",
        })
    return _doc(
        "Homomorphic operations on ciphertexts [C1, C2] with the given key; plaintext = decryption",
        vecs, secret_key=f"{sk:064x}", public_key=hx(pk),
    )


def gen_infinity() -> dict:
    g = mul_g(1)
    neg_g = "03" + g.format().hex()[2:] if g.format()[0] == 2 else "02" + g.format().hex()[2:]
    vecs = [
        {"op": "mul_g", "k": f"{0:064x}", "result": INF, "source": "hand-written: 0*G is infinity"},
        {"op": "mul_g", "k": f"{N:064x}", "result": INF,
         "source": "hand-written: n*G is infinity (n is not a valid 32-byte scalar for most APIs)"},
        {"op": "add", "a": hx(g), "b": neg_g, "result": INF,
         "source": "hand-written: G + (-G); -G flips the parity byte"},
        {"op": "add", "a": INF, "b": hx(g), "result": hx(g), "source": "hand-written: infinity is the identity"},
        {"op": "add", "a": INF, "b": INF, "result": INF, "source": "hand-written: infinity + infinity"},
    ]
    # C1 = infinity is the r = 0 "encryption": C2 = m*G decrypts to m under any key.
    for m in (0, 1, -3, 2**20):
        vecs.append({"op": "decrypt", "c1": INF, "c2": hx(mul_g(m)), "plaintext": m,
                     "source": "hand-written C1 = infinity; C2 = m*G from coincurve (infinity for m = 0)"})
    return _doc("The point at infinity, SEC1 single byte 0x00", vecs)


def _non_residue_x(rng: random.Random) -> int:
    while True:
        x = rng.randrange(P)
        if not is_square(x**3 + 7):
            return x


def gen_invalid_points(rng: random.Random) -> dict:
    good = mul_g(rng.randrange(1, N))
    gc, gu = good.format(), good.format(compressed=False)
    x, y = good.point()
    small = next(d for d in range(1, 100) if is_square(d**3 + 7))  # x = small + p reduces to a valid x
    y_small = pow(small**3 + 7, (P + 1) // 4, P)
    off_x = _non_residue_x(rng)
    cases = [
        ("off_curve", "02" + f"{off_x:064x}", "InvalidPoint", "x^3 + 7 is not a square mod p"),
        ("off_curve", "03" + f"{_non_residue_x(rng):064x}", "InvalidPoint", "x^3 + 7 is not a square mod p"),
        ("off_curve", "04" + f"{x:064x}{(y + 1) % P:064x}", "InvalidPoint", "uncompressed with y + 1"),
        ("off_curve", "04" + f"{x:064x}{0:064x}", "InvalidPoint", "uncompressed with y = 0"),
        ("x_ge_p", "02" + f"{P:064x}", "InvalidPoint", "x = p"),
        ("x_ge_p", "02" + f"{P + small:064x}", "InvalidPoint", "x = p + x0 where x0 is a valid x"),
        ("x_ge_p", "03" + f"{2**256 - 1:064x}", "InvalidPoint", "x = 2^256 - 1"),
        ("x_ge_p", "04" + f"{P + small:064x}{y_small:064x}", "InvalidPoint", "uncompressed x = p + x0"),
        ("y_ge_p", "04" + f"{small:064x}{2**256 - 1:064x}", "InvalidPoint", "uncompressed y = 2^256 - 1"),
        ("bad_prefix", "04" + gc.hex()[2:], "CryptoError", "33 bytes with prefix 0x04"),
        ("bad_prefix", "05" + gc.hex()[2:], "CryptoError", "prefix 0x05"),
        ("bad_prefix", "01" + gc.hex()[2:], "CryptoError", "prefix 0x01"),
        ("bad_prefix", "00" + gc.hex()[2:], "CryptoError", "prefix 0x00 followed by 32 bytes"),
        ("bad_prefix", "02" + gu.hex()[2:], "CryptoError", "65 bytes with prefix 0x02"),
        ("bad_prefix", "08" + gu.hex()[2:], "CryptoError", "65 bytes with prefix 0x08"),
        ("wrong_length", "", "CryptoError", "empty"),
        ("wrong_length", gc.hex()[:-2], "CryptoError", "32 bytes (compressed, truncated)"),
        ("wrong_length", gc.hex() + "00", "CryptoError", "34 bytes (compressed + 1)"),
        ("wrong_length", gc.hex()[2:], "CryptoError", "32 bytes (x only)"),
        ("wrong_length", gu.hex()[:-2], "CryptoError", "64 bytes (uncompressed, truncated)"),
        ("wrong_length", gu.hex() + "00", "CryptoError", "66 bytes"),
    ]
    vecs = []
    for kind, data, error, why in cases:
        raw = bytes.fromhex(data)
        try:
            PublicKey(raw)
        except ValueError:
            rejected = True
        else:
            rejected = False
        assert rejected or kind == "x_ge_p", f"coincurve accepts {why}"
        vecs.append({"kind": kind, "point": data, "error": error,
                     "source": f"hand-written: {why}; coincurve rejects: {rejected}"})
    vecs.append({"kind": "infinity_as_key", "point": INF, "error": "CryptoError",
                 "source": "hand-written: the point at infinity is not a valid public key"})
    return _doc("Encodings every point parser must reject (error = expected fbh.crypto class)", vecs,
                valid_point=gc.hex())


def gen_invalid_scalars() -> dict:
    cases = [
        (f"{0:064x}", "zero"), (f"{N:064x}", "n"), (f"{N + 1:064x}", "n + 1"),
        (f"{2**256 - 1:064x}", "2^256 - 1"), ("01" * 31, "31 bytes"), ("01" * 33, "33 bytes"), ("", "empty"),
    ]
    vecs = [{"secret": s, "error": "CryptoError", "source": f"hand-written: {why}"} for s, why in cases]
    return _doc("Private-key encodings that PrivateKey.from_bytes must reject", vecs)


def gen_invalid_decode() -> dict:
    vecs = [
        {"bound": 8, "values": [0, 8, -8, 9], "error": "PlaintextOutOfRange", "index": 3,
         "source": "hand-written: bound + 1"},
        {"bound": 8, "values": [1, -9, 2], "error": "PlaintextOutOfRange", "index": 1,
         "source": "hand-written: -(bound + 1)"},
        {"bound": 1000, "values": [5, 999, 1000, -1000, 2**20], "error": "PlaintextOutOfRange", "index": 4,
         "source": "hand-written: far beyond the bound"},
        {"bound": 16, "values": [16, -16, 0, 15, -15], "error": None, "index": None,
         "source": "hand-written: +-bound decode"},
    ]
    return _doc("Decryption with a bound: values beyond it raise with the first bad index", vecs)


WIRE_FORMAT = ('header "<4sBBHQ": b"FBHC", u8 version = 1, u8 flags = 0, u16 reserved = 0, u64 count K '
               "(little-endian); then K rows of 128 bytes C1.x | C1.y | C2.x | C2.y (32-byte big-endian); "
               "infinity = 64 zero bytes")


def _header(count: int, magic: bytes = b"FBHC", version: int = 1, flags: int = 0, reserved: int = 0) -> bytes:
    return struct.pack("<4sBBHQ", magic, version, flags, reserved, count)


def _row_point(point: PublicKey | None) -> bytes:
    return bytes(64) if point is None else point.format(compressed=False)[1:]


def gen_wire(elgamal_doc: dict) -> dict:
    """Pins the wire format with the ElGamal vectors, and lists blobs every reader must reject."""
    vecs_in = elgamal_doc["vectors"]
    rows = b"".join(
        _row_point(None if v["c1"] == INF else PublicKey(bytes.fromhex(v["c1"])))
        + _row_point(None if v["c2"] == INF else PublicKey(bytes.fromhex(v["c2"])))
        for v in vecs_in
    )
    valid = _header(len(vecs_in)) + rows
    row0 = rows[:128]
    x, y = PublicKey(bytes.fromhex(vecs_in[0]["c1"])).point()
    small = next(d for d in range(1, 100) if is_square(d**3 + 7))
    y_small = pow(small**3 + 7, (P + 1) // 4, P)

    def one(c1: bytes) -> str:
        return (_header(1) + c1 + row0[64:]).hex()

    bad = [
        ("", "MalformedCiphertext", "empty"),
        (_header(1)[:15].hex(), "MalformedCiphertext", "header truncated to 15 bytes"),
        (_header(1, magic=b"FBHD").hex() + row0.hex(), "MalformedCiphertext", "bad magic"),
        (_header(1, version=0).hex() + row0.hex(), "MalformedCiphertext", "version 0"),
        (_header(1, version=2).hex() + row0.hex(), "MalformedCiphertext", "version 2"),
        (_header(1, flags=1).hex() + row0.hex(), "MalformedCiphertext", "flags = 1"),
        (_header(1, reserved=1).hex() + row0.hex(), "MalformedCiphertext", "reserved = 1"),
        (_header(2).hex() + row0.hex(), "MalformedCiphertext", "count 2, one row"),
        (_header(1).hex() + row0[:127].hex(), "MalformedCiphertext", "row truncated to 127 bytes"),
        (_header(0).hex() + row0.hex(), "MalformedCiphertext", "count 0, one trailing row"),
        (_header(1).hex() + row0.hex() + "00", "MalformedCiphertext", "one trailing byte"),
        (_header(2**61).hex(), "MalformedCiphertext", "count 2^61 (overflows a byte length)"),
        (one(bytes.fromhex(f"{x:064x}{(y + 1) % P:064x}")),
         "InvalidPoint", "C1 off the curve (y + 1)"),
        (one(bytes.fromhex(f"{small + P:064x}{y_small:064x}")), "InvalidPoint",
         "C1.x = p + x0 (valid if reduced mod p)"),
        (one(bytes.fromhex(f"{0:064x}{1:064x}")), "InvalidPoint", "C1 = (0, 1): not infinity, not on the curve"),
        (one(bytes.fromhex(f"{small:064x}{0:064x}")), "InvalidPoint", "C1 = (x0, 0): y = 0 is never on the curve"),
    ]
    vecs = [{"blob": valid.hex(), "error": None, "pairs": [[v["c1"], v["c2"]] for v in vecs_in],
             "source": "elgamal_encrypt.json ciphertexts, uncompressed coordinates from coincurve format(False)"}]
    vecs += [{"blob": b, "error": e, "pairs": None, "source": f"hand-written: {why}"} for b, e, why in bad]
    return _doc("Ciphertexts wire format: a valid blob and blobs that must be rejected", vecs, format=WIRE_FORMAT)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).parent.parent / "tests/data/vectors")
    args = parser.parse_args(argv)
    rng = random.Random(SEED)
    files = {
        "mul_g.json": gen_mul_g(rng),
        "point_add.json": gen_point_add(rng),
        "point_mul.json": gen_point_mul(rng),
        "elgamal_encrypt.json": (elgamal := gen_elgamal(rng)),
        "elgamal_ops.json": gen_elgamal_ops(rng),
        "infinity.json": gen_infinity(),
        "invalid_points.json": gen_invalid_points(rng),
        "invalid_scalars.json": gen_invalid_scalars(),
        "invalid_decode.json": gen_invalid_decode(),
        "wire.json": gen_wire(elgamal),
        "packed_v3.json": packed_vectors.gen_packed(rng, _doc),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    for name, doc in files.items():
        (args.out / name).write_text(json.dumps(doc, indent=1) + "\n")
        print(f"wrote {args.out / name} ({len(doc['vectors'])} vectors)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
