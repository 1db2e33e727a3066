"""Local training of ONE client (no client axis): SGD with momentum on its shard.

The functional core works on pure pytrees. A model *state* is the dict
``{"params": ..., "batch_stats": ...}`` of nested dicts of arrays (what
``nnx.to_pure_dict`` returns); the NNX module is split into a ``graphdef``
and this state once, by the caller (``fbh.train.federated``), and merged back
only inside the loss function (the NNX functional-API pattern).

Padding and masks: a client's arrays may be padded to a common length ``N``
with ``mask`` marking its real examples. Each epoch shuffles the real
examples to the front (the padding sorts last), then walks ``ceil(N / B)``
batches. A batch whose rows are all padding is a *skipped step*: parameters,
batch statistics and optimizer state are left unchanged, so a client with
``n`` real examples takes exactly ``ceil(n / B)`` effective steps per epoch,
and its last, partial batch averages the loss (and computes batch-norm
statistics) over its real rows only. The result equals training the
unpadded client (tested).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import jax
import jax.numpy as jnp
import optax
from flax import nnx

from fbh.model.spec import call_model

__all__ = [
    "LocalConfig",
    "State",
    "epoch_batches",
    "init_state",
    "leaf_paths",
    "local_train",
    "make_optimizer",
    "normalize_images",
    "train_step",
]

State = dict[str, Any]
"""Model state: ``{"params": pytree, "batch_stats": pytree}`` of arrays."""

# Real examples get a shuffle priority in [0, 1); padding gets this, so it sorts last.
_PAD_PRIORITY = 2.0


@dataclasses.dataclass(frozen=True)
class LocalConfig:
    """Hyper-parameters of local training (hashable: used as a static jit argument).

    The defaults (lr 0.05, no momentum, batch 10, E 1) reached 99.23% MNIST
    test accuracy in 9 FedAvg rounds of 10 IID clients here; with momentum the
    effective step lr / (1 - momentum) must stay near 0.05-0.1 (lr 0.05
    with momentum 0.9 diverges at batch 10).

    Attributes:
      lr: SGD learning rate.
      momentum: SGD momentum (0 disables it). The momentum buffer starts at
        zero on every call of :func:`local_train` (i.e. every round).
      batch_size: examples per step ``B`` (the paper uses 10).
      local_epochs: passes ``E`` over the client's data per call.
      unroll: ``lax.scan`` unroll factor over local steps.
      mu: FedProx proximal weight: the local loss gains
        ``mu / 2 * ||w - w_global||^2`` over the parameters (0: FedAvg).
      trainable: state leaf paths (``"params/dense1/kernel"``, see
        :func:`leaf_paths`) that train; every other leaf stays frozen.
        ``None``: all of them.
      norm: per-channel ``(mean, std)`` applied after scaling to [0, 1]
        (see :func:`normalize_images`); ``None``: none.

    References:
      T. Li, A. K. Sahu, M. Zaheer, M. Sanjabi, A. Talwalkar, V. Smith,
      "Federated Optimization in Heterogeneous Networks", MLSys 2020 (FedProx).
    """

    lr: float = 0.05
    momentum: float = 0.0
    batch_size: int = 10
    local_epochs: int = 1
    unroll: int = 1
    mu: float = 0.0
    trainable: tuple[str, ...] | None = None
    norm: tuple[tuple[float, ...], tuple[float, ...]] | None = None

    def __post_init__(self):
        if not self.mu >= 0:
            msg = f"the FedProx term mu must be >= 0, got {self.mu}"
            raise ValueError(msg)
        if self.batch_size < 1 or self.local_epochs < 1 or self.unroll < 1:
            msg = f"batch_size, local_epochs and unroll must be >= 1, got {self}"
            raise ValueError(msg)
        if self.lr <= 0 or not 0 <= self.momentum < 1:
            msg = f"need lr > 0 and 0 <= momentum < 1, got lr={self.lr}, momentum={self.momentum}"
            raise ValueError(msg)


def make_optimizer(cfg: LocalConfig) -> optax.GradientTransformation:
    """SGD (with momentum if ``cfg.momentum > 0``) via optax."""
    return optax.sgd(cfg.lr, momentum=cfg.momentum or None)


def init_state(model: nnx.Module) -> tuple[nnx.GraphDef, State]:
    """Splits an NNX module into its graphdef and a pure-pytree state.

    Raises:
      ValueError: if the module holds variables other than ``nnx.Param`` and
        ``nnx.BatchStat`` (e.g. a ``Dropout`` owning an RNG stream), which
        cannot be averaged across hospitals.
    """
    graphdef, params, batch_stats, rest = nnx.split(model, nnx.Param, nnx.BatchStat, ...)
    if other := sorted({jax.tree_util.keystr(path) for path, _ in jax.tree_util.tree_flatten_with_path(
            nnx.to_pure_dict(rest))[0]}):
        msg = (f"{type(model).__name__} holds variables fbh cannot federate (only nnx.Param and "
               f"nnx.BatchStat): {', '.join(other)}; e.g. build Dropout without rngs")
        raise ValueError(msg)
    state = {"params": nnx.to_pure_dict(params), "batch_stats": nnx.to_pure_dict(batch_stats)}
    return graphdef, state


def leaf_paths(state: State) -> list[str]:
    """``"params/dense1/kernel"``-style paths of a state's leaves, in ravel order."""
    flat = jax.tree_util.tree_flatten_with_path(state)[0]
    return ["/".join(str(getattr(k, "key", k)) for k in path) for path, _ in flat]


