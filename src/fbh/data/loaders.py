"""MNIST and EMNIST by name, verified against pinned SHA-256 values.

``load_dataset("mnist")`` or ``load_dataset("emnist-letters")`` returns a
:class:`Dataset` whose images are upright ``uint8[N, 28, 28]`` (EMNIST's
transposed storage is undone) and whose labels are ``int32`` in
``0..num_classes-1`` (EMNIST letters' 1..26 become 0..25), with class names
from the official mapping files. Where files are searched and how they are
downloaded is described in :mod:`fbh.data.locate`.

References:
    G. Cohen, S. Afshar, J. Tapson, A. van Schaik, "EMNIST: an extension of
    MNIST to handwritten letters", arXiv:1702.05373 (2017).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from fbh.data import fetch, locate, sources
from fbh.data.dataset import Dataset, channel_stats, with_channels
from fbh.data.idx import CorruptFileError, IdxFormatError, read_idx_gz

__all__ = ["DATASETS", "Dataset", "channel_stats", "load_dataset", "to_float", "with_channels"]

DATASETS: tuple[str, ...] = (
    "mnist", *(f"emnist-{s}" for s in sources.EMNIST_SPLITS), "breastmnist", "pneumoniamnist", "retinamnist",
)
_SIDE = 28


def to_float(x: np.ndarray) -> np.ndarray:
    """Scale ``uint8`` images to ``float32`` in ``[0, 1]`` with a channel axis.

    Pixels are scaled, not standardized: ``[0, 1]`` inputs train well with a
    batch-normalized CNN and stay easy to inspect. (MNIST's train mean and
    std on this scale are 0.1307 and 0.3081, should a model want them.)

    Args:
        x: ``uint8[..., 28, 28]``, e.g. ``[N, 28, 28]`` or packed ``[C, N, 28, 28]``.

    Returns:
        ``float32[..., 28, 28, 1]`` (NHWC, as Flax convolutions expect).

    Raises:
        ValueError: ``x`` is not ``uint8`` (refusing avoids scaling twice).
    """
    x = np.asarray(x)
    if x.dtype != np.uint8:
        msg = f"to_float expects uint8 pixels, got {x.dtype}"
        raise ValueError(msg)
    out = x.astype(np.float32)[..., None]
    out *= np.float32(1 / 255)
    return out


def _read_verified(found: locate.Found, spec: sources.FileSpec, ndim: int) -> np.ndarray:
    """Read a ``.gz`` IDX file, check it against ``spec``, decode it."""
    data = found.read()
    digest = hashlib.sha256(data).hexdigest()
    pinned = digest in spec.sha256
    if not pinned and spec.raw_sha256 is None:
        fetch.verify_digest(found.where, digest, spec)  # raises ChecksumError
    try:
        arr, raw = read_idx_gz(data, name=found.where, ndim=ndim)
    except IdxFormatError:
        if pinned:
            raise  # verified bytes that do not parse: only possible with test pins
        arr, raw = None, None  # corrupt and unpinned: report the checksum below
    # A re-compressed copy passes on its decompressed digest.
    fetch.verify_digest(found.where, digest, spec, raw)
    return arr


def _images_labels(
    images: locate.Found, labels: locate.Found, specs: tuple[sources.FileSpec, sources.FileSpec]
) -> tuple[np.ndarray, np.ndarray]:
    """Read a verified (images, labels) pair and check they agree."""
    x = _read_verified(images, specs[0], ndim=3)
    y = _read_verified(labels, specs[1], ndim=1)
    if x.shape[1:] != (_SIDE, _SIDE):
        msg = f"{images.where}: images are {x.shape[1:]}, expected ({_SIDE}, {_SIDE})"
        raise IdxFormatError(msg)
    if x.shape[0] != y.shape[0]:
        msg = f"{images.where} has {x.shape[0]} images but {labels.where} has {y.shape[0]} labels"
        raise IdxFormatError(msg)
    return x, y.astype(np.int32)


def _parse_mapping(found: locate.Found, spec: sources.FileSpec) -> tuple[int, tuple[str, ...]]:
    """Verify and parse an EMNIST mapping file: (first label, class names)."""
    data = found.read()
    fetch.verify_digest(found.where, hashlib.sha256(data).hexdigest(), spec)
    table: dict[int, str] = {}
    try:
        for line in data.decode("ascii").splitlines():
            if fields := line.split():
                table[int(fields[0])] = "/".join(chr(int(c)) for c in fields[1:])
    except (UnicodeDecodeError, ValueError) as e:
        msg = f"{found.where}: not an EMNIST mapping file ({e})"
        raise CorruptFileError(msg) from e
    first = min(table, default=0)
    if not table or sorted(table) != list(range(first, first + len(table))):
        msg = f"{found.where}: labels are not a contiguous range"
        raise CorruptFileError(msg)
    return first, tuple(table[k] for k in sorted(table))


def _check_labels(y: np.ndarray, first: int, num_classes: int, where: str) -> None:
    """Stored labels must lie in the mapping's range ``first..first+num_classes-1``."""
    last = first + num_classes - 1
    if y.size and (y.min() < first or y.max() > last):
        msg = f"{where}: labels span {y.min()}..{y.max()}, expected {first}..{last}"
        raise IdxFormatError(msg)


