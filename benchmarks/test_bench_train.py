"""pytest-benchmark wrappers for training throughput (fbh.bench.train_bench).

Run: ``.venv/bin/python -m pytest benchmarks/test_bench_train.py --benchmark-only``.
The ``round`` group times each variant of one round (10 clients x N
examples, batch 10, 1 local epoch) with the same data; torch joins if importable.
"""

import functools

import jax
import numpy as np
import pytest

from fbh.bench.train_bench import run_train_bench
from fbh.train import FederatedTrainer, make_local_fn

C, N = 10, 200


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    x = jax.device_put(rng.integers(0, 256, (C, N, 28, 28, 1), dtype=np.uint8))
    y = jax.device_put(rng.integers(0, 10, (C, N)).astype(np.int32))
    return x, y, jax.device_put(np.ones((C, N), bool)), jax.random.key(0)


def _images(benchmark):
    benchmark.extra_info.update(clients=C, examples_per_client=N, images=C * N)


@pytest.mark.benchmark(group="round")
@pytest.mark.parametrize("client_batch", [None, 1], ids=["vmap-all", "vmap-1-lax-map"])
def test_round_one_call(benchmark, data, client_batch):
    trainer = FederatedTrainer("cnn", lr=0.01, client_batch=client_batch)
    fn = functools.partial(trainer.round, trainer.init(), *data)
    jax.block_until_ready(fn())  # compile outside the timed region
    states, metrics = benchmark.pedantic(lambda: jax.block_until_ready(fn()), rounds=3, warmup_rounds=0)
    _images(benchmark)
    assert (np.asarray(metrics["steps"]) == N // 10).all()
    assert np.isfinite(np.asarray(metrics["loss"])).all()


@pytest.mark.benchmark(group="round")
def test_round_python_loop(benchmark, data):
    trainer = FederatedTrainer("cnn", lr=0.01)
    x, y, mask, key = data
    local, state, keys = make_local_fn(trainer.graphdef, trainer.config), trainer.init(), jax.random.split(key, C)
    run = lambda: jax.block_until_ready([local(state, x[c], y[c], mask[c], keys[c]) for c in range(C)])  # noqa: E731
    run()
    out = benchmark.pedantic(run, rounds=3, warmup_rounds=0)
    _images(benchmark)
    assert len(out) == C


@pytest.mark.benchmark(group="round-table")
def test_train_bench_table(benchmark):
    """The same comparison as ``python -m fbh.bench.train_bench`` (incl. torch), once."""
    result = benchmark.pedantic(lambda: run_train_bench(C, N, repeats=2), rounds=1, warmup_rounds=0)
    benchmark.extra_info.update(result["images_per_s"])
    assert set(result["images_per_s"]) >= {"round_vmap", "round_chunked", "loop_jit"}
    assert all(v > 0 for v in result["images_per_s"].values())