def normalize_images(x: jax.Array, norm=None) -> jax.Array:
    """Maps a batch of images to float32: uint8 is scaled to [0, 1], floats pass.

    Args:
      x: ``[B, H, W, C]`` images.
      norm: optional per-channel ``(mean, std)`` (on the [0, 1] scale)
        subtracted and divided after scaling: the dataset's normalisation.
    """
    x = x.astype(jnp.float32) * (1.0 / 255.0) if x.dtype == jnp.uint8 else x.astype(jnp.float32)
    if norm is not None:
        mean, std = (jnp.asarray(v, jnp.float32) for v in norm)
        x = (x - mean) / std
    return x


def epoch_batches(key: jax.Array, mask: jax.Array, batch_size: int) -> tuple[jax.Array, jax.Array]:
    """Shuffles one client's examples into batches, real examples first.

    Priorities come from ``fold_in(key, i)`` per example index ``i``, so the
    order of the real examples does not depend on how much padding follows.

    Args:
      key: the epoch's PRNG key.
      mask: ``bool[N]``, True for real examples.
      batch_size: ``B``.

    Returns:
      ``(index int32[S, B], valid bool[S, B])`` with ``S = ceil(N / B)``;
      invalid slots point at example 0 and must be masked out.
    """
    n = mask.shape[0]
    steps = math.ceil(n / batch_size)
    i = jnp.arange(n, dtype=jnp.uint32)
    prio = jax.vmap(lambda j: jax.random.uniform(jax.random.fold_in(key, j)))(i)
    order = jnp.argsort(jnp.where(mask, prio, _PAD_PRIORITY), stable=True).astype(jnp.int32)
    valid = mask[order]
    extra = steps * batch_size - n
    order = jnp.pad(order, (0, extra))
    valid = jnp.pad(valid, (0, extra))
    return order.reshape(steps, batch_size), valid.reshape(steps, batch_size)


def _loss(graphdef, params, batch_stats, x, y, valid, anchor, mu):
    model = nnx.merge(graphdef, params, batch_stats)
    logits = call_model(model, x, train=True, mask=valid)
    per_ex = optax.softmax_cross_entropy_with_integer_labels(logits, y)
    count = jnp.maximum(valid.sum(), 1)
    loss = jnp.where(valid, per_ex, 0.0).sum() / count
    if mu:  # FedProx: stay near the round's global parameters
        sq = jax.tree.map(lambda w, w0: jnp.sum((w - w0) ** 2), params, anchor)
        loss = loss + 0.5 * mu * sum(jax.tree.leaves(sq))
    new_stats = nnx.to_pure_dict(nnx.state(model, nnx.BatchStat))
    correct = jnp.where(valid, logits.argmax(-1) == y, False).sum()
    return loss, (new_stats, per_ex, correct)


def _freeze(new: State, old: State, trainable: tuple[str, ...] | None) -> State:
    """Keeps every leaf whose path is not in ``trainable`` at its old value."""
    if trainable is None:
        return new
    keep = set(trainable)
    paths = leaf_paths(new)
    leaves_new, treedef = jax.tree.flatten(new)
    leaves_old = jax.tree.leaves(old)
    return jax.tree.unflatten(treedef, [n if p in keep else o for p, n, o in zip(paths, leaves_new, leaves_old, strict=True)])


