"""Quantization: unbiased stochastic rounding, the sum bound, determinism, clipping."""

from __future__ import annotations

import numpy as np
import pytest

from fbh.crypto.quantize import Quantizer, dequantize, quantize


def test_sum_over_clients_never_exceeds_bound():
    q = Quantizer(clip=0.5, num_clients=10, bound=2**20)
    rng = np.random.default_rng(1)
    weights = rng.dirichlet(np.ones(10))
    # Worst case: every coordinate at +clip (or beyond, clipped) for every client.
    total = sum(q.quantize(np.full(1000, 3.0, np.float32), w, seed=i)[0] for i, w in enumerate(weights))
    assert total.max() <= q.bound
    total = sum(q.quantize(np.full(1000, -3.0, np.float32), w, seed=i)[0] for i, w in enumerate(weights))
    assert total.min() >= -q.bound


def test_rounding_is_unbiased_and_within_one_step():
    x = np.full(200_000, 0.3, np.float32)
    q, _ = quantize(x, clip=1.0, scale=10.0, seed=7)
    assert set(np.unique(q)) == {3}  # 0.3 * 10 = 3 exactly representable up to float error
    q, _ = quantize(np.full(200_000, 0.25, np.float64), clip=1.0, scale=10.0, seed=7)
    assert set(np.unique(q)) == {2, 3}
    assert abs(q.mean() - 2.5) < 0.01  # E[q] = x * scale
    err = dequantize(q, 10.0) - 0.25
    assert np.abs(err).max() <= 0.1 + 1e-6


def test_deterministic_per_seed_and_different_across_seeds():
    x = np.random.default_rng(0).normal(0, 0.1, 10_000)
    a, _ = quantize(x, 1.0, 1000.0, seed=1)
    b, _ = quantize(x, 1.0, 1000.0, seed=1)
    c, _ = quantize(x, 1.0, 1000.0, seed=2)
    np.testing.assert_array_equal(a, b)
    assert (a != c).any()


def test_clipping_is_counted():
    x = np.array([0.0, 2.0, -2.0, 0.5], np.float32)
    q, n_clipped = quantize(x, clip=1.0, scale=4.0, seed=0)
    assert n_clipped == 2
    np.testing.assert_array_equal(q, [0, 4, -4, 2])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"clip": 0.0, "num_clients": 2, "bound": 100}, "clip"),
        ({"clip": 1.0, "num_clients": 0, "bound": 100}, "num_clients"),
        ({"clip": 1.0, "num_clients": 60, "bound": 100}, "too small"),
    ],
)
def test_bad_quantizer_settings(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Quantizer(**kwargs)


def test_bad_inputs_are_named():
    with pytest.raises(ValueError, match="non-finite value at index 1"):
        quantize(np.array([0.0, np.nan]), 1.0, 1.0, seed=0)
    with pytest.raises(ValueError, match="1-D"):
        quantize(np.zeros((2, 2)), 1.0, 1.0, seed=0)
    with pytest.raises(ValueError, match="weight"):
        Quantizer(1.0, 2, 100).quantize(np.zeros(3), 1.5, seed=0)
