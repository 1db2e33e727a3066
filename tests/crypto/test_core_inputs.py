"""Invalid inputs at the core boundary: wire blobs, points, keys, plaintexts, empty batches."""

from __future__ import annotations

import copy
import pickle
import struct

import numpy as np
import pytest

import fbh.crypto as fc

P = 2**256 - 2**32 - 977


@pytest.fixture(scope="session")
def keys():
    sk = fc.PrivateKey.generate()
    return sk, sk.public_key


@pytest.fixture(scope="session")
def blob(keys):
    return fc.encrypt(keys[1], [1, 2, 3]).to_bytes()


def with_row_bytes(blob: bytes, offset: int, data: bytes) -> bytes:
    return blob[:offset] + data + blob[offset + len(data):]


@pytest.mark.parametrize(("mutate", "match"), [
    (lambda b: b"XXXX" + b[4:], "magic"),
    (lambda b: b[:4] + b"\x02" + b[5:], "version"),
    (lambda b: b[:5] + b"\x01" + b[6:], "flags"),
    (lambda b: b[:-1], "truncated"),
    (lambda b: b[:10], "truncated"),
    (lambda b: b + b"\x00", "trailing"),
    (lambda b: b[:8] + struct.pack("<Q", 4) + b[16:], "truncated"),
])
def test_malformed_blobs_are_rejected(blob, mutate, match):
    with pytest.raises(fc.MalformedCiphertext, match=match):
        fc.Ciphertexts.from_bytes(mutate(blob))
    with pytest.raises(fc.MalformedCiphertext):
        fc.aggregate([blob, mutate(blob)])


@pytest.mark.parametrize("where", [0, 32, 64, 96])
def test_invalid_points_name_the_index(blob, where):
    pos = 16 + 128 * 2 + where + 31  # last byte of one coordinate of ciphertext 2
    off_curve = with_row_bytes(blob, pos, bytes([blob[pos] ^ 1]))
    x_too_big = with_row_bytes(blob, 16 + 128 * 1 + (where // 64) * 64, P.to_bytes(32, "big"))
    for bad, index in ((off_curve, 2), (x_too_big, 1)):
        with pytest.raises(fc.InvalidPoint, match=f"ciphertext {index}"):
            fc.Ciphertexts.from_bytes(bad)
        with pytest.raises(fc.InvalidPoint, match=f"input 1, ciphertext {index}"):
            fc.aggregate([blob, bad, blob])


def test_aggregate_length_mismatch_names_both(keys):
    pk = keys[1]
    with pytest.raises(ValueError, match="3 ciphertexts but input 0 has 2"):
        fc.aggregate([fc.encrypt(pk, [1, 2]), fc.encrypt(pk, [1, 2, 3])])
    with pytest.raises(ValueError, match="at least one"):
        fc.aggregate([])


@pytest.mark.parametrize("data", [
    b"", b"\x02" * 32, b"\x05" + bytes(32), b"\x02" + P.to_bytes(32, "big"),
    b"\x04" + bytes(64), b"\x00", bytes(33), b"\x04" + (1).to_bytes(32, "big") * 2,
])
def test_public_key_rejects(data):
    with pytest.raises(fc.InvalidPoint):
        fc.PublicKey.from_bytes(data)


def test_public_key_round_trips(keys):
    pk = keys[1]
    assert fc.PublicKey.from_bytes(pk.to_bytes()) == pk
    assert fc.PublicKey.from_bytes(pk.to_bytes(compressed=False)) == pk
    assert len(pk.to_bytes()) == 33


def test_private_key_is_not_copyable_and_hides_secret(keys):
    sk = keys[0]
    for action in (pickle.dumps, copy.copy, copy.deepcopy):
        with pytest.raises(TypeError):
            action(sk)
    assert sk.to_bytes().hex() not in repr(sk)
    assert fc.PrivateKey.from_bytes(sk.to_bytes()) == sk


def test_plaintext_range_and_shape(keys):
    pk = keys[1]
    big = fc.MAX_PLAINTEXT + 1
    for bad in ([0, 1, big], [0, 1, -big], np.array([0, 1, 2**63 - 1])):
        with pytest.raises(fc.PlaintextOutOfRange, match="index 2") as info:
            fc.encrypt(pk, bad)
        assert info.value.index == 2
    with pytest.raises(ValueError, match="1-D"):
        fc.encrypt(pk, np.zeros((2, 2), dtype=np.int64))
    with pytest.raises(ValueError, match="integers"):
        fc.encrypt(pk, [0.5, 1.5])
    edge = fc.encrypt(pk, [fc.MAX_PLAINTEXT, -fc.MAX_PLAINTEXT])
    assert len(edge) == 2


def test_empty_batches(keys):
    sk, pk = keys
    empty = fc.encrypt(pk, np.zeros(0, dtype=np.int64))
    assert len(empty) == 0
    assert len(fc.aggregate([empty, empty.to_bytes()])) == 0
    assert fc.decrypt(sk, empty, bound=4).shape == (0,)
    assert fc.Ciphertexts.from_bytes(empty.to_bytes()) == empty
    assert fc.Ciphertexts.from_sec1([]) == empty
    assert len(3 * empty) == 0 and len(-empty) == 0


def test_sec1_round_trip_and_validation(keys):
    pk = keys[1]
    ct = fc.encrypt(pk, [4, -4, 0])
    zero = ct - ct
    pairs = (ct + zero).to_sec1() + zero.to_sec1()
    back = fc.Ciphertexts.from_sec1(pairs)
    assert back.to_sec1() == pairs and back[:3] == ct and pairs[-1] == (b"\x00", b"\x00")
    with pytest.raises(fc.InvalidPoint, match="ciphertext 1"):
        fc.Ciphertexts.from_sec1([pairs[0], (b"\x02" + P.to_bytes(32, "big"), pairs[0][1])])
