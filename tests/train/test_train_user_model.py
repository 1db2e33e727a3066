"""Any Flax NNX module is a model: calling convention, shapes, partial retraining, FedProx."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from fbh.model import ModelSpec, call_model, create_model, param_count
from fbh.train import (
    FederatedTrainer,
    LocalConfig,
    init_state,
    leaf_paths,
    load_pretrained,
    local_train,
    ravel,
    roc_auc,
    select_trainable,
    trainable_indices,
)


class PlainMLP(nnx.Module):
    """A user model with a plain ``__call__(x)``: no train/mask keywords."""

    def __init__(self, num_classes: int = 3, hidden: int = 8, *, rngs: nnx.Rngs):
        self.hidden = nnx.Linear(4 * 4 * 3, hidden, rngs=rngs)
        self.bn = nnx.BatchNorm(hidden, rngs=rngs)
        self.out = nnx.Linear(hidden, num_classes, rngs=rngs)

    def __call__(self, x):
        return self.out(nnx.relu(self.bn(self.hidden(x.reshape(x.shape[0], -1)))))


def _data(c=2, n=12, shape=(4, 4, 3), k=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, (c, n, *shape), dtype=np.uint8)
    y = rng.integers(0, k, (c, n)).astype(np.int32)
    return jnp.asarray(x), jnp.asarray(y), jnp.ones((c, n), bool)


def test_plain_call_module_trains_and_uses_nnx_modes():
    # Prepare: a module instance whose __call__ takes only x, with BatchNorm inside
    trainer = FederatedTrainer(PlainMLP(rngs=nnx.Rngs(0)), num_classes=3, batch_size=4, client_batch=None)
    x, y, mask = _data()
    # Execute
    states, metrics = trainer.round(trainer.init(), x, y, mask, jax.random.key(0))
    # Assert: it trained, batch statistics moved, evaluation used the running ones
    assert np.all(np.isfinite(np.asarray(metrics["loss"])))
    assert not np.allclose(states["batch_stats"]["bn"]["mean"][0], 0.0)
    assert trainer.meta()["model_spec"] is None  # a bare instance: predict needs model=...
    model = PlainMLP(rngs=nnx.Rngs(0))
    call_model(model, jnp.zeros((2, 4, 4, 3)), train=False)
    assert model.bn.use_running_average
    call_model(model, jnp.zeros((2, 4, 4, 3)), train=True)
    assert not model.bn.use_running_average


def test_model_spec_round_trips_and_fills_dataset_arguments():
    spec = ModelSpec("cnn").completed(num_classes=5, input_shape=(32, 32, 3))
    assert spec == ModelSpec.from_json(spec.to_json())
    assert spec.kwargs == {"num_classes": 5, "input_shape": [32, 32, 3]}
    model = spec.build(seed=1)
    assert model(jnp.zeros((2, 32, 32, 3)), train=False).shape == (2, 5)
    # 32 px leaves a 2x2 map after four poolings: the first dense layer sees 4x the 28 px features
    assert param_count(model) - param_count(create_model("cnn", 5, input_shape=(28, 28, 3))) == 3 * 256 * 128


@pytest.mark.parametrize(
    ("factory", "match"),
    [("nodots", "package.module:callable"), ("fbh.nothere:X", "cannot import"), ("fbh.model:Nope", "has no")],
)
def test_bad_factories_are_named(factory, match):
    with pytest.raises(ValueError, match=match):
        ModelSpec(factory).build()


def test_dropout_with_its_own_rng_stream_is_refused():
    class WithDropout(nnx.Module):
        def __init__(self, rngs):
            self.lin = nnx.Linear(3, 2, rngs=rngs)
            self.drop = nnx.Dropout(0.5, rngs=rngs)

        def __call__(self, x):
            return self.drop(self.lin(x))

    with pytest.raises(ValueError, match="cannot federate"):
        init_state(WithDropout(nnx.Rngs(0)))


def test_trainable_dense_is_the_cnn_head_and_frozen_leaves_stay():
    _, state = init_state(create_model("cnn", 10))
    chosen = select_trainable(state, "DENSE")  # case-insensitive
    params = [p for p in chosen if p.startswith("params/")]
    assert params == ["params/dense1/bias", "params/dense1/kernel", "params/dense2/bias", "params/dense2/kernel"]
    idx = trainable_indices(state, chosen)
    assert idx.size == 34_186 + 2 * 64  # the head, plus the BatchNorm running mean/var
    with pytest.raises(ValueError, match="matches no parameter"):
        select_trainable(state, "nothing-like-this")

    graphdef, state = init_state(create_model("ann", 3, input_shape=(4, 4, 3)))
    cfg = LocalConfig(batch_size=4, trainable=("params/dense2/kernel", "params/dense2/bias"))
    x, y, mask = _data(c=1)
    new, _ = local_train(graphdef, cfg, state, x[0], y[0], mask[0], jax.random.key(0))
    np.testing.assert_array_equal(new["params"]["dense1"]["kernel"], state["params"]["dense1"]["kernel"])
    assert not np.allclose(new["params"]["dense2"]["kernel"], state["params"]["dense2"]["kernel"])


def test_fedprox_term_keeps_local_models_near_the_global_one():
    graphdef, state = init_state(create_model("ann", 3, input_shape=(4, 4, 3)))
    x, y, mask = _data(c=1, n=40)
    drift = {}
    for mu in (0.0, 10.0):
        new, _ = local_train(graphdef, LocalConfig(lr=0.05, batch_size=4, local_epochs=3, mu=mu),
                             state, x[0], y[0], mask[0], jax.random.key(1))
        drift[mu] = float(jnp.linalg.norm(ravel(new["params"]) - ravel(state["params"])))
    assert 0 < drift[10.0] < 0.7 * drift[0.0]


def test_load_pretrained_reinitialises_a_head_of_another_class_count(tmp_path):
    from fbh.protocol.rundir import RunDir

    source = FederatedTrainer("cnn", num_classes=10, seed=5, client_batch=None)
    path = tmp_path / "model.npz"
    RunDir(tmp_path).save_model(path, ravel(source.init()), **source.meta())
    target = FederatedTrainer("cnn", num_classes=2, seed=0, client_batch=None).init()
    state, fresh = load_pretrained(tmp_path, target)
    assert fresh == ["params/dense2/bias", "params/dense2/kernel"]
    np.testing.assert_array_equal(state["params"]["conv3"]["kernel"], source.init()["params"]["conv3"]["kernel"])
    np.testing.assert_array_equal(state["params"]["dense2"]["kernel"], target["params"]["dense2"]["kernel"])
    assert leaf_paths(state) == leaf_paths(target)


def test_roc_auc_equals_pairwise_definition():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 60)
    probs = rng.dirichlet(np.ones(3), 60).round(1)  # rounding makes ties

    def pairwise(pos, neg):
        return np.mean([(p > q) + 0.5 * (p == q) for p in pos for q in neg])

    expected = np.mean([pairwise(probs[y == k, k], probs[y != k, k]) for k in range(3)])
    assert roc_auc(y, probs) == pytest.approx(expected)
    yb = (y > 0).astype(int)
    pb = np.stack([1 - probs[:, 0], probs[:, 0]], 1)
    assert roc_auc(yb, pb) == pytest.approx(pairwise(pb[yb == 1, 1], pb[yb == 0, 1]))
