"""fbh on Flower's simulation engine: the same seed gives the same model as the in-process run.

Prepare: one anvil node (the chain every party reaches by RPC URL), a small run (ANN, 3 hospitals
of 200 MNIST images, 2 rounds, fast crypto) in ``fbh run``'s default trust model: 3 guardians, any
2 decrypt, 1375 range-checked coordinates per hospital. Execute: the run in-process, then as a Flower ServerApp with 8 simulated SuperNodes
(registrar, auditor, 3 hospitals, 3 guardians) on the ray backend.
Assert: bit-identical final models, every round approved on chain and decrypted by 2 guardians,
``fbh audit`` clean, and each guardian's key shares only in its own folder.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from fbh.chain.anvil import AnvilBackend
from fbh.chain.keys import env_var_for
from fbh.protocol import simulation
from fbh.protocol.config import RunConfig
from fbh.protocol.messages import model_digest
from fbh.protocol.rundir import RunDir

pytestmark = [pytest.mark.slow, pytest.mark.anvil]

CONFIG = {"dataset": "mnist", "model": "ann", "clients": 3, "rounds": 2, "train_examples": 600,
          "validation_size": 500, "constant_time": False}


def _final(run_dir) -> bytes:
    return model_digest(RunDir.load_model(RunDir(run_dir).model_path)[0])


def _simulate(config: dict, out, data_dir) -> dict:
    """``python -m fbh.flower.simulate`` on a fresh anvil; returns the metrics it printed."""
    anvil = AnvilBackend()
    try:
        # ray gets a process of its own; the registrar funds every party from the dev chain's funder
        env = {**os.environ, "FBH_DATA_DIR": str(data_dir), env_var_for("funder"): anvil.funder().key.hex()}
        done = subprocess.run([sys.executable, "-m", "fbh.flower.simulate", "--out", str(out),
                               "--chain-url", anvil.url, "--config", json.dumps(config)],
                              env=env, capture_output=True, text=True, timeout=900, check=False)
        assert done.returncode == 0, done.stderr[-4000:]
        return json.loads(done.stdout.strip().splitlines()[-1])
    finally:
        anvil.close()


def test_flower_simulation_matches_in_process_run(tmp_path, data_dir, anvil_installed):
    from fbh.cli import main

    simulation.run(RunConfig(**CONFIG, chain="embedded"), tmp_path / "in-process", progress=False,
                   data_dir=data_dir)
    metrics = _simulate(CONFIG, tmp_path / "flower", data_dir)
    assert [row["approved"] for row in metrics["rounds"]] == [True, True]
    assert [row["accepted"] for row in metrics["rounds"]] == [3, 3]
    assert [row["decryption"]["quorum"] for row in metrics["rounds"]] == [[1, 2], [1, 2]]
    assert [row["range_check"]["samples"] for row in metrics["rounds"]] == [1375, 1375]
    assert _final(tmp_path / "flower") == _final(tmp_path / "in-process")
    assert main(["audit", str(tmp_path / "flower")]) == 0
    # each party kept its own key in its own folder; the server's folder holds only the server's
    nodes = sorted(p.name for p in (tmp_path / "flower" / "nodes").iterdir())
    assert nodes == ["auditor", "guardian_1", "guardian_2", "guardian_3", "hospital_0", "hospital_1", "hospital_2",
                     "registrar"]
    server_keys = json.loads((tmp_path / "flower" / "keys" / "node-keys.json").read_text())
    registrar_keys = json.loads((tmp_path / "flower" / "nodes" / "registrar" / "node-keys.json").read_text())
    assert set(server_keys) == {"account"}  # the server holds no protocol secret
    assert set(registrar_keys) == {"account"}  # nor does the registrar: the guardians made the key
    for i in (1, 2, 3):
        shares = tmp_path / "flower" / "nodes" / f"guardian_{i}" / f"guardian_{i}.json"
        assert shares.stat().st_mode & 0o777 == 0o600 and "key_shares" in shares.read_text()
    assert not list((tmp_path / "flower").glob("keys/guardian_*"))


def test_out_of_range_hospital_excluded_over_flower(tmp_path, data_dir, anvil_installed):
    """``--attack out-of-range:1`` played by hospital 1's own node: its range answer to the public
    sample fails, the server excludes it on chain as out-of-range (as in-process), the round
    finishes with the other two and gives the in-process run's model; ``fbh audit`` agrees."""
    from fbh.cli import main

    config = {**CONFIG, "rounds": 1, "attack": "out-of-range:1"}
    simulation.run(RunConfig(**config, chain="embedded"), tmp_path / "in-process", progress=False,
                   data_dir=data_dir)
    (row,) = _simulate(config, tmp_path / "flower", data_dir)["rounds"]
    (expected,) = json.loads(RunDir(tmp_path / "in-process").metrics_path.read_text())["rounds"]
    assert row["accepted"] == 2 and row["approved"]
    assert [(x["reason"], x["recorded"]) for x in row["rejected"]] == [("out-of-range", True)]
    assert [x["reason"] for x in row["rejected"]] == [x["reason"] for x in expected["rejected"]]
    assert _final(tmp_path / "flower") == _final(tmp_path / "in-process")
    assert main(["audit", str(tmp_path / "flower")]) == 0
