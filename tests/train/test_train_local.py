"""fbh.train.local: shuffling into batches, and masked padding == the unpadded client."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from fbh.model import create_model
from fbh.train import LocalConfig, init_state, make_local_fn
from fbh.train.local import epoch_batches


def _client(n, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 28, 28, 1), dtype=np.uint8), rng.integers(0, 10, n).astype(np.int32)


def test_epoch_batches_visits_each_real_example_once_and_ignores_padding_length():
    key = jax.random.key(7)
    mask = jnp.arange(17) < 12
    index, valid = epoch_batches(key, mask, 5)
    assert index.shape == valid.shape == (4, 5)
    assert sorted(np.asarray(index)[np.asarray(valid)].tolist()) == list(range(12))
    # real examples come first, so only the last real batch is partial
    assert np.asarray(valid).reshape(-1).tolist() == [True] * 12 + [False] * 8
    short_index, short_valid = epoch_batches(key, jnp.ones(12, bool), 5)
    real_order = np.asarray(index)[np.asarray(valid)]
    np.testing.assert_array_equal(np.asarray(short_index)[np.asarray(short_valid)], real_order)


def test_masked_padding_equals_unpadded_client():
    """A client padded with 18 fake rows trains exactly like the same client unpadded."""
    graphdef, state = init_state(create_model("cnn", seed=1))
    cfg = LocalConfig(lr=0.05, momentum=0.9, batch_size=10, local_epochs=2)
    train = make_local_fn(graphdef, cfg)
    x, y = _client(23)
    fake_x, fake_y = _client(18, seed=1)
    key = jax.random.key(3)

    padded = (np.concatenate([x, fake_x]), np.concatenate([y, fake_y]), np.arange(41) < 23)
    with jax.default_matmul_precision("highest"):  # equality is the point: no TF32 on a GPU
        short, m_short = train(state, x, y, np.ones(23, bool), key)
        long, m_long = train(state, *padded, key)

    assert int(m_short["steps"]) == int(m_long["steps"]) == 2 * 3  # ceil(23 / 10) per epoch
    assert int(m_long["num_examples"]) == 23
    np.testing.assert_allclose(m_long["loss"], m_short["loss"], rtol=1e-5)
    for a, b in zip(jax.tree.leaves(long), jax.tree.leaves(short), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    # and the training moved the model at all
    assert not np.allclose(long["params"]["dense2"]["kernel"], state["params"]["dense2"]["kernel"])


@pytest.mark.parametrize(
    "kwargs", [{"batch_size": 0}, {"local_epochs": 0}, {"lr": 0.0}, {"momentum": 1.0}, {"unroll": 0}]
)
def test_local_config_rejects_bad_values(kwargs):
    with pytest.raises(ValueError, match="must be|need lr"):
        LocalConfig(**kwargs)
