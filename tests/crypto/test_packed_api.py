"""Packed ciphertexts: round trips, padding, slot-wise homomorphism, wire format v3, key sets."""

from __future__ import annotations

import copy
import pickle
import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fbh.crypto as fc
from fbh.crypto.packed import HEADER

BOUND = 2**16
CTX = b"test context"
PROFILE = settings(deadline=None, max_examples=25)
small = st.integers(min_value=-(2**14), max_value=2**14 - 1)


@pytest.fixture(scope="session")
def ks():
    return fc.KeySet.generate(k=4)


@pytest.fixture(scope="session")
def table():
    return fc.DecodingTable(BOUND)


def dec(ks, ct, table, **kw):
    return fc.decrypt_packed(ks, ct, bound=BOUND, table=table, **kw).tolist()


@pytest.mark.parametrize("n", [0, 1, 3, 4, 5, 9])
@pytest.mark.parametrize("constant_time", [True, False])
def test_round_trip_with_padding(ks, table, n, constant_time):
    values = list(range(-n, 2 * n, 3))[:n]
    ct = fc.encrypt_packed(ks.public, values, context=CTX, constant_time=constant_time, threads=2)
    assert (ct.count, ct.k, ct.num_blocks) == (n, 4, -(-n // 4))
    assert ct.context_digest == fc.context_digest(CTX)
    ct.verify(CTX)
    blob = ct.to_bytes()
    assert len(blob) == HEADER.size + 96 + ct.num_blocks * 5 * 64 == ct.nbytes
    back = fc.PackedCiphertexts.from_bytes(blob)
    assert back == ct
    assert dec(ks, back, table, constant_time=constant_time) == values
    assert dec(ks, blob, table) == values


def test_default_k_and_bytes_per_value():
    ks = fc.KeySet.generate()
    assert ks.k == fc.DEFAULT_K
    n = 10 * fc.DEFAULT_K
    ct = fc.encrypt_packed(ks.public, np.zeros(n, dtype=np.int64), context=CTX, constant_time=False)
    assert (ct.nbytes - HEADER.size) / n <= 72


@PROFILE
@given(pairs=st.lists(st.tuples(small, small), min_size=1, max_size=11), s=st.integers(-3, 3))
def test_slot_wise_homomorphism(ks, table, pairs, s):
    a, b = ([p[i] for p in pairs] for i in (0, 1))
    ca = fc.encrypt_packed(ks.public, a, context=b"a", constant_time=False)
    cb = fc.encrypt_packed(ks.public, b, context=b"b", constant_time=False)
    assert dec(ks, ca + cb, table) == [x + y for x, y in pairs]
    assert dec(ks, fc.aggregate_packed([ca.to_bytes(), cb]), table) == [x + y for x, y in pairs]
    assert dec(ks, ca - cb, table) == [x - y for x, y in pairs]
    assert dec(ks, -ca, table) == [-x for x in a]
    assert dec(ks, s * ca, table) == [s * x for x in a]
    assert dec(ks, sum([ca, cb, ca]), table) == [2 * x + y for x, y in pairs]


def test_aggregate_is_marked_and_carries_no_proofs(ks):
    ca = fc.encrypt_packed(ks.public, [1, 2, 3], context=b"a")
    agg = fc.aggregate_packed([ca, ca])
    assert agg.is_aggregate and not ca.is_aggregate
    blob = agg.to_bytes()
    assert blob[5] == 1  # the aggregate flag
    assert fc.PackedCiphertexts.from_bytes(blob).is_aggregate
    with pytest.raises(fc.InvalidProof, match="aggregate carries no proofs"):
        agg.verify(b"a")
    with pytest.raises(fc.InvalidProof, match="aggregate"):
        (3 * ca).verify(b"a")


def test_aggregate_checks_shapes_and_contexts(ks):
    ca = fc.encrypt_packed(ks.public, [1, 2, 3], context=b"a")
    cb = fc.encrypt_packed(ks.public, [1, 2], context=b"b")
    with pytest.raises(ValueError, match="input 1 has k = 4, count = 2"):
        fc.aggregate_packed([ca, cb])
    with pytest.raises(ValueError, match="at least one"):
        fc.aggregate_packed([])
    with pytest.raises(TypeError, match="input 0 must be"):
        fc.aggregate_packed([[1, 2]])
    cc = fc.encrypt_packed(ks.public, [4, 5, 6], context=b"c")
    fc.aggregate_packed([ca, cc], contexts=[b"a", b"c"])
    with pytest.raises(fc.InvalidProof):
        fc.aggregate_packed([ca, cc], contexts=[b"a", b"a"])


def test_v1_blob_names_its_version(ks):
    sk = fc.PrivateKey.generate()
    v1 = fc.encrypt(sk.public_key, [1, 2]).to_bytes()
    with pytest.raises(fc.UnsupportedVersion, match="version 1") as e:
        fc.PackedCiphertexts.from_bytes(v1)
    assert e.value.version == 1


def test_v2_blob_names_its_version(ks):
    """One proof per blob replaced v2's proof per block: a v2 blob is refused by name."""
    blob = bytearray(fc.encrypt_packed(ks.public, [1, 2, 3], context=CTX).to_bytes())
    blob[4] = 2
    with pytest.raises(fc.UnsupportedVersion, match="version 2") as e:
        fc.PackedCiphertexts.from_bytes(bytes(blob))
    assert e.value.version == 2


def test_keyset_serialization_and_secrecy(ks):
    pub = ks.public
    assert fc.PublicKeySet.from_bytes(pub.to_bytes()) is pub  # one instance: tables built once
    assert len(pub.digest()) == 32 and pub.k == 4
    assert len(pub.to_bytes()) == 8 + 4 * 64
    assert fc.KeySet.from_bytes(ks.to_bytes()) == ks
    assert "<secret>" in repr(ks)
    for leak in (pickle.dumps, copy.copy, copy.deepcopy):
        with pytest.raises(TypeError, match="cannot be pickled"):
            leak(ks)
    other = fc.KeySet.generate(k=4)
    assert other.public != pub
    # Slot keys are independent: no two equal, no simple relation between neighbours.
    pts = np.frombuffer(pub.to_bytes()[8:], dtype=np.uint8).reshape(4, 64)
    assert len({p.tobytes() for p in pts}) == 4


def test_partial_decrypt_matches_decrypt(ks, table):
    values = [5, -6, 7, 8, 9]
    ct = fc.encrypt_packed(ks.public, values, context=CTX)
    d = fc.partial_decrypt(ks, ct)
    assert d.shape == (2, 4, 64)
    # C_j - D_j = m_j G: subtracting D_j from the C_j leaves an encryption under the zero key,
    # whose decryption is the value itself; cross-check against the fast path.
    assert np.array_equal(d, fc.partial_decrypt(ks, ct, constant_time=False, threads=1))
    assert dec(ks, ct, table) == values


def test_wrong_key_set_never_gives_a_number(ks, table):
    other = fc.KeySet.generate(k=4)
    ct = fc.encrypt_packed(ks.public, [1, 2, 3], context=CTX)
    with pytest.raises(fc.PlaintextOutOfRange, match="index 0"):
        fc.decrypt_packed(other, ct, bound=BOUND, table=table)
    with pytest.raises(ValueError, match="k = 8 but the ciphertext has k = 4"):
        fc.decrypt_packed(fc.KeySet.generate(k=8), ct, bound=BOUND, table=table)


def test_header_fields_are_checked(ks):
    blob = bytearray(fc.encrypt_packed(ks.public, [1, 2, 3, 4, 5], context=CTX).to_bytes())
    magic, version, flags, k, count, digest = HEADER.unpack_from(blob)

    def with_header(**kw):
        fields = dict(magic=magic, version=version, flags=flags, k=k, count=count, digest=digest)
        fields.update(kw)
        return HEADER.pack(*fields.values()) + bytes(blob[HEADER.size :])

    cases = {
        "bad magic": with_header(magic=b"XXXX"),
        "flags": with_header(flags=6),
        "k = 0": with_header(k=0),
        "does not match its header": with_header(count=9),
        "truncated": bytes(blob[:20]),
    }
    for what, bad in cases.items():
        with pytest.raises(fc.MalformedCiphertext, match=what):
            fc.PackedCiphertexts.from_bytes(bad)
    with pytest.raises(fc.MalformedCiphertext, match="does not match"):
        fc.PackedCiphertexts.from_bytes(bytes(blob) + b"\x00")
    with pytest.raises(TypeError, match="must be bytes"):
        fc.PackedCiphertexts.from_bytes("text")
    assert struct.calcsize("<4sBBHQ32s") == 48


def test_invalid_points_and_scalars_are_rejected(ks):
    ct = fc.encrypt_packed(ks.public, list(range(8)), context=CTX)
    blob = bytearray(ct.to_bytes())
    body = 48 + 96  # header, then the proof A || z, then blocks of 5 points
    off_curve = bytearray(blob)
    off_curve[body + 5 * 64 + 2 * 64 + 63] ^= 1  # block 1, C_1.y
    with pytest.raises(fc.InvalidPoint, match="block 1"):
        fc.PackedCiphertexts.from_bytes(off_curve)
    big_z = bytearray(blob)
    big_z[48 + 64 : body] = b"\xff" * 32  # z >= n
    with pytest.raises(fc.InvalidPoint, match="proof is invalid"):
        fc.PackedCiphertexts.from_bytes(big_z)
    inf_a = bytearray(blob)
    inf_a[48 : 48 + 64] = bytes(64)  # A = infinity
    with pytest.raises(fc.InvalidPoint, match="proof is invalid"):
        fc.PackedCiphertexts.from_bytes(inf_a)
    off_a = bytearray(blob)
    off_a[48 + 63] ^= 1  # A off the curve
    with pytest.raises(fc.InvalidPoint, match="proof is invalid"):
        fc.PackedCiphertexts.from_bytes(off_a)


def test_raw_arrays_are_validated_and_copied(ks):
    ct = fc.encrypt_packed(ks.public, list(range(8)), context=CTX)
    pts = np.array(ct._points)
    proofs = np.array(ct._proof)
    ok = fc.PackedCiphertexts(pts, proofs, count=8, context_digest=ct.context_digest)
    pts[0, 0, 5] ^= 1  # the caller's buffer changes after construction: the object does not
    assert ok == ct
    with pytest.raises(fc.InvalidPoint, match="block 0"):
        fc.PackedCiphertexts(pts, proofs, count=8, context_digest=ct.context_digest)
    with pytest.raises(ValueError, match="count 9 needs 3 blocks"):
        fc.PackedCiphertexts(ct._points, proofs, count=9, context_digest=ct.context_digest)
    with pytest.raises(ValueError, match="shape"):
        fc.PackedCiphertexts(ct._points[:, :, :32], proofs, count=8, context_digest=ct.context_digest)
    with pytest.raises(ValueError, match="proof must have shape"):
        fc.PackedCiphertexts(ct._points, np.zeros((2, 96), np.uint8), count=8,
                             context_digest=ct.context_digest)


def test_invalid_arguments(ks):
    with pytest.raises(ValueError, match="k must be in"):
        fc.KeySet.generate(k=0)
    with pytest.raises(TypeError, match="PublicKeySet"):
        fc.encrypt_packed(ks, [1], context=CTX)
    with pytest.raises(TypeError, match="context must be bytes"):
        fc.encrypt_packed(ks.public, [1], context="text")
    with pytest.raises(fc.PlaintextOutOfRange, match="index 1"):
        fc.encrypt_packed(ks.public, [0, 2**47], context=CTX)
    with pytest.raises(fc.UnsupportedVersion, match="version 3"):
        fc.PublicKeySet.from_bytes(b"FBHK\x03\x00\x01\x00" + bytes(64))
    bad_point = b"FBHK\x02\x00\x01\x00" + bytes(63) + b"\x01"
    with pytest.raises(fc.InvalidPoint, match="key 0"):
        fc.PublicKeySet.from_bytes(bad_point)


def test_cancellation_and_zero_multiple_give_infinity_blocks(ks, table):
    values = [3, -4, 5, 6, 7]
    ct = fc.encrypt_packed(ks.public, values, context=CTX)
    zero = ct - ct  # every point, R included, is the point at infinity
    assert not zero._points.any()
    assert dec(ks, zero, table) == [0] * 5
    assert dec(ks, 0 * ct, table) == [0] * 5
    assert not fc.partial_decrypt(ks, zero).any()
    assert dec(ks, zero + ct, table) == values
    empty = fc.encrypt_packed(ks.public, [], context=CTX)
    assert dec(ks, fc.aggregate_packed([empty, empty.to_bytes()]), table) == []
    empty.verify(CTX)
