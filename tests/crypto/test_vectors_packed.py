"""Known-answer tests for packed ciphertexts (wire format v3) against vectors written
independently of fbh by scripts/packed_vectors.py (coincurve points, hashlib transcript)."""

from __future__ import annotations

import hashlib
import json
import struct
from pathlib import Path

import numpy as np
import pytest

import fbh.crypto as fc
from fbh.crypto import _ec
from fbh.crypto._testing import encrypt_packed_with_nonces

DOC = json.loads((Path(__file__).resolve().parents[1] / "data/vectors/packed_v3.json").read_text())
V = DOC["vectors"][0]
N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


@pytest.fixture(scope="module")
def ks():
    return fc.KeySet.from_bytes(bytes.fromhex(DOC["secret_key_set"]))


def nonces() -> np.ndarray:
    rows = [bytes.fromhex(r) for r in V["proof"]["r"]] + [bytes.fromhex(V["proof"]["a"])]
    return np.frombuffer(b"".join(rows), dtype=np.uint8).reshape(-1, 32)


def test_key_set_matches_coincurve(ks):
    assert ks.public.to_bytes().hex() == DOC["public_key_set"]
    assert ks.public.digest().hex() == DOC["public_key_set_digest"]
    assert fc.PublicKeySet.from_bytes(bytes.fromhex(DOC["public_key_set"])) == ks.public


@pytest.mark.parametrize("constant_time", [True, False])
@pytest.mark.parametrize("threads", [1, 2])
def test_encrypt_with_fixed_nonces_gives_the_vector(ks, constant_time, threads):
    ct = encrypt_packed_with_nonces(
        ks.public, V["values"], nonces(), context=bytes.fromhex(V["context"]),
        threads=threads, constant_time=constant_time,
    )
    assert ct.to_bytes().hex() == V["blob"]


def test_vector_verifies_and_decrypts(ks):
    ct = fc.PackedCiphertexts.from_bytes(bytes.fromhex(V["blob"]))
    ct.verify(bytes.fromhex(V["context"]))
    assert fc.decrypt_packed(ks, ct).tolist() == V["values"]
    with pytest.raises(fc.InvalidProof):
        ct.verify(bytes.fromhex(V["other_context"]))


def test_proof_matches_the_python_transcript():
    blob = bytes.fromhex(V["blob"])
    _, _, _, k, count, digest = struct.unpack_from("<4sBBHQ32s", blob)
    assert digest == hashlib.sha256(b"FBH/packed-v3/context\x00" + bytes.fromhex(V["context"])).digest()
    proof, blocks = blob[48 : 48 + 96], blob[48 + 96 :]
    want = V["proof"]
    seed = _ec._transcript_seed(digest, k, count, proof[:64], blocks)
    assert seed.hex() == want["seed"]
    nb = len(want["r"])
    got = [int.from_bytes(e, "big") for e in _ec._batch_coeffs(seed, 0, nb)]
    assert got == [int(e, 16) for e in want["coefficients"]]
    assert [int.from_bytes(e, "big") for e in _ec._batch_coeffs(seed, 1, nb)] == got[1:]
    assert proof[64:].hex() == want["z"]
    # z = a + sum_i e_i r_i (mod n): the batched Schnorr response, from the vector's nonces.
    z = (int(want["a"], 16) + sum(e * int(r, 16) for e, r in zip(got, want["r"], strict=True))) % N
    assert f"{z:064x}" == want["z"]


def test_aggregate_matches_coincurve_sums(ks):
    agg = fc.aggregate_packed([bytes.fromhex(V["blob"]), bytes.fromhex(V["other_blob"])])
    assert agg.to_bytes().hex() == V["aggregate"]
    want = [a + b for a, b in zip(V["values"], V["other_values"], strict=True)]
    assert fc.decrypt_packed(ks, agg, bound=2**21).tolist() == want


@pytest.mark.parametrize("v", DOC["invalid"], ids=lambda v: v["source"][14:40])
def test_invalid_blobs_are_rejected(v):
    with pytest.raises(getattr(fc, v["error"])):
        fc.PackedCiphertexts.from_bytes(bytes.fromhex(v["blob"]))


def test_sha256_matches_hashlib():
    for n in [0, 1, 55, 56, 63, 64, 65, 119, 120, 128, 1000, 2208, 4099]:
        data = bytes(range(256)) * (n // 256 + 1)
        assert _ec._sha256(data[:n]) == hashlib.sha256(data[:n]).digest()
