"""fbh.train.federated: the one-call round equals a loop over clients; compiles once."""

import chex
import jax
import numpy as np
import pytest

from fbh.train import FederatedTrainer, fedavg, make_local_fn, make_round_impl


def _clients(c, n, counts, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, (c, n, 28, 28, 1), dtype=np.uint8)
    y = rng.integers(0, 10, (c, n)).astype(np.int32)
    mask = np.arange(n)[None, :] < np.asarray(counts)[:, None]
    return x, y, mask


@pytest.mark.parametrize("client_batch", [None, 1], ids=["vmap-all", "vmap-one-at-a-time"])
def test_round_equals_python_loop_over_clients(client_batch):
    trainer = FederatedTrainer("cnn", lr=0.05, local_epochs=1, seed=0, client_batch=client_batch)
    state = trainer.init()
    x, y, mask = _clients(3, 20, counts=[20, 13, 6])
    key = jax.random.key(11)

    # Equality is the point: full float32 matmuls, or TF32 on a GPU errs by ~1e-3 and fails rtol 1e-4.
    with jax.default_matmul_precision("highest"):
        client_states, metrics = trainer.round(state, x, y, mask, key)
        local = make_local_fn(trainer.graphdef, trainer.config)
        keys = jax.random.split(key, 3)
        wants = [local(state, x[c], y[c], mask[c], keys[c]) for c in range(3)]

    for c, (want, want_metrics) in enumerate(wants):
        got = jax.tree.map(lambda a, c=c: a[c], client_states)
        for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(want), strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(metrics["loss"][c], want_metrics["loss"], rtol=1e-5)
    np.testing.assert_array_equal(metrics["num_examples"], [20, 13, 6])
    np.testing.assert_array_equal(metrics["steps"], [2, 2, 1])


def test_jitted_round_traces_once():
    trainer = FederatedTrainer("ann", client_batch=None)
    round_fn = jax.jit(chex.assert_max_traces(make_round_impl(trainer.graphdef, trainer.config), n=1))
    state = trainer.init()
    for r in range(3):
        x, y, mask = _clients(2, 12, counts=[12, 5 + r], seed=r)
        state_c, _ = round_fn(state, x, y, mask, jax.random.key(r))
        state = fedavg(state_c, mask.sum(1))
    for r in range(2):
        trainer.round(state, x, y, mask, jax.random.key(r))
    assert trainer.num_traces == 1


def test_smoke_two_clients_eight_examples_one_round():
    # Prepare
    trainer = FederatedTrainer("cnn", num_classes=10, batch_size=4, local_epochs=1)
    state = trainer.init()
    x, y, mask = _clients(2, 8, counts=[8, 8])
    # Execute
    client_states, metrics = trainer.round(state, x, y, mask, jax.random.key(0))
    new = trainer.aggregate(client_states, metrics["num_examples"])
    acc, loss = trainer.evaluate(new, x.reshape(-1, 28, 28, 1), y.reshape(-1), batch_size=5)
    labels = trainer.predict(new, x[0])
    # Assert
    assert jax.tree.leaves(client_states)[0].shape[0] == 2
    assert jax.tree.structure(new) == jax.tree.structure(state)
    assert 0.0 <= acc <= 1.0 and np.isfinite(loss)
    assert labels.shape == (8,) and labels.dtype == np.int32
    assert np.isfinite(np.asarray(metrics["loss"])).all()
    moved = new["batch_stats"]["bn"]["mean"]
    assert not np.allclose(moved, state["batch_stats"]["bn"]["mean"])  # running stats were averaged in


def test_round_rejects_inconsistent_shapes():
    trainer = FederatedTrainer("ann")
    x, y, mask = _clients(2, 8, counts=[8, 8])
    with pytest.raises(ValueError, match="disagree"):
        trainer.round(trainer.init(), x[:, :7], y, mask, jax.random.key(0))


def test_one_client_alone_trains_bit_for_bit_as_among_all():
    # A hospital on its own node (fbh.flower) must compute exactly its row of the in-process round.
    from fbh.protocol.round import client_keys

    trainer = FederatedTrainer("ann", lr=0.05, local_epochs=1, seed=0, client_batch=1)
    state = trainer.init()
    x, y, mask = _clients(3, 16, counts=[16, 9, 4])
    keys = client_keys(seed=5, step=2, count=3)
    together, _ = trainer.round(state, x, y, mask, jax.random.fold_in(jax.random.key(5), 2))
    for c in range(3):
        alone, _ = trainer.train_clients(state, x[c:c + 1], y[c:c + 1], mask[c:c + 1], keys[c:c + 1])
        for a, b in zip(jax.tree.leaves(alone), jax.tree.leaves(together), strict=True):
            np.testing.assert_array_equal(np.asarray(a)[0], np.asarray(b)[c])
    with pytest.raises(ValueError, match="disagree"):
        trainer.train_clients(state, x, y, mask, keys[:2])
