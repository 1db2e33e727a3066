"""Evaluation and prediction with the running batch-norm statistics."""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from fbh.model.spec import call_model
from fbh.train.local import State, normalize_images

__all__ = ["evaluate", "predict", "predict_proba", "roc_auc"]


def _pad_batches(x: np.ndarray, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Pads ``x`` to a multiple of ``batch_size``; returns (batched x, valid)."""
    n = x.shape[0]
    nb = max(1, math.ceil(n / batch_size))
    extra = nb * batch_size - n
    valid = np.arange(nb * batch_size) < n
    xp = np.concatenate([x, np.zeros((extra, *x.shape[1:]), x.dtype)]) if extra else x
    return xp.reshape(nb, batch_size, *x.shape[1:]), valid.reshape(nb, batch_size)


def _with_channels(x) -> np.ndarray:
    """One-channel images may come as ``[N, H, W]``: add the channel axis the models take."""
    x = np.asarray(x)
    return x[..., None] if x.ndim == 3 else x


def _logits(graphdef, state, x, norm=None):
    model = nnx.merge(graphdef, state["params"], state["batch_stats"])
    return call_model(model, normalize_images(x, norm), train=False)


@functools.partial(jax.jit, static_argnums=(0, 5))
def _eval_batches(graphdef, state, xb, yb, valid, norm):
    def one(sums, batch):
        x, y, ok = batch
        logits = _logits(graphdef, state, x, norm)
        loss = optax.softmax_cross_entropy_with_integer_labels(logits, y)
        correct = (logits.argmax(-1) == y) & ok
        return (sums[0] + correct.sum(), sums[1] + jnp.where(ok, loss, 0.0).sum()), None

    init = (jnp.zeros((), jnp.int32), jnp.zeros((), jnp.float32))
    (correct, loss_sum), _ = jax.lax.scan(one, init, (xb, yb, valid))
    return correct, loss_sum


@functools.partial(jax.jit, static_argnums=(0, 3))
def _predict_batches(graphdef, state, xb, norm):
    return jax.lax.map(lambda x: jax.nn.softmax(_logits(graphdef, state, x, norm)), xb)


def evaluate(
    graphdef: nnx.GraphDef, state: State, x, y, batch_size: int = 1000, norm=None
) -> tuple[float, float]:
    """Accuracy and mean cross-entropy of a model state on a labelled set.

    One jitted call; batch-norm uses its running statistics.

    Args:
      graphdef: the model's NNX graphdef.
      state: model state (see ``fbh.train.local.State``).
      x: images ``[N, H, W, C]`` (uint8 or float).
      y: labels ``[N]``.
      batch_size: evaluation batch size (memory only; results do not depend on it).
      norm: the dataset's per-channel ``(mean, std)``, or ``None``.

    Returns:
      ``(accuracy, loss)`` as Python floats.

    Raises:
      ValueError: if ``x`` and ``y`` differ in length or are empty.
    """
    x, y = _with_channels(x), np.asarray(y, np.int32)
    if x.shape[0] != y.shape[0] or x.shape[0] == 0:
        msg = f"need matching, non-empty x and y, got {x.shape[0]} images and {y.shape[0]} labels"
        raise ValueError(msg)
    xb, valid = _pad_batches(x, batch_size)
    yb, _ = _pad_batches(y, batch_size)
    correct, loss_sum = _eval_batches(graphdef, state, xb, yb, valid, norm)
    n = x.shape[0]
    return float(correct) / n, float(loss_sum) / n


def predict_proba(graphdef: nnx.GraphDef, state: State, x, batch_size: int = 1000, norm=None) -> np.ndarray:
    """Class probabilities ``float32[N, K]`` (softmax of the logits) for images ``[N, H, W, C]``."""
    x = _with_channels(x)
    xb, _ = _pad_batches(x, batch_size)
    probs = np.asarray(_predict_batches(graphdef, state, xb, norm))
    return probs.reshape(-1, probs.shape[-1])[: x.shape[0]]


def predict(graphdef: nnx.GraphDef, state: State, x, batch_size: int = 1000, norm=None) -> np.ndarray:
    """Predicted labels ``int32[N]`` for images ``[N, H, W, C]``."""
    return predict_proba(graphdef, state, x, batch_size, norm).argmax(-1).astype(np.int32)


def roc_auc(y: np.ndarray, probs: np.ndarray) -> float:
    """ROC AUC as MedMNIST reports it: binary on class 1, else one-vs-rest macro average.

    Each class's AUC is the Mann-Whitney U statistic with tied scores
    counted half (the trapezoidal ROC area).

    Args:
      y: ``int[N]`` true labels.
      probs: ``float[N, K]`` class probabilities.

    Returns:
      The AUC in [0, 1]; ``nan`` if a needed class is absent from ``y``.
    """
    y = np.asarray(y)
    probs = np.asarray(probs, np.float64)
    classes = [1] if probs.shape[1] == 2 else range(probs.shape[1])
    aucs = []
    for k in classes:
        pos = y == k
        n_pos, n_neg = int(pos.sum()), int((~pos).sum())
        if n_pos == 0 or n_neg == 0:
            return float("nan")
        order = np.argsort(probs[:, k], kind="stable")
        scores = probs[order, k]
        ranks = np.empty(len(y))
        # average ranks over ties
        _, first, counts = np.unique(scores, return_index=True, return_counts=True)
        avg = first + (counts - 1) / 2.0 + 1.0
        ranks[order] = np.repeat(avg, counts)
        aucs.append((ranks[pos].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))
    return float(np.mean(aucs))
