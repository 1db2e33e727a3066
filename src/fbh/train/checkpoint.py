"""Checkpoints as plain ``.npz``: one array per leaf, keyed by its path.

A state ``{"params": {"conv1": {"kernel": a}}, ...}`` is stored under the key
``params/conv1/kernel``; loading rebuilds the nested dicts from the keys, so
no treedef and no pickle is needed. Optional metadata (model name, number of
classes, ...) is stored as JSON in the ``__meta__`` entry.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = ["load_checkpoint", "read_checkpoint_meta", "save_checkpoint"]

_META = "__meta__"
_SEP = "/"


def _flatten(tree: Mapping, prefix: str, out: dict[str, np.ndarray]) -> None:
    for name, value in tree.items():
        name = str(name)
        if _SEP in name or name == _META:
            msg = f"checkpoint keys may not contain {_SEP!r} or be {_META!r}: {name!r}"
            raise ValueError(msg)
        key = f"{prefix}{_SEP}{name}" if prefix else name
        if isinstance(value, Mapping):
            if not value:  # keep empty groups (e.g. an ANN's batch_stats)
                out[key + _SEP] = np.zeros((0,), np.float32)
            _flatten(value, key, out)
        else:
            out[key] = np.asarray(value)


def save_checkpoint(path: str | os.PathLike, state: Mapping[str, Any], meta: Mapping | None = None) -> None:
    """Writes a nested-dict state (leaves: arrays) to ``path`` (``.npz``).

    Args:
      path: destination file; written atomically via a temporary file.
      state: nested dicts with string keys and array leaves.
      meta: optional JSON-serializable metadata.

    Raises:
      ValueError: if a key contains ``/`` (the path separator).
    """
    arrays: dict[str, np.ndarray] = {}
    _flatten(state, "", arrays)
    if meta is not None:
        arrays[_META] = np.array(json.dumps(dict(meta), sort_keys=True))
    path = os.fspath(path)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        np.savez(f, **arrays)
    os.replace(tmp, path)


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Reads a state written by :func:`save_checkpoint` (NumPy leaves).

    Args:
      path: the ``.npz`` file.

    Returns:
      The nested-dict state.
    """
    state: dict[str, Any] = {}
    with np.load(os.fspath(path), allow_pickle=False) as data:
        for key in data.files:
            if key == _META:
                continue
            *groups, leaf = key.split(_SEP)
            node = state
            for g in groups:
                node = node.setdefault(g, {})
            if leaf:  # "group/" marks an empty group
                node[leaf] = data[key]
    return state


def read_checkpoint_meta(path: str | os.PathLike) -> dict[str, Any]:
    """Returns the metadata stored by :func:`save_checkpoint` ({} if none)."""
    with np.load(os.fspath(path), allow_pickle=False) as data:
        return json.loads(str(data[_META])) if _META in data.files else {}
