"""fbh.train.fedavg and checkpoints: weighted mean, flat views, npz round-trip."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from fbh.train import (
    FederatedTrainer,
    fedavg,
    load_checkpoint,
    num_params,
    ravel,
    ravel_clients,
    read_checkpoint_meta,
    save_checkpoint,
    unravel,
)


def _stacked(c):
    rng = np.random.default_rng(0)
    return {
        "params": {
            "w": jnp.asarray(rng.normal(size=(c, 3, 2)), jnp.float32),
            "b": jnp.asarray(rng.normal(size=(c, 2)), jnp.float32),
        },
        "batch_stats": {"mean": jnp.asarray(rng.normal(size=(c, 4)), jnp.float32)},
    }


def test_fedavg_weighted_mean_unequal_counts():
    states = _stacked(3)
    counts = np.array([10, 30, 60])
    avg = fedavg(states, counts)
    for got, leaf in zip(jax.tree.leaves(avg), jax.tree.leaves(states), strict=True):
        want = sum(counts[i] * np.asarray(leaf[i], np.float64) for i in range(3)) / counts.sum()
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)


def test_fedavg_equal_counts_is_mean_and_zero_weight_is_ignored():
    states = _stacked(3)
    equal = fedavg(states, jnp.array([5, 5, 5]))
    np.testing.assert_allclose(equal["params"]["w"], states["params"]["w"].mean(0), rtol=1e-6)
    only_first = fedavg(states, jnp.array([7, 0, 0]))
    np.testing.assert_allclose(only_first["batch_stats"]["mean"], states["batch_stats"]["mean"][0], rtol=1e-6)


def test_fedavg_commutes_with_ravel():
    """Averaging flat vectors equals flattening the average (the encrypted path relies on it)."""
    states = _stacked(4)
    counts = jnp.array([1, 2, 3, 4])
    flat = ravel_clients(states)
    assert flat.shape == (4, num_params(jax.tree.map(lambda a: a[0], states)))
    want = jnp.matmul(counts / counts.sum(), flat, precision=jax.lax.Precision.HIGHEST)  # not TF32 on a GPU
    np.testing.assert_allclose(ravel(fedavg(states, counts)), want, rtol=1e-6, atol=1e-6)


def test_ravel_unravel_round_trip_and_shape_check():
    state = FederatedTrainer("cnn").init()
    flat = ravel(state)
    assert flat.dtype == jnp.float32 and flat.shape == (num_params(state),)
    back = unravel(flat, state)
    for a, b in zip(jax.tree.leaves(back), jax.tree.leaves(state), strict=True):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="template needs"):
        unravel(flat[:-1], state)


@pytest.mark.parametrize("model", ["cnn", "ann"])
def test_checkpoint_round_trip(tmp_path, model):
    trainer = FederatedTrainer(model, num_classes=10, seed=3)
    state = trainer.init()
    path = tmp_path / "model.npz"
    save_checkpoint(path, state, meta=trainer.meta())
    loaded = load_checkpoint(path)
    assert jax.tree.structure(loaded) == jax.tree.structure(state)
    for a, b in zip(jax.tree.leaves(loaded), jax.tree.leaves(state), strict=True):
        np.testing.assert_array_equal(a, b)
    meta = read_checkpoint_meta(path)
    assert {k: meta[k] for k in ("model", "num_classes", "seed")} == {"model": model, "num_classes": 10, "seed": 3}
    assert meta["model_spec"]["factory"] == f"fbh.model.cnn:{model.upper()}"
    x = np.zeros((4, 28, 28, 1), np.uint8)
    np.testing.assert_array_equal(trainer.predict(loaded, x), trainer.predict(state, x))


def test_checkpoint_rejects_separator_in_keys(tmp_path):
    with pytest.raises(ValueError, match="may not contain"):
        save_checkpoint(tmp_path / "bad.npz", {"a/b": np.zeros(2)})
