"""Known-answer tests: fbh.crypto against coincurve-generated vectors (scripts/gen_vectors.py)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

import fbh.crypto as fc
from fbh.crypto._testing import encrypt_with_nonces

VECTORS = Path(__file__).resolve().parents[1] / "data" / "vectors"
INF = b"\x00"


def read_vectors(name: str) -> list[dict]:
    """The vectors of one file (pyca/pynacl tests/utils.py style)."""
    return json.loads((VECTORS / name).read_text())["vectors"]


def read_header(name: str) -> dict:
    doc = json.loads((VECTORS / name).read_text())
    return {k: v for k, v in doc.items() if k != "vectors"}


def params(name: str, *keys: str) -> list:
    return [pytest.param(v, id=f"{i}-" + "-".join(str(v[k])[:12] for k in keys)) for i, v in
            enumerate(read_vectors(name))]


def pair(c1: str, c2: str) -> tuple[bytes, bytes]:
    return bytes.fromhex(c1), bytes.fromhex(c2)


def point_ct(hex_point: str) -> fc.Ciphertexts:
    """A one-element ciphertext (P, P), to reach point arithmetic through the public API."""
    p = bytes.fromhex(hex_point)
    return fc.Ciphertexts.from_sec1([(p, p)])


def nonces(hex_rs: list[str]) -> np.ndarray:
    return np.frombuffer(b"".join(bytes.fromhex(r) for r in hex_rs), dtype=np.uint8).reshape(-1, 32)


def test_every_file_records_its_generator():
    for path in sorted(VECTORS.glob("*.json")):
        header = read_header(path.name)
        assert header["generator"] == "scripts/gen_vectors.py"
        assert header["coincurve_version"]
        assert all(v["source"] for v in read_vectors(path.name)), path.name


@pytest.mark.parametrize("v", params("mul_g.json", "k"))
def test_mul_g_is_public_key(v):
    sk = fc.PrivateKey.from_bytes(bytes.fromhex(v["k"]))
    assert sk.public_key.to_bytes() == bytes.fromhex(v["compressed"])
    assert sk.to_bytes() == bytes.fromhex(v["k"])


@pytest.mark.parametrize("v", params("mul_g.json", "k"))
def test_public_key_parses_both_encodings(v):
    for enc in ("compressed", "uncompressed"):
        assert fc.PublicKey.from_bytes(bytes.fromhex(v[enc])).to_bytes() == bytes.fromhex(v["compressed"])


@pytest.mark.parametrize("v", params("point_add.json", "a"))
def test_point_add(v):
    want = bytes.fromhex(v["sum"])
    a, b = point_ct(v["a"]), point_ct(v["b"])
    assert (a + b).to_sec1() == [(want, want)]
    assert fc.aggregate([a, b]).to_sec1() == [(want, want)]
    assert fc.aggregate([b.to_bytes(), a.to_bytes()]).to_sec1() == [(want, want)]


@pytest.mark.parametrize("v", params("point_mul.json", "k"))
def test_point_mul(v):
    want = bytes.fromhex(v["product"])
    assert (int(v["k"], 16) * point_ct(v["point"])).to_sec1() == [(want, want)]


def test_elgamal_encrypt_batched_and_one_at_a_time():
    header = read_header("elgamal_encrypt.json")
    vecs = read_vectors("elgamal_encrypt.json")
    sk = fc.PrivateKey.from_bytes(bytes.fromhex(header["secret_key"]))
    pk = sk.public_key
    assert pk.to_bytes() == bytes.fromhex(header["public_key"])
    m = np.array([v["m"] for v in vecs], dtype=np.int64)
    want = [pair(v["c1"], v["c2"]) for v in vecs]
    batched = encrypt_with_nonces(pk, m, nonces([v["r"] for v in vecs]))
    assert batched.to_sec1() == want
    for i, v in enumerate(vecs):
        single = encrypt_with_nonces(pk, m[i : i + 1], nonces([v["r"]]))
        assert single.to_sec1() == [want[i]], v["source"]


@pytest.mark.parametrize("constant_time", [True, False])
def test_elgamal_vectors_decrypt(constant_time):
    header = read_header("elgamal_encrypt.json")
    sk = fc.PrivateKey.from_bytes(bytes.fromhex(header["secret_key"]))
    vecs = [v for v in read_vectors("elgamal_encrypt.json") if abs(v["m"]) <= 2**20]
    ct = fc.Ciphertexts.from_sec1([pair(v["c1"], v["c2"]) for v in vecs])
    out = fc.decrypt(sk, ct, bound=2**20, constant_time=constant_time)
    assert out.dtype == np.int64
    assert out.tolist() == [v["m"] for v in vecs]


@pytest.fixture(scope="module")
def ops_key():
    return fc.PrivateKey.from_bytes(bytes.fromhex(read_header("elgamal_ops.json")["secret_key"]))


@pytest.mark.parametrize("v", params("elgamal_ops.json", "op", "plaintext"))
def test_elgamal_ops(v, ops_key):
    inputs = [fc.Ciphertexts.from_sec1([pair(*c)]) for c in v["inputs"]]
    want = [pair(*v["output"])]
    if v["op"] == "aggregate":
        got = [fc.aggregate(inputs), fc.aggregate([c.to_bytes() for c in inputs]), sum(inputs[1:], inputs[0])]
    else:
        got = [v["k"] * inputs[0]]
    for ct in got:
        assert ct.to_sec1() == want, v["source"]
        assert fc.decrypt(ops_key, ct, bound=2**20).tolist() == [v["plaintext"]]
        assert fc.Ciphertexts.from_bytes(ct.to_bytes()).to_sec1() == want


@pytest.mark.parametrize("v", params("infinity.json", "op"))
def test_infinity(v):
    if v["op"] == "decrypt":
        ct = fc.Ciphertexts.from_sec1([pair(v["c1"], v["c2"])])
        for _ in range(2):
            sk = fc.PrivateKey.generate()
            assert fc.decrypt(sk, ct, bound=2**20).tolist() == [v["plaintext"]]
            ct = fc.Ciphertexts.from_bytes(ct.to_bytes())
        return
    want = bytes.fromhex(v["result"])
    if v["op"] == "mul_g":
        g = fc.PrivateKey.from_bytes((1).to_bytes(32, "big")).public_key.to_bytes()
        got = int(v["k"], 16) * fc.Ciphertexts.from_sec1([(g, g)])
    else:
        got = point_ct(v["a"]) + point_ct(v["b"])
    assert got.to_sec1() == [(want, want)]
    assert fc.Ciphertexts.from_bytes(got.to_bytes()).to_sec1() == [(want, want)]


def test_wire_format_is_pinned():
    (valid,) = [v for v in read_vectors("wire.json") if v["error"] is None]
    blob = bytes.fromhex(valid["blob"])
    pairs = [pair(*p) for p in valid["pairs"]]
    ct = fc.Ciphertexts.from_bytes(blob)
    assert ct.to_sec1() == pairs
    assert fc.Ciphertexts.from_sec1(pairs).to_bytes() == blob
    header = read_header("elgamal_encrypt.json")
    pk = fc.PublicKey.from_bytes(bytes.fromhex(header["public_key"]))
    vecs = read_vectors("elgamal_encrypt.json")
    m = np.array([v["m"] for v in vecs], dtype=np.int64)
    assert encrypt_with_nonces(pk, m, nonces([v["r"] for v in vecs])).to_bytes() == blob


def test_vectors_are_reproducible(tmp_path, capsys):
    # The committed files are exactly what scripts/gen_vectors.py writes (no hand edits, no drift).
    script = Path(__file__).resolve().parents[2] / "scripts" / "gen_vectors.py"
    spec = importlib.util.spec_from_file_location("gen_vectors", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main(["--out", str(tmp_path)]) == 0
    capsys.readouterr()
    written = sorted(p.name for p in tmp_path.glob("*.json"))
    assert written == sorted(p.name for p in VECTORS.glob("*.json"))
    for name in written:
        fresh, committed = (json.loads((d / name).read_text()) for d in (tmp_path, VECTORS))
        fresh.pop("coincurve_version")  # another coincurve release must produce the same points
        committed.pop("coincurve_version")
        assert fresh == committed, name
