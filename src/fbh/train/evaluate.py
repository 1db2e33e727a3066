"""Evaluation and prediction with the running batch-norm statistics."""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from fbh.train.local import State, normalize_images

__all__ = ["evaluate", "predict"]


def _pad_batches(x: np.ndarray, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Pads ``x`` to a multiple of ``batch_size``; returns (batched x, valid)."""
    n = x.shape[0]
    nb = max(1, math.ceil(n / batch_size))
    extra = nb * batch_size - n
    valid = np.arange(nb * batch_size) < n
    xp = np.concatenate([x, np.zeros((extra, *x.shape[1:]), x.dtype)]) if extra else x
    return xp.reshape(nb, batch_size, *x.shape[1:]), valid.reshape(nb, batch_size)


def _logits(graphdef, state, x):
    model = nnx.merge(graphdef, state["params"], state["batch_stats"])
    return model(normalize_images(x), train=False)


@functools.partial(jax.jit, static_argnums=0)
def _eval_batches(graphdef, state, xb, yb, valid):
    def one(sums, batch):
        x, y, ok = batch
        logits = _logits(graphdef, state, x)
        loss = optax.softmax_cross_entropy_with_integer_labels(logits, y)
        correct = (logits.argmax(-1) == y) & ok
        return (sums[0] + correct.sum(), sums[1] + jnp.where(ok, loss, 0.0).sum()), None

    init = (jnp.zeros((), jnp.int32), jnp.zeros((), jnp.float32))
    (correct, loss_sum), _ = jax.lax.scan(one, init, (xb, yb, valid))
    return correct, loss_sum


@functools.partial(jax.jit, static_argnums=0)
def _predict_batches(graphdef, state, xb):
    return jax.lax.map(lambda x: _logits(graphdef, state, x).argmax(-1).astype(jnp.int32), xb)


def evaluate(
    graphdef: nnx.GraphDef, state: State, x, y, batch_size: int = 1000
) -> tuple[float, float]:
    """Accuracy and mean cross-entropy of a model state on a labelled set.

    One jitted call; batch-norm uses its running statistics.

    Args:
      graphdef: the model's NNX graphdef.
      state: model state (see ``fbh.train.local.State``).
      x: images ``[N, 28, 28, 1]`` (uint8 or float).
      y: labels ``[N]``.
      batch_size: evaluation batch size (memory only; results do not depend on it).

    Returns:
      ``(accuracy, loss)`` as Python floats.

    Raises:
      ValueError: if ``x`` and ``y`` differ in length or are empty.
    """
    x, y = np.asarray(x), np.asarray(y, np.int32)
    if x.shape[0] != y.shape[0] or x.shape[0] == 0:
        msg = f"need matching, non-empty x and y, got {x.shape[0]} images and {y.shape[0]} labels"
        raise ValueError(msg)
    xb, valid = _pad_batches(x, batch_size)
    yb, _ = _pad_batches(y, batch_size)
    correct, loss_sum = _eval_batches(graphdef, state, xb, yb, valid)
    n = x.shape[0]
    return float(correct) / n, float(loss_sum) / n


def predict(graphdef: nnx.GraphDef, state: State, x, batch_size: int = 1000) -> np.ndarray:
    """Predicted labels ``int32[N]`` for images ``[N, 28, 28, 1]``."""
    x = np.asarray(x)
    xb, _ = _pad_batches(x, batch_size)
    return np.asarray(_predict_batches(graphdef, state, xb)).reshape(-1)[: x.shape[0]]
