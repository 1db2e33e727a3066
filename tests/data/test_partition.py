"""Client partitions and the validation split, on real MNIST labels."""

from __future__ import annotations

import numpy as np
import pytest

from fbh.data import (
    PARTITION_SCHEMES,
    label_histogram,
    pack_clients,
    partition,
    split_validation,
)


def _assert_exact_cover(parts, n):
    allidx = np.concatenate(parts)
    assert allidx.dtype == np.int64
    assert allidx.size == n
    np.testing.assert_array_equal(np.sort(allidx), np.arange(n))  # each index exactly once
    for p in parts:
        assert np.all(np.diff(p) > 0)  # sorted, no duplicates


@pytest.mark.parametrize("scheme", PARTITION_SCHEMES)
@pytest.mark.parametrize("num_clients", [1, 7, 10])
def test_every_index_used_exactly_once(mnist, scheme, num_clients):
    parts = partition(mnist.y_train, num_clients, scheme, seed=3)
    assert len(parts) == num_clients
    _assert_exact_cover(parts, mnist.y_train.size)


@pytest.mark.parametrize("scheme", PARTITION_SCHEMES)
def test_deterministic_per_seed(mnist, scheme):
    a = partition(mnist.y_train, 10, scheme, seed=5)
    b = partition(mnist.y_train, 10, scheme, seed=5)
    c = partition(mnist.y_train, 10, scheme, seed=6)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not all(np.array_equal(x, y) for x, y in zip(a, c, strict=True))


def _skew(hist):
    """Mean total-variation distance between client label mixes and the global mix."""
    global_mix = hist.sum(0) / hist.sum()
    mixes = hist / hist.sum(1, keepdims=True)
    return 0.5 * np.abs(mixes - global_mix).sum(1).mean()


def test_iid_is_balanced(mnist):
    parts = partition(mnist.y_train, 10, "iid", seed=0)
    assert [p.size for p in parts] == [6000] * 10
    assert _skew(label_histogram(mnist.y_train, parts)) < 0.03


def test_iid_size_skew(mnist):
    parts = partition(mnist.y_train, 10, "iid", size_sigma=1.0, min_size=50, seed=0)
    sizes = np.array([p.size for p in parts])
    _assert_exact_cover(parts, mnist.y_train.size)
    assert sizes.min() >= 50
    assert sizes.max() > 2 * sizes.min()  # really unequal
    assert _skew(label_histogram(mnist.y_train, parts)) < 0.1  # but same label mix


def test_dirichlet_skew_follows_alpha(mnist):
    y = mnist.y_train
    skews = [
        _skew(label_histogram(y, partition(y, 10, "dirichlet", alpha=a, seed=0)))
        for a in (0.1, 1.0, 100.0)
    ]
    assert skews[0] > 0.5  # alpha 0.1: clients see mostly a few classes
    assert skews[0] > skews[1] > skews[2]
    assert skews[2] < 0.05  # large alpha approaches IID


def test_dirichlet_min_size_is_guaranteed(mnist):
    small = mnist.y_train[:2000]
    first_draw_failed = 0
    for seed in range(5):
        parts = partition(small, 20, "dirichlet", alpha=0.1, min_size=20, seed=seed)
        _assert_exact_cover(parts, small.size)
        assert min(p.size for p in parts) >= 20
        try:
            partition(small, 20, "dirichlet", alpha=0.1, min_size=20, seed=seed, max_tries=1)
        except ValueError:
            first_draw_failed += 1
    assert first_draw_failed > 0  # the guarantee came from redrawing


def test_dirichlet_impossible_min_size_raises(mnist):
    with pytest.raises(ValueError, match="no Dirichlet"):
        partition(mnist.y_train[:1000], 50, "dirichlet", alpha=0.01, min_size=19, max_tries=5)