def load_dataset(
    name: str,
    data_dir: str | os.PathLike[str] | None = None,
    *,
    download: bool = True,
    cache_dir: str | os.PathLike[str] | None = None,
) -> Dataset:
    """Load a dataset by name, verifying every file against pinned SHA-256 values.

    Args:
        name: One of :data:`DATASETS` (MNIST, EMNIST, MedMNIST v2), or a
            user dataset: a ``.npz`` file or a folder of images (see
            :mod:`fbh.data.images`).
        data_dir: Folder with local copies (see :mod:`fbh.data.locate` for
            the accepted layouts); default ``$FBH_DATA_DIR``.
        download: Fetch missing files from the official source into the
            cache. Ignored (treated as False) when ``FBH_OFFLINE=1``.
        cache_dir: Download cache; default :func:`~fbh.data.locate.default_cache_dir`.

    Returns:
        The :class:`Dataset`.

    Raises:
        ValueError: Unknown ``name``.
        DatasetNotFoundError: Files missing and not downloadable; the message
            names the files and where to put them.
        ChecksumError: A file does not match its pinned SHA-256.
        CorruptFileError: A file cannot be parsed (:class:`IdxFormatError` for IDX).
    """
    if name not in DATASETS:
        if name.endswith(".npz") or Path(name).is_dir():
            from fbh.data.images import load_user_dataset

            return load_user_dataset(name)
        msg = (f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}, "
               "or give a .npz file or a folder of images")
        raise ValueError(msg)
    if name.endswith("mnist") and name != "mnist" and not name.startswith("emnist"):
        from fbh.data.medmnist import load_medmnist

        return load_medmnist(name, data_dir, download=download, cache_dir=cache_dir)
    cache = Path(cache_dir).expanduser() if cache_dir is not None else locate.default_cache_dir()
    if name == "mnist":
        files = locate.find_mnist(data_dir, cache, download=download)
        specs, classes, first = sources.MNIST_FILES, tuple("0123456789"), 0
        stems = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz")
        stems += ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
    else:
        split = name.removeprefix("emnist-")
        files = locate.find_emnist(split, data_dir, cache, download=download)
        specs = sources.EMNIST_MEMBERS
        mapping = f"emnist-{split}-mapping.txt"
        first, classes = _parse_mapping(files[mapping], sources.EMNIST_MAPPINGS[mapping])
        parts = ("train-images", "train-labels", "test-images", "test-labels")
        stems = tuple(sources.emnist_member(split, p) for p in parts)
    arrays = []
    for img, lab in ((stems[0], stems[1]), (stems[2], stems[3])):
        x, y = _images_labels(files[img], files[lab], (specs[img], specs[lab]))
        if name != "mnist":
            # EMNIST stores each image transposed (column-major); make it upright.
            x = np.ascontiguousarray(x.transpose(0, 2, 1))
        _check_labels(y, first, len(classes), files[lab].where)
        y -= first  # letters: 1..26 -> 0..25
        arrays += [x, y]
    return Dataset(name, *arrays, classes=classes)
