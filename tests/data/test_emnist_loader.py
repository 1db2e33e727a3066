"""EMNIST from an archive built in NIST's layout (no real EMNIST arrays exist here).

The archive holds real MNIST images stored the EMNIST way (transposed), letters
labels from 1, and the real official mapping files.
"""

from __future__ import annotations

import gzip
import hashlib
import zipfile

import numpy as np
import pytest

from fbh.data import (
    ChecksumError,
    CorruptFileError,
    DatasetNotFoundError,
    IdxFormatError,
    load_dataset,
    sources,
)

LETTERS = tuple(f"{chr(c)}/{chr(c + 32)}" for c in range(ord("A"), ord("Z") + 1))


@pytest.fixture
def zipped(emnist_fixture, tmp_path, monkeypatch):
    """``<tmp>/d/emnist/gzip.zip`` with the fixture's digests pinned."""
    emnist_fixture.pin(monkeypatch)
    emnist_fixture.write_zip(tmp_path / "d" / "emnist" / "gzip.zip")
    return tmp_path / "d"


def test_digits_transposition_undone(zipped, emnist_fixture, mnist):
    ds = load_dataset("emnist-digits", zipped, download=False)
    x_train, y_train, x_test, y_test = emnist_fixture.upright["digits"]
    # the fixture stored MNIST images transposed; loaded, they equal MNIST again
    np.testing.assert_array_equal(ds.x_train, mnist.x_train[: len(x_train)])
    np.testing.assert_array_equal(ds.x_test, mnist.x_test[: len(x_test)])
    np.testing.assert_array_equal(ds.y_train, y_train)
    np.testing.assert_array_equal(ds.y_test, y_test)
    assert ds.x_train.flags.c_contiguous
    assert ds.classes == tuple("0123456789")
    assert ds.name == "emnist-digits"


def test_letters_labels_shifted_and_named(zipped, emnist_fixture):
    ds = load_dataset("emnist-letters", zipped, download=False)
    _, y_train, _, y_test = emnist_fixture.upright["letters"]
    np.testing.assert_array_equal(ds.y_train, y_train)
    np.testing.assert_array_equal(ds.y_test, y_test)
    assert ds.y_train.dtype == np.int32
    assert ds.y_train.min() >= 0
    assert ds.y_train.max() <= 25
    assert ds.num_classes == 26
    assert ds.classes == LETTERS


def test_balanced_classes_from_mapping(zipped):
    ds = load_dataset("emnist-balanced", zipped, download=False)
    assert ds.num_classes == 47
    assert "".join(ds.classes) == "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabdefghnqrt"


@pytest.mark.parametrize("sub", ["emnist/gzip", "gzip"])
def test_extracted_layouts(emnist_fixture, tmp_path, monkeypatch, sub):
    emnist_fixture.pin(monkeypatch)
    emnist_fixture.write_dir(tmp_path / "d" / sub)
    monkeypatch.setenv("FBH_DATA_DIR", str(tmp_path / "d"))
    ds = load_dataset("emnist-letters")
    assert ds.classes == LETTERS
    np.testing.assert_array_equal(ds.y_test, emnist_fixture.upright["letters"][3])


def test_pinned_checksums_reject_fixture(emnist_fixture, tmp_path):
    # Without test pins, production values apply and the fixture is not NIST's.
    emnist_fixture.write_zip(tmp_path / "d" / "emnist" / "gzip.zip")
    with pytest.raises(ChecksumError, match=r"gzip\.zip:gzip/emnist-digits-train-images"):
        load_dataset("emnist-digits", tmp_path / "d", download=False)


def test_wrong_mapping_raises(emnist_fixture, tmp_path, monkeypatch):
    emnist_fixture.pin(monkeypatch)
    folder = emnist_fixture.write_dir(tmp_path / "d" / "gzip")
    mapping = folder / "emnist-digits-mapping.txt"
    mapping.write_bytes(mapping.read_bytes().replace(b"0 48", b"0 79"))  # "0" -> "O"
    with pytest.raises(ChecksumError, match="emnist-digits-mapping.txt"):
        load_dataset("emnist-digits", tmp_path / "d", download=False)


def _pin(monkeypatch, name, data):
    digest = hashlib.sha256(data).hexdigest()
    monkeypatch.setitem(sources.EMNIST_MEMBERS, name, sources.FileSpec((digest,)))


