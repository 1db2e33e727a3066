"""MedMNIST v2 (pinned MD5/SHA-256) and user images from arrays, .npz and folders; user partitions."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from fbh import data as fdata
from fbh.data.fetch import ChecksumError


@pytest.mark.parametrize(
    ("name", "shape", "sizes", "classes"),
    [
        ("breastmnist", (28, 28), (546, 78, 156), 2),
        ("pneumoniamnist", (28, 28), (4708, 524, 624), 2),
        ("retinamnist", (28, 28, 3), (1080, 120, 400), 5),
    ],
)
def test_medmnist_loads_the_official_splits(data_dir, name, shape, sizes, classes):
    ds = fdata.load_dataset(name, data_dir)
    assert ds.x_train.shape[1:] == shape and ds.x_train.dtype == np.uint8
    assert (ds.y_train.size, ds.y_val.size, ds.y_test.size) == sizes
    assert ds.num_classes == classes and ds.input_shape == (*shape[:2], 3 if len(shape) == 3 else 1)
    assert set(np.unique(ds.y_train)) == set(range(classes))


def test_medmnist_refuses_a_changed_byte(data_dir, tmp_path):
    (tmp_path / "medmnist").mkdir()
    bad = tmp_path / "medmnist" / "breastmnist.npz"
    shutil.copy(data_dir / "medmnist" / "breastmnist.npz", bad)
    raw = bytearray(bad.read_bytes())
    raw[len(raw) // 2] ^= 1
    bad.write_bytes(bytes(raw))
    with pytest.raises(ChecksumError, match="MD5"):
        fdata.load_dataset("breastmnist", tmp_path, download=False)


def test_missing_medmnist_file_names_the_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("FBH_CACHE_DIR", str(tmp_path / "cache"))
    with pytest.raises(fdata.DatasetNotFoundError, match=r"retinamnist\.npz"):
        fdata.load_dataset("retinamnist", tmp_path, download=False)


def test_arrays_npz_and_folder_give_the_same_dataset(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (30, 9, 7, 3), dtype=np.uint8)  # non-square RGB
    y = np.repeat(np.arange(3), 10)
    ds = fdata.from_arrays(x, y, name="mine")
    assert ds.input_shape == (9, 7, 3) and ds.y_train.size == 24 and ds.y_test.size == 6
    np.savez(tmp_path / "mine.npz", x_train=x, y_train=y, x_test=x[:5], y_test=y[:5])
    from_npz = fdata.load_dataset(str(tmp_path / "mine.npz"))
    np.testing.assert_array_equal(from_npz.x_train, x)
    for split, xs, ys in (("train", x, y), ("test", x[:5], y[:5])):
        for i, (img, label) in enumerate(zip(xs, ys, strict=True)):
            folder = tmp_path / "imgs" / split / f"class{label}"
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray(img).save(folder / f"{i:03d}.png")
    from_folder = fdata.load_dataset(str(tmp_path / "imgs"))
    assert from_folder.classes == ("class0", "class1", "class2")
    np.testing.assert_array_equal(from_folder.x_train, x)  # PNG is lossless; sorted names keep the order
    np.testing.assert_array_equal(from_folder.y_test, y[:5])


@pytest.mark.parametrize(
    ("x", "y", "match"),
    [
        (np.zeros((4, 5, 5), np.int32), np.zeros(4, int), "must be uint8"),
        (np.zeros((4, 5, 5), np.uint8), np.zeros(4, float), "labels must be integers"),
        (np.zeros((4, 5), np.uint8), np.zeros(4, int), "do not match"),
    ],
)
def test_bad_user_arrays_are_named(x, y, match):
    with pytest.raises(ValueError, match=match):
        fdata.from_arrays(x, y, x, y)


def test_user_partitions_are_checked():
    y = np.arange(20) % 2
    parts = fdata.partition(y, 2, [[0, 1, 2], np.arange(10, 20)])
    assert [p.tolist() for p in parts] == [[0, 1, 2], list(range(10, 20))]
    by_label = fdata.partition(y, 2, lambda labels, c, seed: [np.flatnonzero(labels == k) for k in range(c)])
    assert all(len(set(y[p])) == 1 for p in by_label)
    for bad, match in (([[0, 1], [1, 2]], "overlap"), ([[0], [25]], "outside"), ([[0], []], "non-empty"),
                       ([[0]], "expected 2")):
        with pytest.raises(ValueError, match=match):
            fdata.partition(y, 2, bad)