def test_shards_give_few_labels_per_client(mnist):
    parts = partition(mnist.y_train, 10, "shards", shards_per_client=2, seed=0)
    hist = label_histogram(mnist.y_train, parts)
    assert [p.size for p in parts] == [6000] * 10
    # a shard of 3,000 sorted labels spans at most 2 classes, so 2 shards at most 4
    assert ((hist > 0).sum(1) <= 4).all()
    assert (hist.max(1) >= 1500).all()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"scheme": "pathological"}, "unknown partition scheme"),
        ({"size_sigma": -1.0}, "size_sigma must be >= 0"),
        ({"scheme": "dirichlet", "alpha": 0.0}, "alpha must be > 0"),
        ({"scheme": "shards", "shards_per_client": 0}, "shards_per_client must be >= 1"),
        ({"num_clients": 0}, "cannot give 0 clients"),
        ({"num_clients": 11, "min_size": 10}, "cannot give 11 clients >= 10 of 100"),
        ({"scheme": "shards", "num_clients": 9, "shards_per_client": 12, "min_size": 0}, "108 sh"),
    ],
)
def test_bad_arguments_raise(kwargs, match):
    labels = np.arange(100) % 10
    args = {"num_clients": 5, **kwargs}
    with pytest.raises(ValueError, match=match):
        partition(labels, **args)


def test_labels_must_be_integers():
    with pytest.raises(ValueError, match="non-negative integers"):
        partition(np.linspace(0, 1, 100), 2)


def test_validation_split_stratified_and_disjoint(mnist):
    train_idx, val_idx = split_validation(mnist.y_train, 5000, seed=0)
    assert val_idx.size == 5000
    assert train_idx.size == 55000
    _assert_exact_cover([train_idx, val_idx], 60000)
    counts = np.bincount(mnist.y_train[val_idx], minlength=10)
    expected = 5000 * np.bincount(mnist.y_train) / 60000
    assert np.abs(counts - expected).max() < 1  # proportional up to rounding


def test_validation_split_fraction_and_determinism(mnist):
    a = split_validation(mnist.y_train, 0.1, seed=2)
    b = split_validation(mnist.y_train, 0.1, seed=2)
    c = split_validation(mnist.y_train, 0.1, seed=3)
    assert a[1].size == 6000
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[1], c[1])


@pytest.mark.parametrize("size", [0, 60000, 1.0, -0.5, 2.5])
def test_validation_bad_size_raises(mnist, size):
    with pytest.raises(ValueError, match="validation size"):
        split_validation(mnist.y_train, size)


def test_partition_after_validation_split(mnist):
    train_idx, val_idx = split_validation(mnist.y_train, 5000, seed=0)
    parts = [train_idx[p] for p in partition(mnist.y_train[train_idx], 10, "dirichlet", seed=0)]
    used = np.concatenate(parts)
    assert np.intersect1d(used, val_idx).size == 0
    assert np.union1d(used, val_idx).size == 60000


def test_pack_clients(mnist):
    parts = partition(mnist.y_test, 4, "dirichlet", alpha=0.3, seed=0)
    packed = pack_clients(mnist.x_test, mnist.y_test, parts, multiple_of=10)
    x, y, mask, counts = packed
    sizes = [p.size for p in parts]
    n_max = -(-max(sizes) // 10) * 10
    assert x.shape == (4, n_max, 28, 28)
    assert x.dtype == np.uint8
    assert y.shape == mask.shape == (4, n_max)
    assert y.dtype == np.int32
    assert counts.tolist() == sizes
    assert counts.dtype == np.int32
    for c, p in enumerate(parts):
        assert mask[c].sum() == p.size
        assert mask[c, : p.size].all()
        np.testing.assert_array_equal(x[c, : p.size], mnist.x_test[p])
        np.testing.assert_array_equal(y[c, : p.size], mnist.y_test[p])
        assert not x[c, p.size :].any()
        assert not y[c, p.size :].any()


def test_pack_clients_length_mismatch():
    with pytest.raises(ValueError, match="x has 3 examples but y has 2"):
        pack_clients(np.zeros((3, 2)), np.zeros(2, np.int32), [np.arange(2)])
