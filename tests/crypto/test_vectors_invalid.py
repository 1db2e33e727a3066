"""Invalid-input vectors: every malformed point, key, blob and plaintext must raise, never decode."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import fbh.crypto as fc

VECTORS = Path(__file__).resolve().parents[1] / "data" / "vectors"


def read_doc(name: str) -> dict:
    return json.loads((VECTORS / name).read_text())


def params(name: str, key: str) -> list:
    return [pytest.param(v, id=f"{i}-{v[key]}") for i, v in enumerate(read_doc(name)["vectors"])]


@pytest.fixture(scope="module")
def keys():
    sk = fc.PrivateKey.generate()
    return sk, sk.public_key


def test_error_hierarchy():
    for cls in (fc.InvalidPoint, fc.MalformedCiphertext, fc.PlaintextOutOfRange):
        assert issubclass(cls, fc.CryptoError)
    assert issubclass(fc.CryptoError, ValueError)


@pytest.mark.parametrize("v", params("invalid_points.json", "kind"))
def test_public_key_rejects(v):
    with pytest.raises(getattr(fc, v["error"])) as info:
        fc.PublicKey.from_bytes(bytes.fromhex(v["point"]))
    assert str(info.value), v["source"]


@pytest.mark.parametrize("v", params("invalid_points.json", "kind"))
def test_ciphertext_rejects_bad_points(v):
    bad = bytes.fromhex(v["point"])
    if v["kind"] == "infinity_as_key":  # infinity is a valid ciphertext component
        assert fc.Ciphertexts.from_sec1([(bad, bad)]).to_sec1() == [(bad, bad)]
        return
    good = bytes.fromhex(read_doc("invalid_points.json")["valid_point"])
    for pairs in ([(bad, good)], [(good, good), (good, bad)]):
        with pytest.raises(fc.CryptoError) as info:
            fc.Ciphertexts.from_sec1(pairs)
        assert str(info.value)


@pytest.mark.parametrize("v", params("invalid_scalars.json", "secret"))
def test_private_key_rejects(v):
    with pytest.raises(getattr(fc, v["error"])) as info:
        fc.PrivateKey.from_bytes(bytes.fromhex(v["secret"]))
    assert str(info.value)


@pytest.mark.parametrize("v", params("invalid_decode.json", "bound"))
def test_decode_bound(v, keys):
    sk, pk = keys
    ct = fc.encrypt(pk, np.array(v["values"], dtype=np.int64))
    for constant_time in (True, False):
        if v["error"] is None:
            assert fc.decrypt(sk, ct, bound=v["bound"], constant_time=constant_time).tolist() == v["values"]
            continue
        with pytest.raises(getattr(fc, v["error"])) as info:
            fc.decrypt(sk, ct, bound=v["bound"], constant_time=constant_time)
        assert info.value.index == v["index"]
        assert str(v["index"]) in str(info.value)


# Wire-format mutations: generated from a real blob, because the header layout is fbh's own.


@pytest.fixture(scope="module")
def blob(keys):
    return fc.encrypt(keys[1], np.arange(-3, 4, dtype=np.int64)).to_bytes()


@pytest.fixture(scope="module")
def header_size(keys):
    one = fc.encrypt(keys[1], np.zeros(1, dtype=np.int64)).to_bytes()
    two = fc.encrypt(keys[1], np.zeros(2, dtype=np.int64)).to_bytes()
    per_value = len(two) - len(one)
    assert per_value == 128
    return len(one) - per_value


def test_wire_round_trip(blob):
    assert fc.Ciphertexts.from_bytes(blob).to_bytes() == blob


@pytest.mark.parametrize("cut", [0, 1, -1, -64, -128, "header-1", "header"])
def test_truncated_blob(blob, header_size, cut):
    end = {"header-1": header_size - 1, "header": header_size}.get(cut, cut)
    data = blob[:end] if cut != "header" else blob[:end] + b"\x00"  # header + stray byte
    with pytest.raises(fc.MalformedCiphertext) as info:
        fc.Ciphertexts.from_bytes(data)
    assert str(info.value)


def test_trailing_bytes(blob):
    for extra in (b"\x00", bytes(127), bytes(129)):
        with pytest.raises(fc.MalformedCiphertext):
            fc.Ciphertexts.from_bytes(blob + extra)


def test_every_header_byte_is_checked(blob, header_size):
    for i in range(header_size):
        for flip in (0x01, 0x80):
            bad = bytearray(blob)
            bad[i] ^= flip
            with pytest.raises(fc.MalformedCiphertext):
                fc.Ciphertexts.from_bytes(bytes(bad))


@pytest.mark.parametrize("offset", [0, 31, 32, 63, 64, 100, 127])
def test_corrupted_point_is_rejected(blob, header_size, offset):
    bad = bytearray(blob)
    bad[header_size + 128 * 2 + offset] ^= 0x01
    with pytest.raises(fc.CryptoError):
        fc.Ciphertexts.from_bytes(bytes(bad))


def test_non_bytes_blob():
    with pytest.raises((TypeError, fc.CryptoError)):
        fc.Ciphertexts.from_bytes("not bytes")  # type: ignore[arg-type]


def test_encrypt_rejects_out_of_range_plaintext(keys):
    _, pk = keys
    big = fc.MAX_PLAINTEXT
    assert 2**40 <= big < 2**63 - 1
    ok = np.array([big, -big, 0], dtype=np.int64)
    assert len(fc.encrypt(pk, ok)) == 3
    cases = (([0, big + 1], 1), ([-big - 1, 0], 0), ([1, 2, np.iinfo(np.int64).min], 2),
             ([np.iinfo(np.int64).max, 5], 0))
    for values, index in cases:
        for constant_time in (True, False):
            with pytest.raises(fc.PlaintextOutOfRange) as info:
                fc.encrypt(pk, np.array(values, dtype=np.int64), constant_time=constant_time)
            assert info.value.index == index
            assert f"index {index}" in str(info.value)


@pytest.mark.parametrize("v", [v for v in params("wire.json", "error") if v.values[0]["error"]])
def test_wire_vectors_rejected(v):
    blob = bytes.fromhex(v["blob"])
    error = getattr(fc, v["error"])
    with pytest.raises(error) as info:
        fc.Ciphertexts.from_bytes(blob)
    assert str(info.value), v["source"]
    valid = fc.Ciphertexts.from_sec1([])
    if error is fc.InvalidPoint:  # aggregation validates points of wire inputs too
        one = fc.Ciphertexts.from_bytes(bytes.fromhex(read_doc("wire.json")["vectors"][0]["blob"]))
        valid = fc.Ciphertexts.from_sec1(one.to_sec1()[:1])
    with pytest.raises(error):
        fc.aggregate([valid, blob])
    with pytest.raises(error):
        fc.aggregate([blob, valid.to_bytes()])