def test_corrupt_member_with_matching_pin_raises_format_error(
    emnist_fixture, tmp_path, monkeypatch
):
    emnist_fixture.pin(monkeypatch)
    folder = emnist_fixture.write_dir(tmp_path / "d" / "gzip")
    name = sources.emnist_member("digits", "test-labels")
    bad = gzip.compress(b"\x00\x00\x08\x03" + b"\x00" * 12)  # 3-D "labels"
    (folder / name).write_bytes(bad)
    _pin(monkeypatch, name, bad)
    with pytest.raises(IdxFormatError, match=f"{name}: expected 1 dimensions"):
        load_dataset("emnist-digits", tmp_path / "d", download=False)


def test_mismatched_counts_raise(emnist_fixture, tmp_path, monkeypatch):
    emnist_fixture.pin(monkeypatch)
    folder = emnist_fixture.write_dir(tmp_path / "d" / "gzip")
    name = sources.emnist_member("digits", "test-labels")
    short = gzip.compress(b"\x00\x00\x08\x01\x00\x00\x00\x02\x01\x02")
    (folder / name).write_bytes(short)
    _pin(monkeypatch, name, short)
    with pytest.raises(IdxFormatError, match="has 40 images but .* has 2 labels"):
        load_dataset("emnist-digits", tmp_path / "d", download=False)


def test_label_outside_mapping_raises(emnist_fixture, tmp_path, monkeypatch):
    emnist_fixture.pin(monkeypatch)
    folder = emnist_fixture.write_dir(tmp_path / "d" / "gzip")
    name = sources.emnist_member("letters", "test-labels")
    raw = bytearray(gzip.decompress((folder / name).read_bytes()))
    raw[8] = 0  # letters have no class 0
    data = gzip.compress(bytes(raw))
    (folder / name).write_bytes(data)
    _pin(monkeypatch, name, data)
    with pytest.raises(IdxFormatError, match=r"labels span 0\.\.\d+, expected 1\.\.26"):
        load_dataset("emnist-letters", tmp_path / "d", download=False)


def test_corrupt_zip_raises(tmp_path):
    archive = tmp_path / "d" / "emnist" / "gzip.zip"
    archive.parent.mkdir(parents=True)
    archive.write_bytes(b"PK\x03\x04 this is not really a zip")
    with pytest.raises(ValueError, match="not a valid zip archive"):
        load_dataset("emnist-digits", tmp_path / "d", download=False)


def test_damaged_zip_member_raises(emnist_fixture, tmp_path, monkeypatch):
    emnist_fixture.pin(monkeypatch)
    archive = emnist_fixture.write_zip(tmp_path / "d" / "emnist" / "gzip.zip")
    data = bytearray(archive.read_bytes())
    member = emnist_fixture.members[sources.emnist_member("digits", "train-images")]
    at = data.find(member) + len(member) // 2
    data[at] ^= 0xFF  # flip bits inside a stored member: its CRC-32 no longer matches
    archive.write_bytes(bytes(data))
    with pytest.raises(CorruptFileError, match=r"digits-train-images-idx3-ubyte\.gz: unreadable"):
        load_dataset("emnist-digits", tmp_path / "d", download=False)


def test_zip_without_split_names_missing_members(emnist_fixture, tmp_path, monkeypatch):
    emnist_fixture.pin(monkeypatch)
    archive = emnist_fixture.write_zip(tmp_path / "d" / "emnist" / "gzip.zip")
    with zipfile.ZipFile(archive) as zf:
        assert "gzip/emnist-letters-mapping.txt" in zf.namelist()
    with pytest.raises(DatasetNotFoundError) as info:
        load_dataset("emnist-byclass", tmp_path / "d")  # FBH_OFFLINE=1
    msg = str(info.value)
    for part in ("train-images-idx3", "train-labels-idx1", "test-images-idx3", "test-labels-idx1"):
        assert f"  emnist-byclass-{part}-ubyte.gz\n" in msg
    assert "  emnist-byclass-mapping.txt\n" in msg
    assert f"{tmp_path / 'd'}/emnist/gzip.zip" in msg
    assert f"{tmp_path / 'd'}/emnist/gzip/" in msg
