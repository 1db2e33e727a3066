"""The in-memory dataset every loader returns, and per-channel helpers on its images.

Its own module so that the loaders of each source (IDX files, MedMNIST, the
user's own arrays or folders) build it without importing one another.
"""

from __future__ import annotations

import dataclasses

import numpy as np

__all__ = ["Dataset", "channel_stats", "with_channels"]


@dataclasses.dataclass(frozen=True, eq=False)
class Dataset:
    """An image classification dataset with a fixed train/test split.

    The arrays are read-only views; copy before modifying.

    Attributes:
        name: One of :data:`DATASETS`, or a user dataset's name.
        x_train: ``[N, H, W]`` (one channel) or ``[N, H, W, C]`` images,
            ``uint8`` (0..255) or float (used as given).
        y_train: ``int32[N]`` labels in ``0..num_classes-1``.
        x_test: ``[N_test, H, W(, C)]``, same shape per image and dtype kind.
        y_test: ``int32[N_test]``.
        classes: Class names, ``classes[label]``; characters for EMNIST
            (``"A/a"`` when the mapping lists an upper and a lower case).
        x_val: Optional official validation images (MedMNIST), else ``None``.
        y_val: Their labels, else ``None``.
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    classes: tuple[str, ...]
    x_val: np.ndarray | None = None
    y_val: np.ndarray | None = None

    def __post_init__(self) -> None:
        splits = ("train", "test", "val") if self.x_val is not None else ("train", "test")
        for split in splits:
            x, y = getattr(self, f"x_{split}"), getattr(self, f"y_{split}")
            if x.ndim not in (3, 4) or x.shape[0] != y.shape[0] or y.ndim != 1:
                msg = (f"{self.name}: x_{split} {x.shape} and y_{split} {y.shape} do not match "
                       "(need images [N, H, W] or [N, H, W, C] and labels [N])")
                raise ValueError(msg)
            if x.shape[1:] != self.x_train.shape[1:]:
                msg = f"{self.name}: x_{split} images are {x.shape[1:]}, x_train's are {self.x_train.shape[1:]}"
                raise ValueError(msg)
            if y.size and (y.min() < 0 or y.max() >= len(self.classes)):
                msg = f"{self.name}: y_{split} outside 0..{len(self.classes) - 1}"
                raise ValueError(msg)
            for field, arr in ((f"x_{split}", x), (f"y_{split}", y)):
                view = arr.view()  # freeze a view, never the caller's array
                view.setflags(write=False)
                object.__setattr__(self, field, view)

    @property
    def num_classes(self) -> int:
        """Number of classes, ``len(classes)``."""
        return len(self.classes)

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """``(H, W, C)`` of one image (C = 1 for ``[N, H, W]`` storage)."""
        shape = self.x_train.shape[1:]
        return (*shape, 1) if len(shape) == 2 else tuple(shape)  # type: ignore[return-value]


def with_channels(x: np.ndarray) -> np.ndarray:
    """``[..., H, W]`` one-channel storage as ``[N, H, W, 1]``; ``[N, H, W, C]`` unchanged."""
    x = np.asarray(x)
    return x[..., None] if x.ndim == 3 else x


def channel_stats(x: np.ndarray) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel ``(mean, std)`` of images on the [0, 1] scale (uint8 / 255), for normalisation."""
    x = with_channels(x)
    scale = 1 / 255 if x.dtype == np.uint8 else 1.0
    flat = x.reshape(-1, x.shape[-1]).astype(np.float64) * scale
    std = np.maximum(flat.std(axis=0), 1e-6)
    return tuple(float(v) for v in flat.mean(axis=0)), tuple(float(v) for v in std)
