"""fbh.model: shapes, parameter count, and the CPU-friendly layers vs stock ops."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from fbh.model import conv_patches, create_model, max_pool_2x2, param_count


def test_cnn_param_count_and_shapes():
    cnn = create_model("cnn", num_classes=10, seed=0)
    n = param_count(cnn)
    print(f"CNN parameters: {n}")
    # 4 convs (320 + 18,496 + 73,856 + 295,168) + BN (128) + dense (32,896 + 1,290)
    assert n == 422_154
    x = jnp.zeros((3, 28, 28, 1))
    assert cnn(x, train=False).shape == (3, 10)
    assert cnn(x, train=True).shape == (3, 10)


def test_ann_param_count_and_shapes():
    ann = create_model("ann", num_classes=26, seed=0)
    assert param_count(ann) == 784 * 128 + 128 + 128 * 26 + 26
    assert ann(jnp.zeros((2, 28, 28, 1)), train=True).shape == (2, 26)


def test_unknown_model_name_raises():
    with pytest.raises(ValueError, match="unknown model 'vgg'"):
        create_model("vgg")


def test_patch_conv_equals_lax_conv():
    x = jax.random.normal(jax.random.key(0), (2, 7, 7, 5))
    kernel = jax.random.normal(jax.random.key(1), (3, 3, 5, 6))
    with jax.default_matmul_precision("highest"):  # else TF32 on a GPU: both sides err by ~1e-3
        ref = jax.lax.conv_general_dilated(x, kernel, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"))
        got = conv_patches(x) @ kernel.reshape(-1, 6)
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("size", [28, 7, 3])
def test_max_pool_equals_stock(size):
    x = jax.random.normal(jax.random.key(2), (2, size, size, 4))
    ref = nnx.max_pool(x, (2, 2), strides=(2, 2), padding="VALID")
    np.testing.assert_array_equal(max_pool_2x2(x), ref)


def test_max_pool_gradient_equals_stock():
    x = jax.random.normal(jax.random.key(4), (2, 7, 7, 3))  # odd size: the last row/column drops

    def loss(pool):
        return lambda v: jnp.sin(pool(v)).sum()

    stock = jax.grad(loss(lambda v: nnx.max_pool(v, (2, 2), strides=(2, 2), padding="VALID")))(x)
    np.testing.assert_allclose(jax.grad(loss(max_pool_2x2))(x), stock, rtol=1e-6, atol=1e-7)
