"""Centralized (non-federated) baselines with the same data pipeline.

All training data is treated as one client: the same ``local_train`` (same
shuffling, batching, masking, optimizer) runs one epoch per jitted call.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from fbh.train.evaluate import evaluate
from fbh.train.federated import build_model
from fbh.train.local import LocalConfig, State, init_state, local_train

__all__ = ["train_centralized"]


def train_centralized(
    model: str,
    x,
    y,
    epochs: int,
    *,
    num_classes: int = 10,
    lr: float = 0.05,
    momentum: float = 0.0,
    batch_size: int = 10,
    seed: int = 0,
    input_shape=None,
    x_test=None,
    y_test=None,
    on_epoch: Callable[[int, dict[str, float]], None] | None = None,
) -> tuple[State, list[dict[str, float]]]:
    """Trains ``model`` on all of ``(x, y)`` as one client.

    Args:
      model: ``"cnn"``, ``"ann"``, a factory path, a ``ModelSpec`` or an NNX module.
      x: images ``[N, H, W, C]`` (uint8 or float).
      y: labels ``[N]``.
      epochs: passes over the data.
      num_classes: output classes.
      lr: SGD learning rate.
      momentum: SGD momentum (kept across epochs: one long local run would
        reset it, so epochs are chained through a single optimizer here).
      batch_size: batch size.
      seed: seeds the initialization and the shuffling.
      input_shape: ``(H, W, C)``; default ``x.shape[1:]``.
      x_test: optional evaluation images (evaluated after every epoch).
      y_test: optional evaluation labels.
      on_epoch: optional callback ``(epoch, record)``, e.g. a progress bar.

    Returns:
      ``(state, history)``: the trained state and one record per epoch with
      ``epoch``, ``train_loss``, ``train_accuracy`` and, with test data,
      ``test_accuracy`` and ``test_loss``.

    Raises:
      ValueError: if ``epochs < 1``.
    """
    if epochs < 1:
        msg = f"epochs must be >= 1, got {epochs}"
        raise ValueError(msg)
    module, _ = build_model(model, num_classes, seed, input_shape or np.shape(x)[1:])
    graphdef, state = init_state(module)
    # E epochs in one call would rebuild the whole schedule E times in
    # memory; one call per epoch keeps memory flat and allows evaluation.
    cfg = LocalConfig(lr, momentum, batch_size, local_epochs=1)
    run_epoch = jax.jit(functools.partial(local_train, graphdef, cfg, return_opt_state=True))
    x = jnp.asarray(x)
    y = jnp.asarray(np.asarray(y, np.int32))
    mask = jnp.ones(y.shape, bool)
    key = jax.random.key(seed)
    opt_state = None
    history = []
    for epoch in range(1, epochs + 1):
        state, metrics, opt_state = run_epoch(
            state, x, y, mask, jax.random.fold_in(key, epoch), opt_state=opt_state
        )
        record = {
            "epoch": epoch,
            "train_loss": float(metrics["loss"]),
            "train_accuracy": float(metrics["accuracy"]),
        }
        if x_test is not None:
            acc, loss = evaluate(graphdef, state, x_test, y_test)
            record.update(test_accuracy=acc, test_loss=loss)
        history.append(record)
        if on_epoch is not None:
            on_epoch(epoch, record)
    return state, history
