"""Seconds per stage of an encrypted round and the secure overhead (pytest-benchmark).

Small by default (3 hospitals, 1,500 MNIST images) so it runs in minutes;
``fbh bench round`` measures the full 10-hospital setting.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from fbh.bench.round_bench import SECURE_STAGES, summarize
from fbh.protocol.config import RunConfig
from fbh.protocol.simulation import run

DATA = Path(os.environ.get("FBH_DATA_DIR", Path(__file__).resolve().parents[2] / "shared" / "data"))


@pytest.mark.parametrize("constant_time", [False, True], ids=["fast", "ct"])
def test_bench_encrypted_round(benchmark, tmp_path, constant_time):
    config = RunConfig(clients=3, rounds=2, train_examples=1500, validation_size=500,
                       constant_time=constant_time, range_samples=64)
    counter = iter(range(100))

    def one_run():
        return run(config, tmp_path / f"run{next(counter)}", data_dir=DATA, progress=False)

    metrics = benchmark.pedantic(one_run, rounds=1, iterations=1)
    result = summarize(metrics)
    assert set(SECURE_STAGES) <= set(result["seconds"])
    assert all(r["approved"] for r in metrics["rounds"])
    benchmark.extra_info.update(result)
