"""The paper's CNN and ANN, written in Flax NNX with CPU-friendly primitives.

The CNN follows the paper: four 3x3 convolutions, each followed by 2x2
max-pooling (28 -> 14 -> 7 -> 3 -> 1), one batch-normalization layer and two
dense layers. Widths 32-64-128-256 and a 128-unit hidden layer give
422,154 parameters, trained at ~1,500 images/s on a 2-core CPU (batch 10).

Two XLA-CPU traps shape the layers (measured with stock ``nnx.Conv`` and
``nnx.max_pool``, see issue 3):

* convolution is written as patches x matmul (:func:`conv_patches`): the
  weight gradient is then a plain matmul, which stays fast inside
  ``lax.scan`` and under ``vmap`` over per-client weights, where the
  convolution's weight gradient is 24x and 3.5x slower;
* max-pooling is reshape-then-max (:func:`max_pool_2x2`), whose backward
  pass is ~10x faster than that of ``reduce_window``.

A third effect is not a layer choice: a ``vmap`` over all C clients makes
every activation C times larger and pushes it out of cache, so on a CPU the
federated round vmaps one client at a time (``fbh.train.federated``).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from flax import nnx

__all__ = [
    "ANN",
    "CNN",
    "MODEL_NAMES",
    "PatchConv",
    "conv_patches",
    "create_model",
    "max_pool_2x2",
    "param_count",
]

MODEL_NAMES = ("cnn", "ann")


def conv_patches(x: jax.Array) -> jax.Array:
    """Extracts SAME-padded 3x3 patches by slicing (im2col).

    Args:
      x: images ``[B, H, W, Cin]``.

    Returns:
      ``[B, H, W, 9 * Cin]``, patch element ``(dy, dx, c)`` at index
      ``(dy * 3 + dx) * Cin + c`` (the HWIO kernel order, flattened).
    """
    h, w = x.shape[1], x.shape[2]
    xp = jnp.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    # Static slices and a concatenate: pure data movement whose transpose is
    # pad-and-add, so the backward pass contains no convolution at all.
    shifted = [xp[:, dy : dy + h, dx : dx + w, :] for dy in range(3) for dx in range(3)]
    return jnp.concatenate(shifted, axis=-1)


def max_pool_2x2(x: jax.Array) -> jax.Array:
    """2x2 max-pooling with stride 2 as reshape-then-max (VALID: odd edges drop).

    Args:
      x: ``[B, H, W, C]``.

    Returns:
      ``[B, H // 2, W // 2, C]``.
    """
    b, h, w, c = x.shape
    h2, w2 = h // 2, w // 2
    x = x[:, : 2 * h2, : 2 * w2, :].reshape(b, h2, 2, w2, 2, c)
    return x.max(axis=(2, 4))


class PatchConv(nnx.Module):
    """A SAME-padded, stride-1 3x3 convolution computed as patches x matmul.

    The kernel is stored flattened as ``[9 * Cin, Cout]`` so that the forward
    pass is one matmul; it holds the same numbers as an HWIO ``nnx.Conv``
    kernel ``[3, 3, Cin, Cout]`` reshaped.
    """

    def __init__(self, in_features: int, out_features: int, *, rngs: nnx.Rngs):
        """Creates the layer.

        Args:
          in_features: input channels ``Cin``.
          out_features: output channels ``Cout``.
          rngs: NNX random streams (``params`` is used).
        """
        init = nnx.initializers.lecun_normal()
        self.kernel = nnx.Param(init(rngs.params(), (9 * in_features, out_features), jnp.float32))
        self.bias = nnx.Param(jnp.zeros((out_features,), jnp.float32))

    def __call__(self, x: jax.Array) -> jax.Array:
        """Applies the convolution to ``[B, H, W, Cin]`` images."""
        return conv_patches(x) @ self.kernel[...] + self.bias[...]


class CNN(nnx.Module):
    """The paper's CNN: 4 x (conv3x3 -> ReLU -> maxpool2x2), one BatchNorm, 2 dense.

    BatchNorm sits after the second convolution, where each batch of 10
    images still gives 10 x 14 x 14 samples per channel, so its batch
    statistics are stable even at the paper's batch size; that is also why
    the running averages can use a short memory (momentum 0.9), which makes
    them usable after the few dozen local steps of a small client.
    """

    def __init__(
        self,
        num_classes: int = 10,
        widths: tuple[int, int, int, int] = (32, 64, 128, 256),
        hidden: int = 128,
        input_shape: tuple[int, int, int] = (28, 28, 1),
        *,
        rngs: nnx.Rngs,
    ):
        """Creates the CNN for ``input_shape`` images (the paper's: 28x28x1).

        Args:
          num_classes: number of output logits.
          widths: output channels of the four convolutions.
          hidden: width of the first dense layer.
          input_shape: ``(H, W, C)`` of the images; H and W must be >= 16 so
            that four 2x2 poolings leave at least one pixel.
          rngs: NNX random streams.
        """
        h, w, channels = (int(v) for v in input_shape)
        if min(h, w) < 16 or channels < 1:
            msg = f"the CNN needs images of at least 16x16 pixels, got input_shape {tuple(input_shape)}"
            raise ValueError(msg)
        c1, c2, c3, c4 = widths
        self.conv1 = PatchConv(channels, c1, rngs=rngs)
        self.conv2 = PatchConv(c1, c2, rngs=rngs)
        self.bn = nnx.BatchNorm(c2, momentum=0.9, rngs=rngs)
        self.conv3 = PatchConv(c2, c3, rngs=rngs)
        self.conv4 = PatchConv(c3, c4, rngs=rngs)
        # 28 -> 14 -> 7 -> 3 -> 1: the paper's last feature map is 1x1 (32 px: 2x2).
        self.dense1 = nnx.Linear(c4 * (h >> 4) * (w >> 4), hidden, rngs=rngs)
        self.dense2 = nnx.Linear(hidden, num_classes, rngs=rngs)

    def __call__(self, x: jax.Array, *, train: bool, mask: jax.Array | None = None) -> jax.Array:
        """Computes logits.

        Args:
          x: images ``[B, H, W, C]`` (float), shaped as ``input_shape``.
          train: use batch statistics (and update the running ones) if True,
            the running statistics otherwise.
          mask: optional ``bool[B]``; only True rows enter the batch
            statistics (padding must not move them).

        Returns:
          logits ``[B, num_classes]``.
        """
        x = max_pool_2x2(nnx.relu(self.conv1(x)))
        x = self.conv2(x)
        bn_mask = None if mask is None else mask[:, None, None, None]
        x = self.bn(x, use_running_average=not train, mask=bn_mask)
        x = max_pool_2x2(nnx.relu(x))
        x = max_pool_2x2(nnx.relu(self.conv3(x)))
        x = max_pool_2x2(nnx.relu(self.conv4(x)))
        x = x.reshape(x.shape[0], -1)
        x = nnx.relu(self.dense1(x))
        return self.dense2(x)


class ANN(nnx.Module):
    """The paper's dense-only baseline: H*W*C (784) -> hidden -> num_classes."""

    def __init__(
        self,
        num_classes: int = 10,
        hidden: int = 128,
        input_shape: tuple[int, int, int] = (28, 28, 1),
        *,
        rngs: nnx.Rngs,
    ):
        """Creates the ANN for ``input_shape`` images (the paper's: 28x28x1)."""
        self.dense1 = nnx.Linear(math.prod(int(v) for v in input_shape), hidden, rngs=rngs)
        self.dense2 = nnx.Linear(hidden, num_classes, rngs=rngs)

    def __call__(self, x: jax.Array, *, train: bool, mask: jax.Array | None = None) -> jax.Array:
        """Computes logits; ``train`` and ``mask`` are accepted for a common signature."""
        del train, mask  # no batch statistics in this model
        x = x.reshape(x.shape[0], -1)
        return self.dense2(nnx.relu(self.dense1(x)))


def create_model(
    name: str, num_classes: int = 10, seed: int = 0, input_shape: tuple[int, int, int] = (28, 28, 1)
) -> nnx.Module:
    """Builds one of the paper's models by name.

    Args:
      name: ``"cnn"`` or ``"ann"``.
      num_classes: number of output logits.
      seed: seed of the parameter initialization.
      input_shape: ``(H, W, C)`` of the images.

    Returns:
      The freshly initialized NNX module.

    Raises:
      ValueError: for an unknown name.
    """
    rngs = nnx.Rngs(seed, params=seed)
    if name == "cnn":
        return CNN(num_classes, input_shape=input_shape, rngs=rngs)
    if name == "ann":
        return ANN(num_classes, input_shape=input_shape, rngs=rngs)
    msg = f"unknown model {name!r}; expected one of {MODEL_NAMES} or a 'package.module:callable' factory"
    raise ValueError(msg)


def param_count(model_or_params) -> int:
    """Counts trainable parameters (``nnx.Param``; batch statistics excluded).

    Args:
      model_or_params: an NNX module, or a pytree of parameter arrays.

    Returns:
      The number of scalar parameters.
    """
    if isinstance(model_or_params, nnx.Module):
        model_or_params = nnx.state(model_or_params, nnx.Param)
    return sum(math.prod(leaf.shape) for leaf in jax.tree.leaves(model_or_params))
