"""Real MNIST from ../shared/data: known facts, layouts, checksums, offline errors."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import numpy as np
import pytest

from fbh.data import (
    DATASETS,
    ChecksumError,
    Dataset,
    DatasetNotFoundError,
    default_cache_dir,
    load_dataset,
    sources,
    to_float,
)

MNIST_FILES = tuple(sources.MNIST_FILES)
TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def test_dataset_names():
    assert DATASETS == (
        "mnist",
        "emnist-digits",
        "emnist-letters",
        "emnist-balanced",
        "emnist-byclass",
        "emnist-bymerge",
        "emnist-mnist",
        "breastmnist",
        "pneumoniamnist",
        "retinamnist",
    )


def test_unknown_name_raises():
    with pytest.raises(ValueError, match="unknown dataset 'cifar10'; choose one of mnist"):
        load_dataset("cifar10")


def test_mnist_known_facts(mnist):
    assert isinstance(mnist, Dataset)
    assert mnist.name == "mnist"
    assert mnist.x_train.shape == (60000, 28, 28)
    assert mnist.x_test.shape == (10000, 28, 28)
    assert mnist.x_train.dtype == np.uint8
    assert mnist.y_train.dtype == np.int32
    assert mnist.x_train.max() == 255
    assert mnist.x_train.min() == 0
    assert mnist.classes == tuple("0123456789")
    assert mnist.num_classes == 10
    assert np.bincount(mnist.y_train).tolist() == TRAIN_COUNTS
    assert np.bincount(mnist.y_test).tolist() == TEST_COUNTS
    assert mnist.y_train[:8].tolist() == [5, 0, 4, 1, 9, 2, 1, 3]
    assert mnist.y_test[:8].tolist() == [7, 2, 1, 0, 4, 1, 4, 9]
    assert mnist.x_train.mean() / 255 == pytest.approx(0.130660, abs=1e-6)


def test_mnist_is_upright(mnist):
    # A handwritten "1" is a vertical stroke: its ink varies more across
    # columns than across rows. Transposed, it would be a horizontal bar.
    ones = mnist.x_train[mnist.y_train == 1].astype(np.float64).mean(axis=0)
    assert ones.sum(axis=0).std() > 2 * ones.sum(axis=1).std()


def test_dataset_arrays_are_read_only(mnist):
    with pytest.raises(ValueError, match="read-only"):
        mnist.x_train[0, 0, 0] = 1


def test_dataset_validates_shapes():
    x = np.zeros((3, 28, 28), np.uint8)
    y = np.zeros(2, np.int32)
    with pytest.raises(ValueError, match="do not match"):
        Dataset("t", x, y, x, np.zeros(3, np.int32), classes=("a",))
    with pytest.raises(ValueError, match="outside 0..0"):
        Dataset("t", x, np.ones(3, np.int32), x, np.zeros(3, np.int32), classes=("a",))


def test_to_float(mnist):
    out = to_float(mnist.x_test[:5])
    assert out.shape == (5, 28, 28, 1)
    assert out.dtype == np.float32
    assert out.min() == 0.0
    assert out.max() == 1.0
    np.testing.assert_allclose(out[..., 0] * 255, mnist.x_test[:5], atol=1e-4)
    with pytest.raises(ValueError, match="expects uint8"):
        to_float(out)


@pytest.mark.parametrize("layout", ["mnist_subdir", "flat"])
def test_layouts_via_env(shared_data, tmp_path, monkeypatch, layout):
    folder = tmp_path / "d"
    target = folder / "mnist" if layout == "mnist_subdir" else folder
    target.mkdir(parents=True)
    for name in MNIST_FILES:
        (target / name).symlink_to(shared_data / "mnist" / name)
    monkeypatch.setenv("FBH_DATA_DIR", str(folder))
    ds = load_dataset("mnist")
    assert ds.y_test[:3].tolist() == [7, 2, 1]


def test_cache_dir_default(monkeypatch, tmp_path):
    monkeypatch.setenv("FBH_CACHE_DIR", str(tmp_path / "c"))
    assert default_cache_dir() == tmp_path / "c"
    monkeypatch.delenv("FBH_CACHE_DIR")
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert default_cache_dir() == tmp_path / ".cache" / "fbh"


def _copy_mnist(shared_data: Path, dest: Path) -> Path:
    dest.mkdir(parents=True)
    for name in MNIST_FILES:
        shutil.copy(shared_data / "mnist" / name, dest / name)
    return dest


def test_recompressed_file_is_accepted_by_content(shared_data, tmp_path):
    folder = _copy_mnist(shared_data, tmp_path / "d" / "mnist")
    labels = folder / "t10k-labels-idx1-ubyte.gz"
    # same content, different gzip wrapper: the .gz digest no longer matches
    labels.write_bytes(gzip.compress(gzip.decompress(labels.read_bytes()), compresslevel=1))
    ds = load_dataset("mnist", tmp_path / "d", download=False)
    assert np.bincount(ds.y_test).tolist() == TEST_COUNTS


def test_tampered_file_raises_checksum_error(shared_data, tmp_path):
    folder = _copy_mnist(shared_data, tmp_path / "d" / "mnist")
    labels = folder / "t10k-labels-idx1-ubyte.gz"
    raw = bytearray(gzip.decompress(labels.read_bytes()))
    raw[8] = (raw[8] + 1) % 10  # relabel one test image: a valid IDX, wrong content
    labels.write_bytes(gzip.compress(bytes(raw)))
    with pytest.raises(ChecksumError, match=r"SHA-256 mismatch for .*t10k-labels-idx1-ubyte\.gz"):
        load_dataset("mnist", tmp_path / "d", download=False)


def test_truncated_file_raises_checksum_error(shared_data, tmp_path):
    folder = _copy_mnist(shared_data, tmp_path / "d" / "mnist")
    images = folder / "t10k-images-idx3-ubyte.gz"
    images.write_bytes(images.read_bytes()[:1000])
    with pytest.raises(ChecksumError, match="t10k-images-idx3-ubyte.gz"):
        load_dataset("mnist", tmp_path / "d", download=False)


def test_missing_offline_names_files_and_folders(shared_data, tmp_path, monkeypatch):
    folder = tmp_path / "d" / "mnist"
    folder.mkdir(parents=True)
    # only the labels are present: the error lists exactly the two image files
    for name in ("train-labels-idx1-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        shutil.copy(shared_data / "mnist" / name, folder / name)
    monkeypatch.delenv("FBH_OFFLINE")  # download=False alone must suffice
    with pytest.raises(DatasetNotFoundError) as info:
        load_dataset("mnist", tmp_path / "d", download=False)
    msg = str(info.value)
    assert isinstance(info.value, FileNotFoundError)
    assert "download=False" in msg
    assert "  train-images-idx3-ubyte.gz\n  t10k-images-idx3-ubyte.gz\n" in msg
    assert "train-labels" not in msg
    assert f"in {tmp_path / 'd'}/mnist/" in msg
    assert str(default_cache_dir()) in msg


def test_missing_offline_without_data_dir_explains_env(monkeypatch):
    with pytest.raises(DatasetNotFoundError) as info:
        load_dataset("mnist")  # FBH_OFFLINE=1, no data dir, empty cache
    msg = str(info.value)
    assert "FBH_OFFLINE is set" in msg
    assert "FBH_DATA_DIR" in msg
    assert "--data-dir" in msg
    assert "<folder>/mnist/" in msg
    assert "(does not exist)" in msg
