"""FedAvg as a pure function, and flat-vector views of model states.

``fedavg`` is the plaintext oracle for the encrypted aggregation: the
encrypted protocol quantizes the flat vector ``ravel(new) - ravel(global)``
of every client, sums ciphertexts and must land within the quantization
error of ``ravel(fedavg(...))``.

Batch-norm statistics are averaged exactly like weights (they are leaves of
the state ``{"params", "batch_stats"}``): the auditor and ``fbh predict``
need ONE global model with running statistics, which FedBN-style local
statistics would not provide. The averaged running variance ignores the
spread of the client means (a small bias under IID data, larger under
label skew).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree

__all__ = ["fedavg", "num_params", "ravel", "ravel_clients", "unravel"]


def fedavg(client_states: Any, num_examples: jax.Array) -> Any:
    """Weighted mean over the leading client axis ``C``.

    Args:
      client_states: pytree whose leaves have shape ``[C, ...]``.
      num_examples: ``[C]`` sample counts (the weights; at least one > 0).

    Returns:
      The pytree of weighted means, leaves shaped ``[...]``.
    """
    n = jnp.asarray(num_examples, jnp.float32)
    w = n / n.sum()
    # HIGHEST: on Ampere/Hopper GPUs a default float32 contraction runs in TF32 (10-bit mantissa,
    # ~5e-4 relative error); the average is the encrypted path's oracle and costs C x P flops only.
    return jax.tree.map(
        lambda p: jnp.tensordot(w, p.astype(jnp.float32), axes=1, precision=jax.lax.Precision.HIGHEST).astype(p.dtype),
        client_states,
    )


def ravel(tree: Any) -> jax.Array:
    """Flattens a state pytree to ``float32[P]`` (leaves in pytree order)."""
    flat, _ = ravel_pytree(tree)
    return flat.astype(jnp.float32)


def ravel_clients(client_states: Any) -> jax.Array:
    """Flattens stacked client states ``[C, ...]`` to ``float32[C, P]``."""
    return jax.vmap(ravel)(client_states)


def unravel(flat: jax.Array, template: Any) -> Any:
    """Inverse of :func:`ravel`: rebuilds a pytree shaped like ``template``.

    Args:
      flat: ``float32[P]``.
      template: any pytree with the target structure, shapes and dtypes.

    Returns:
      The pytree with the values of ``flat``.

    Raises:
      ValueError: if ``flat`` does not have ``P`` elements.
    """
    ref, unravel_fn = ravel_pytree(template)
    if flat.shape != ref.shape:
        msg = f"flat vector has shape {flat.shape}, the template needs {ref.shape}"
        raise ValueError(msg)
    return unravel_fn(flat)


def num_params(tree: Any) -> int:
    """``P``: the number of scalars in a pytree (the length of :func:`ravel`)."""
    return sum(int(leaf.size) for leaf in jax.tree.leaves(tree))
