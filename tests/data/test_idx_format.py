"""IDX decoding: round trips, and clear errors for every kind of corruption."""

from __future__ import annotations

import gzip
import hashlib

import numpy as np
import pytest

from fbh.data import CorruptFileError, IdxFormatError, read_idx, read_idx_gz


@pytest.mark.parametrize("dtype", ["u1", "i1", ">i2", ">i4", ">f4", ">f8"])
def test_round_trip_all_types(make_idx, dtype):
    arr = (np.arange(2 * 3 * 4) - 5).astype(dtype).reshape(2, 3, 4)
    out = read_idx(make_idx(arr))
    assert out.shape == (2, 3, 4)
    assert out.dtype.isnative
    np.testing.assert_array_equal(out, arr)


def test_gz_round_trip_returns_raw_digest(make_idx):
    raw = make_idx(np.arange(10, dtype=np.uint8))
    arr, digest = read_idx_gz(gzip.compress(raw), name="labels.gz", ndim=1)
    np.testing.assert_array_equal(arr, np.arange(10))
    assert digest == hashlib.sha256(raw).hexdigest()


def test_idx_format_error_is_a_value_error():
    assert issubclass(IdxFormatError, CorruptFileError)
    assert issubclass(CorruptFileError, ValueError)


@pytest.mark.parametrize(
    ("mutate", "match"),
    [
        (lambda b: b[:3], "too short"),
        (lambda b: b"\x01" + b[1:], "bad IDX magic"),
        (lambda b: b[:2] + b"\x07" + b[3:], "bad IDX magic"),  # unknown type code
        (lambda b: b[:3] + b"\x00" + b[4:], "bad IDX magic"),  # zero dimensions
        (lambda b: b[:6], "header truncated"),
        (lambda b: b[:-1], "promises 24 payload bytes but the file has 23"),
        (lambda b: b + b"\x00", "promises 24 payload bytes but the file has 25"),
    ],
)
def test_corrupt_idx_raises(make_idx, mutate, match):
    good = make_idx(np.zeros((2, 3, 4), np.uint8))
    with pytest.raises(IdxFormatError, match=match):
        read_idx(mutate(good), name="bad.idx")


def test_wrong_ndim_raises(make_idx):
    with pytest.raises(IdxFormatError, match="expected 1 dimensions"):
        read_idx(make_idx(np.zeros((2, 2), np.uint8)), name="labels", ndim=1)


def test_error_names_the_file(make_idx):
    with pytest.raises(IdxFormatError, match="^some/file.gz: "):
        read_idx_gz(b"not gzip at all", name="some/file.gz")


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (b"plain bytes", "not a valid gzip file"),
        (gzip.compress(b"\x00\x00\x08\x01\x00\x00\x00\x05abcde")[:-12], "not a valid gzip file"),
        (gzip.compress(b"\x00\x00\x08\x01\x00\x00\x00\x05abcd"), "promises 5 payload bytes"),
        (gzip.compress(b"\x00\x00\x08\x01\x00\x00\x00\x05abcdef"), "promises 5 payload bytes"),
        (gzip.compress(b"\x00\x00\x08\x03" + b"\xff" * 12), "implausible"),
    ],
)
def test_corrupt_gzip_raises(data, match):
    with pytest.raises(IdxFormatError, match=match):
        read_idx_gz(data, name="x.gz")
