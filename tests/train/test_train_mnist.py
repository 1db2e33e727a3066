"""Learning on real MNIST (../shared/data/mnist): a few hundred CNN steps reach > 90%."""

import gzip
import os
from pathlib import Path

import jax
import numpy as np
import pytest

from fbh.train import FederatedTrainer, train_centralized

MNIST = Path(os.environ.get("FBH_MNIST_DIR", Path(__file__).resolve().parents[3] / "shared" / "data" / "mnist"))


def _read_idx(path: Path) -> np.ndarray:
    """Tiny gzip-IDX reader (fbh.data owns the real one; this keeps the test standalone)."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim).reshape(shape)


@pytest.fixture(scope="module")
def mnist():
    if not (MNIST / "train-images-idx3-ubyte.gz").exists():
        pytest.fail(f"real MNIST gzip IDX files are expected in {MNIST} (set FBH_MNIST_DIR)")
    x = _read_idx(MNIST / "train-images-idx3-ubyte.gz")[..., None]
    y = _read_idx(MNIST / "train-labels-idx1-ubyte.gz").astype(np.int32)
    xt = _read_idx(MNIST / "t10k-images-idx3-ubyte.gz")[..., None]
    yt = _read_idx(MNIST / "t10k-labels-idx1-ubyte.gz").astype(np.int32)
    return x, y, xt, yt


def test_centralized_cnn_learns_mnist(mnist):
    x, y, xt, yt = mnist
    # 400 SGD steps of batch 10
    _, history = train_centralized(
        "cnn", x[:4000], y[:4000], epochs=1, lr=0.05, momentum=0.0, x_test=xt[:1000], y_test=yt[:1000]
    )
    print(history)
    assert history[-1]["test_accuracy"] > 0.90
    assert history[-1]["test_loss"] < 0.4


@pytest.mark.slow
def test_federated_round_on_mnist_improves_global_model(mnist):
    x, y, xt, yt = mnist
    c, n = 4, 600
    trainer = FederatedTrainer("cnn", lr=0.05, momentum=0.0, local_epochs=3, seed=0)
    state = trainer.init()
    before, _ = trainer.evaluate(state, xt[:1000], yt[:1000])
    x_c, y_c = x[: c * n].reshape(c, n, 28, 28, 1), y[: c * n].reshape(c, n)
    mask = np.arange(n)[None] < np.array([[600], [450], [300], [150]])  # unequal hospitals
    client_states, metrics = trainer.round(state, x_c, y_c, mask, jax.random.key(0))
    state = trainer.aggregate(client_states, metrics["num_examples"])
    after, _ = trainer.evaluate(state, xt[:1000], yt[:1000])
    print(f"accuracy before {before:.3f} after one round {after:.3f}")
    # 45-180 local steps per client, then one average: ~0.78 (each client alone: 0.52-0.78)
    assert after > 0.7 > 0.2 > before
    np.testing.assert_array_equal(metrics["steps"], [180, 135, 90, 45])
