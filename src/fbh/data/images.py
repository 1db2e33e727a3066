"""Your own images as a :class:`~fbh.data.Dataset`: from arrays, a ``.npz`` file or a folder.

Any ``(N, H, W)`` or ``(N, H, W, C)`` images work, ``uint8`` (0..255, scaled
to [0, 1] by the trainer) or float (used as given), with integer labels
``0..K-1``. Without a test split, a seeded, stratified 20% is held out.

- Arrays: :func:`from_arrays`.
- ``.npz``: keys ``x_train, y_train[, x_test, y_test][, classes]``, or the
  MedMNIST names ``train_images, train_labels, test_images, test_labels``.
- Folder (read with Pillow): ``<root>/train/<class>/*.png`` and
  ``<root>/test/<class>/*.png``, or just ``<root>/<class>/*``; class folders
  sorted by name are labels 0..K-1; every image must have the same size and
  mode (``L`` stays one channel, anything else becomes RGB).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from fbh.data.dataset import Dataset

__all__ = ["from_arrays", "load_image_folder", "load_npz", "load_user_dataset"]

_IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff"}


def _holdout(y: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    from fbh.data.partitions import split_validation

    size = max(1, round(fraction * y.size))
    return split_validation(y, size, seed=seed)


def from_arrays(
    x_train,
    y_train,
    x_test=None,
    y_test=None,
    *,
    name: str = "user",
    classes=None,
    test_fraction: float = 0.2,
    seed: int = 0,
):
    """Wraps user arrays as a :class:`~fbh.data.Dataset`.

    Args:
        x_train: ``[N, H, W]`` or ``[N, H, W, C]`` images, uint8 or float.
        y_train: ``int[N]`` labels in ``0..K-1``.
        x_test: optional test images; without them a stratified
            ``test_fraction`` of the training set is held out (seeded).
        y_test: their labels.
        name: the dataset's name (shown in logs and checkpoints).
        classes: class names; default ``"0".."K-1"``.
        test_fraction: held-out share when no test split is given.
        seed: seed of that hold-out.

    Raises:
        ValueError: on mismatched shapes, non-integer or negative labels.
    """
    x_train, y_train = np.asarray(x_train), np.asarray(y_train)
    if y_train.ndim == 2 and y_train.shape[1] == 1:
        y_train = y_train[:, 0]
    if not np.issubdtype(y_train.dtype, np.integer):
        msg = f"{name}: labels must be integers, got {y_train.dtype}"
        raise ValueError(msg)
    if not (np.issubdtype(x_train.dtype, np.integer) or np.issubdtype(x_train.dtype, np.floating)):
        msg = f"{name}: images must be uint8 or float, got {x_train.dtype}"
        raise ValueError(msg)
    if np.issubdtype(x_train.dtype, np.integer) and x_train.dtype != np.uint8:
        msg = f"{name}: integer images must be uint8 (0..255), got {x_train.dtype}"
        raise ValueError(msg)
    if x_test is None:
        train_idx, test_idx = _holdout(y_train, test_fraction, seed)
        x_train, y_train, x_test, y_test = x_train[train_idx], y_train[train_idx], x_train[test_idx], y_train[test_idx]
    x_test, y_test = np.asarray(x_test), np.asarray(y_test).reshape(-1)
    num_classes = int(max(y_train.max(initial=0), y_test.max(initial=0))) + 1
    classes = tuple(str(c) for c in classes) if classes is not None else tuple(str(k) for k in range(num_classes))
    return Dataset(name, x_train, y_train.astype(np.int32), x_test, y_test.astype(np.int32), classes=classes)


def load_npz(path: str | os.PathLike[str], **kwargs):
    """Reads a ``.npz`` of images and labels (key names in the module docstring)."""
    path = Path(path)
    with np.load(path, allow_pickle=False) as z:
        keys = set(z.files)
        for xk, yk, txk, tyk in (("x_train", "y_train", "x_test", "y_test"),
                                 ("train_images", "train_labels", "test_images", "test_labels")):
            if {xk, yk} <= keys:
                has_test = {txk, tyk} <= keys
                classes = [str(c) for c in z["classes"]] if "classes" in keys else None
                return from_arrays(
                    z[xk], z[yk], z[txk] if has_test else None, z[tyk] if has_test else None,
                    name=kwargs.pop("name", path.stem), classes=classes, **kwargs,
                )
    msg = f"{path}: need arrays x_train and y_train (or train_images and train_labels), found {sorted(keys)}"
    raise ValueError(msg)


def _read_folder(root: Path, classes: list[str]) -> tuple[np.ndarray, np.ndarray]:
    try:
        from PIL import Image
    except ImportError as exc:
        msg = "reading a folder of images needs Pillow (pip install pillow)"
        raise ValueError(msg) from exc
    images, labels = [], []
    for label, cls in enumerate(classes):
        if not (root / cls).is_dir():  # a test split may lack a class
            continue
        for f in sorted((root / cls).iterdir()):
            if f.suffix.lower() in _IMAGE_SUFFIXES:
                with Image.open(f) as im:
                    im = im if im.mode == "L" else im.convert("RGB")
                    images.append(np.asarray(im, np.uint8))
                labels.append(label)
    if not images:
        msg = f"{root}: no images ({', '.join(sorted(_IMAGE_SUFFIXES))}) in the class folders {classes}"
        raise ValueError(msg)
    shapes = {im.shape for im in images}
    if len(shapes) > 1:
        msg = f"{root}: images differ in size or mode {sorted(shapes)}; resize them to one shape first"
        raise ValueError(msg)
    return np.stack(images), np.asarray(labels, np.int32)


def load_image_folder(path: str | os.PathLike[str], **kwargs):
    """Reads ``<root>/[train|test]/<class>/<image>`` (layout in the module docstring)."""
    root = Path(path)
    if not root.is_dir():
        msg = f"{root} is not a folder"
        raise ValueError(msg)
    split = (root / "train").is_dir()
    base = root / "train" if split else root
    classes = sorted(d.name for d in base.iterdir() if d.is_dir())
    if not classes:
        msg = f"{base}: expected one sub-folder per class"
        raise ValueError(msg)
    x, y = _read_folder(base, classes)
    x_test = y_test = None
    if split and (root / "test").is_dir():
        x_test, y_test = _read_folder(root / "test", classes)
    return from_arrays(x, y, x_test, y_test, name=kwargs.pop("name", root.name), classes=classes, **kwargs)


def load_user_dataset(source: str | os.PathLike[str], **kwargs):
    """A ``.npz`` file or an image folder, by what ``source`` is."""
    path = Path(source)
    if path.is_dir():
        return load_image_folder(path, **kwargs)
    if not path.is_file():
        msg = f"dataset file {path} does not exist"
        raise FileNotFoundError(msg)
    return load_npz(path, **kwargs)
