"""Partial retraining: start from pre-trained weights and train only some parameter groups.

The paper retrains "the pre-trained model and the fully connected layers
after using previously trained convolutional layers". Here:

- :func:`load_pretrained` copies every leaf of a checkpoint (a run's
  ``model.npz`` or a run directory) whose path and shape match the new
  model, and keeps the fresh initialisation of the others: a head whose
  class count differs (MNIST's 10 classes -> PneumoniaMNIST's 2) is
  re-initialised, and the function says which leaves were.
- :func:`select_trainable` picks leaves by a case-insensitive regular
  expression on their paths (``"params/dense1/kernel"``); ``"dense"`` selects
  the paper CNN's two dense layers (34,186 of 422,154 parameters).
- :func:`trainable_indices` maps those leaves to positions in the flat
  vector: only they are quantized, encrypted, aggregated and decrypted.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from fbh.train.fedavg import unravel
from fbh.train.local import State, init_state, leaf_paths

__all__ = ["load_pretrained", "read_flat_checkpoint", "select_trainable", "trainable_indices"]


def read_flat_checkpoint(path: str | Path) -> tuple[np.ndarray, dict[str, Any]]:
    """``(float32[P], meta)`` of a run's ``model.npz`` (or of ``<run dir>/model.npz``).

    Raises:
      FileNotFoundError: if there is no such file.
      ValueError: if it is not an fbh model file.
    """
    path = Path(path)
    if path.is_dir():
        path = path / "model.npz"
    if not path.is_file():
        msg = f"checkpoint {path} does not exist (give a model.npz or a run directory)"
        raise FileNotFoundError(msg)
    try:
        with np.load(path, allow_pickle=False) as z:
            return np.asarray(z["params"], np.float32), json.loads(str(z["meta"]))
    except (KeyError, ValueError, OSError) as exc:
        msg = f"{path} is not an fbh model file (params + meta): {exc}"
        raise ValueError(msg) from exc


def _source_state(flat: np.ndarray, meta: dict[str, Any]) -> State:
    from fbh.train.federated import build_model

    spec = meta.get("model_spec")
    if spec is not None:
        from fbh.model import ModelSpec

        model = ModelSpec.from_json(spec)
    else:
        model = meta.get("model", "cnn")
    module, _ = build_model(model, meta.get("num_classes", 10), 0, tuple(meta.get("input_shape", (28, 28, 1))))
    _, template = init_state(module)
    return unravel(jnp.asarray(flat), template)


def load_pretrained(path: str | Path, template: State) -> tuple[State, list[str]]:
    """Copies the matching leaves of a checkpoint into ``template``.

    Args:
      path: a ``model.npz`` written by fbh (it records how to rebuild its model).
      template: the new model's freshly initialised state.

    Returns:
      ``(state, reinitialised)``: the state, and the paths of the leaves that
      kept their fresh values (absent from the checkpoint or shaped differently).
    """
    flat, meta = read_flat_checkpoint(path)
    source = dict(zip(leaf_paths(src := _source_state(flat, meta)), jax.tree.leaves(src), strict=True))
    leaves, treedef = jax.tree.flatten(template)
    out, fresh = [], []
    for name, leaf in zip(leaf_paths(template), leaves, strict=True):
        old = source.get(name)
        if old is not None and np.shape(old) == np.shape(leaf):
            out.append(jnp.asarray(old, leaf.dtype))
        else:
            out.append(leaf)
            fresh.append(name)
    return jax.tree.unflatten(treedef, out), fresh


def select_trainable(template: State, pattern: str | None) -> tuple[str, ...] | None:
    """Parameter leaves matching ``pattern`` (case-insensitive ``re.search``), plus every batch statistic.

    Batch statistics are not trained but averaged running estimates of the
    data: they always follow the (new) data, otherwise a frozen backbone
    would normalise with the pre-training data's statistics at test time
    while training saw the new data's batch statistics. ``None``: all leaves.

    Raises:
      ValueError: if nothing matches (the message lists the paths).
    """
    if pattern is None:
        return None
    rx = re.compile(pattern, re.IGNORECASE)
    paths = leaf_paths(template)
    chosen = tuple(p for p in paths if rx.search(p) or p.startswith("batch_stats/"))
    if not any(p.startswith("params/") for p in chosen):
        msg = f"--trainable {pattern!r} matches no parameter; the model's are: {', '.join(paths)}"
        raise ValueError(msg)
    return chosen


def trainable_indices(template: State, trainable: tuple[str, ...] | None) -> np.ndarray | None:
    """``int64[P']``: positions in the flat vector (``ravel`` order) of the trainable leaves."""
    if trainable is None:
        return None
    keep = set(trainable)
    chunks, offset = [], 0
    for name, leaf in zip(leaf_paths(template), jax.tree.leaves(template), strict=True):
        size = int(np.size(leaf))
        if name in keep:
            chunks.append(np.arange(offset, offset + size, dtype=np.int64))
        offset += size
    return np.concatenate(chunks)