def train_step(graphdef, tx, state, opt_state, x, y, valid, cfg: LocalConfig | None = None, anchor=None):
    """One SGD step on one batch; a batch with no valid row changes nothing.

    Args:
      graphdef: the model's NNX graphdef.
      tx: the optax optimizer.
      state: model state (see :data:`State`).
      opt_state: ``tx``'s state for ``state["params"]``.
      x: images ``[B, H, W, C]`` (uint8 or float).
      y: labels ``int32[B]``.
      valid: ``bool[B]``, rows that are real examples.
      cfg: FedProx ``mu``, frozen leaves and normalisation (default: none).
      anchor: the round's global parameters, for FedProx.

    Returns:
      ``(state, opt_state, (loss_sum, correct, count))`` for this batch.
    """
    cfg = cfg or LocalConfig()
    active = valid.any()
    # An all-padding batch is computed with every row "valid" (keeps the
    # batch statistics finite) and then discarded by the select below.
    valid_eff = jnp.where(active, valid, True)
    grad_fn = jax.value_and_grad(_loss, argnums=1, has_aux=True)
    anchor = state["params"] if anchor is None else anchor
    (_, (stats, per_ex, correct)), grads = grad_fn(
        graphdef, state["params"], state["batch_stats"], normalize_images(x, cfg.norm), y, valid_eff,
        anchor, cfg.mu,
    )
    updates, new_opt = tx.update(grads, opt_state, state["params"])
    new_state = {"params": optax.apply_updates(state["params"], updates), "batch_stats": stats}
    new_state = _freeze(new_state, state, cfg.trainable)

    def keep(new, old):
        return jnp.where(active, new, old)

    new_state = jax.tree.map(keep, new_state, state)
    new_opt = jax.tree.map(keep, new_opt, opt_state)
    loss_sum = jnp.where(valid, per_ex, 0.0).sum()
    return new_state, new_opt, (loss_sum, correct, valid.sum())


def local_train(
    graphdef: nnx.GraphDef,
    cfg: LocalConfig,
    state: State,
    x: jax.Array,
    y: jax.Array,
    mask: jax.Array,
    key: jax.Array,
    *,
    opt_state: Any = None,
    return_opt_state: bool = False,
):
    """Trains one client for ``cfg.local_epochs`` epochs (pure; jit/vmap it).

    Args:
      graphdef: the model's NNX graphdef (static).
      cfg: local hyper-parameters (static).
      state: starting model state.
      x: the client's images ``[N, H, W, C]``, uint8 or float.
      y: labels ``int32[N]``.
      mask: ``bool[N]``, True for real examples (padding False).
      key: the client's PRNG key (shuffling).
      opt_state: optimizer state to resume from; ``None`` starts fresh (as
        every federated round does: momentum is not carried across rounds).
      return_opt_state: also return the final optimizer state.

    Returns:
      ``(state, metrics)`` (plus ``opt_state`` if requested); metrics holds
      ``loss`` (mean training loss over the seen examples), ``accuracy``
      (training accuracy), ``num_examples`` (real examples ``n``) and
      ``steps`` (effective SGD steps).
    """
    tx = make_optimizer(cfg)
    keys = jax.vmap(lambda e: jax.random.fold_in(key, e))(jnp.arange(cfg.local_epochs))
    index, valid = jax.vmap(epoch_batches, in_axes=(0, None, None))(keys, mask, cfg.batch_size)
    index = index.reshape(-1, cfg.batch_size)  # [E * S, B]
    valid = valid.reshape(-1, cfg.batch_size)

    def body(carry, batch):
        st, opt, sums = carry
        idx, ok = batch
        st, opt, (loss_sum, correct, count) = train_step(
            graphdef, tx, st, opt, x[idx], y[idx], ok, cfg, anchor
        )
        sums = (sums[0] + loss_sum, sums[1] + correct, sums[2] + count, sums[3] + ok.any())
        return (st, opt, sums), None

    zero_f, zero_i = jnp.zeros((), jnp.float32), jnp.zeros((), jnp.int32)
    anchor = state["params"]  # the round's global parameters (FedProx)
    if opt_state is None:
        opt_state = tx.init(state["params"])
    carry = (state, opt_state, (zero_f, zero_i, zero_i, zero_i))
    (state, opt_state, sums), _ = jax.lax.scan(body, carry, (index, valid), unroll=cfg.unroll)
    seen = jnp.maximum(sums[2], 1)
    metrics = {
        "loss": sums[0] / seen,
        "accuracy": sums[1] / seen,
        "num_examples": mask.sum().astype(jnp.int32),
        "steps": sums[3],
    }
    if return_opt_state:
        return state, metrics, opt_state
    return state, metrics
