"""An existing NumPy FedAvg Flower app adopts fbh with ``fbh_mod`` and ``FbhFedAvg`` (two lines).

Prepare: anvil; the app of ``tiny_app.py`` (3 hospitals on partitions 2..4, registrar 0, auditor 1).
Execute: 2 rounds on Flower's simulation engine, in a process of its own.
Assert: the final arrays are plaintext FedAvg of the same local training (up to quantization),
every round was approved on chain, and ``fbh audit`` finds the run clean.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fbh.chain.anvil import AnvilBackend
from fbh.chain.keys import env_var_for

pytestmark = [pytest.mark.slow, pytest.mark.anvil]
APP = Path(__file__).with_name("tiny_app.py")


def _plain_fedavg(app, rounds: int) -> list[np.ndarray]:
    arrays = [np.zeros(4, np.float32), np.zeros(1, np.float32)]
    for _ in range(rounds):
        results = [app.local_train(arrays, pid) for pid in (2, 3, 4)]
        n = np.array([count for _, count in results], np.float64)
        arrays = [sum(w * new[k] for w, (new, _) in zip(n / n.sum(), results, strict=True)) for k in range(2)]
    return arrays


def test_flower_app_adopts_fbh(tmp_path, anvil_installed):
    from fbh.cli import main
    from fbh.protocol.rundir import RunDir

    spec = importlib.util.spec_from_file_location("tiny_app", APP)
    app = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(app)
    anvil = AnvilBackend()
    try:
        env = {**os.environ, env_var_for("funder"): anvil.funder().key.hex()}
        done = subprocess.run([sys.executable, str(APP), str(tmp_path / "run"), anvil.url], env=env,
                              capture_output=True, text=True, timeout=900, check=False)
        assert done.returncode == 0, done.stderr[-4000:]
        final = json.loads(done.stdout.strip().splitlines()[-1])["arrays"]
        expected = _plain_fedavg(app, rounds=2)
        for got, want in zip(final, expected, strict=True):
            np.testing.assert_allclose(np.asarray(got), want, atol=1e-4)  # quantization: clip 4 over 2**20 / 3 levels
        metrics = RunDir(tmp_path / "run").read_json(RunDir(tmp_path / "run").metrics_path)
        assert [row["approved"] for row in metrics["rounds"]] == [True, True]
        assert [row["clipped_fraction"] for row in metrics["rounds"]] == [0, 0]  # else FedAvg differs by design
        assert all(row["validation_accuracy"] > 0.8 for row in metrics["rounds"])
        assert main(["audit", str(tmp_path / "run")]) == 0
    finally:
        anvil.close()
