"""MedMNIST v2 (28x28) as first-class datasets: pinned MD5 and SHA-256, official download, offline copies.

``load_medmnist("pneumoniamnist")`` returns a :class:`~fbh.data.Dataset`
with ``uint8[N, 28, 28]`` grayscale (BreastMNIST, PneumoniaMNIST) or
``uint8[N, 28, 28, 3]`` RGB images (RetinaMNIST) and ``int32`` labels. The
official train split is the training set, the official test split the test
set; the official validation split is kept in ``x_val``/``y_val``.

Files are searched as ``<root>/medmnist/<name>.npz`` or ``<root>/<name>.npz``
under ``data_dir`` / ``$FBH_DATA_DIR`` and the cache, then downloaded from
the official Zenodo record (MedMNIST+ v3.0, record 10519652) unless
``FBH_OFFLINE=1``. Every file must match the MD5 that ``medmnist==3.0.2``
pins in ``medmnist/info.py`` and the SHA-256 recorded beside it.

References:
    J. Yang, R. Shi, D. Wei, Z. Liu, L. Zhao, B. Ke, H. Pfister, B. Ni,
    "MedMNIST v2 - A large-scale lightweight benchmark for 2D and 3D
    biomedical image classification", Scientific Data 10, 41 (2023).
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import os
from pathlib import Path

import numpy as np

from fbh.data import fetch, locate
from fbh.data.dataset import Dataset
from fbh.data.idx import CorruptFileError
from fbh.data.sources import FileSpec

__all__ = ["MEDMNIST", "MEDMNIST_URL", "MedSpec", "load_medmnist"]

MEDMNIST_URL = "https://zenodo.org/records/10519652/files/{name}.npz?download=1"


@dataclasses.dataclass(frozen=True)
class MedSpec:
    """One pinned MedMNIST file and what it holds."""

    md5: str
    file: FileSpec
    classes: tuple[str, ...]
    channels: int


MEDMNIST: dict[str, MedSpec] = {
    "breastmnist": MedSpec(
        "750601b1f35ba3300ea97c75c52ff8f6",
        FileSpec(("3a22d2a4625e7dd8903f0f59030e81a3d0c222bece2e5e10927456cb50efdec1",), size=559_580),
        ("malignant", "normal, benign"), 1,
    ),
    "pneumoniamnist": MedSpec(
        "28209eda62fecd6e6a2d98b1501bb15f",
        FileSpec(("e1792d3f03751cb101e99f19a63b3c1941436c988665f47853417b05be250cd8",), size=4_170_669),
        ("normal", "pneumonia"), 1,
    ),
    "retinamnist": MedSpec(
        "bd4c0672f1bba3e3a89f0e4e876791e4",
        FileSpec(("254915f5f0a2074665c4676356824cf4ef4a3bcab233894b4bafcaf48962bd69",), size=3_291_041),
        ("0", "1", "2", "3", "4"), 3,
    ),
}


def _locate(name: str, data_dir, cache_dir: Path, download: bool) -> tuple[str, bytes]:
    roots = locate._roots(data_dir, cache_dir)
    found = locate._first_file([d for r in roots for d in (r / "medmnist", r)], f"{name}.npz")
    if found is not None:
        return found.where, found.read()
    where = f"put {name}.npz in {{dir}}/medmnist/ (or directly in {{dir}}/)"
    if reason := locate._why_not_downloaded(download):
        raise locate._missing_error(name, [f"{name}.npz"], roots, where, reason)
    dest = cache_dir / "medmnist" / f"{name}.npz"
    try:
        fetch.download([MEDMNIST_URL.format(name=name)], dest, MEDMNIST[name].file)
    except fetch.DownloadError as e:
        raise locate._missing_error(name, [f"{name}.npz"], roots, where, str(e)) from e
    return str(dest), dest.read_bytes()


def _images(arr: np.ndarray, channels: int, where: str) -> np.ndarray:
    want = (28, 28) if channels == 1 else (28, 28, channels)
    if arr.dtype != np.uint8 or arr.shape[1:] != want:
        msg = f"{where}: images are {arr.dtype}{arr.shape[1:]}, expected uint8{want}"
        raise CorruptFileError(msg)
    return arr


def load_medmnist(
    name: str, data_dir: str | os.PathLike[str] | None = None, *, download: bool = True, cache_dir=None
):
    """Loads one MedMNIST v2 dataset (28 px), verified against its pinned MD5 and SHA-256.

    Args:
        name: ``"breastmnist"``, ``"pneumoniamnist"`` or ``"retinamnist"``.
        data_dir: Folder with local copies; default ``$FBH_DATA_DIR``.
        download: Fetch a missing file from Zenodo (ignored with ``FBH_OFFLINE=1``).
        cache_dir: Download cache; default :func:`~fbh.data.locate.default_cache_dir`.

    Returns:
        A :class:`~fbh.data.Dataset` with ``x_val``/``y_val`` (the official validation split).

    Raises:
        ValueError: Unknown name.
        DatasetNotFoundError: The file is missing and not downloadable.
        ChecksumError: The file's MD5 or SHA-256 differs from the pins.
        CorruptFileError: The archive lacks an array or holds the wrong shapes.
    """
    if name not in MEDMNIST:
        msg = f"unknown MedMNIST dataset {name!r}; choose one of {', '.join(MEDMNIST)}"
        raise ValueError(msg)
    spec = MEDMNIST[name]
    cache = Path(cache_dir).expanduser() if cache_dir is not None else locate.default_cache_dir()
    where, data = _locate(name, data_dir, cache, download)
    if hashlib.md5(data, usedforsecurity=False).hexdigest() != spec.md5:
        msg = f"{where}: MD5 differs from the pinned {spec.md5} (medmnist info.py); delete the file and fetch it again"
        raise fetch.ChecksumError(msg)
    fetch.verify_digest(where, hashlib.sha256(data).hexdigest(), spec.file)
    arrays = {}
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            for split in ("train", "val", "test"):
                x = _images(z[f"{split}_images"], spec.channels, where)
                y = z[f"{split}_labels"].reshape(-1).astype(np.int32)
                arrays[split] = (x, y)
    except (KeyError, ValueError, OSError) as e:
        msg = f"{where}: not a MedMNIST archive ({e})"
        raise CorruptFileError(msg) from e
    (xt, yt), (xv, yv), (xs, ys) = arrays["train"], arrays["val"], arrays["test"]
    return Dataset(name, xt, yt, xs, ys, classes=spec.classes, x_val=xv, y_val=yv)
