"""fbh on Flower's simulation engine: the same seed gives the same model as the in-process run.

Prepare: one anvil node (the chain every party reaches by RPC URL), a small run (ANN, 3 hospitals
of 200 MNIST images, 2 rounds, fast crypto) in ``fbh run``'s default trust model: 3 guardians, any
2 decrypt, 1375 range-checked coordinates per hospital; hospital 1 cheats out of range.
Execute: the run in-process, then as a Flower ServerApp with 8 simulated SuperNodes (registrar,
auditor, 3 hospitals, 3 guardians) on the ray backend; and a DP run over Flower.
Assert: bit-identical final models, hospital 1 excluded on chain in both, every round approved and
decrypted by 2 guardians, ``fbh audit`` clean, each guardian's key shares only in its own folder;
the DP run spends the epsilon asked for and audits clean.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys

import pytest

from fbh.chain.anvil import AnvilBackend
from fbh.chain.keys import env_var_for
from fbh.protocol import simulation
from fbh.protocol.config import RunConfig
from fbh.protocol.keyring import NodeKeys
from fbh.protocol.messages import model_digest
from fbh.protocol.rundir import RunDir

pytestmark = [pytest.mark.slow, pytest.mark.anvil]

CONFIG = {"dataset": "mnist", "model": "ann", "clients": 3, "rounds": 2, "train_examples": 600,
          "validation_size": 500, "constant_time": False}


def _final(run_dir) -> bytes:
    return model_digest(RunDir.load_model(RunDir(run_dir).model_path)[0])


@contextlib.contextmanager
def _simulate(config: dict, out, data_dir):
    """``python -m fbh.flower.simulate`` on a fresh anvil; yields the metrics it printed, anvil
    still up (``fbh audit`` reads the chain)."""
    anvil = AnvilBackend()
    try:
        # ray gets a process of its own; the registrar funds every party from the dev chain's funder
        env = {**os.environ, "FBH_DATA_DIR": str(data_dir), env_var_for("funder"): anvil.funder().key.hex()}
        done = subprocess.run([sys.executable, "-m", "fbh.flower.simulate", "--out", str(out),
                               "--chain-url", anvil.url, "--config", json.dumps(config)],
                              env=env, capture_output=True, text=True, timeout=900, check=False)
        assert done.returncode == 0, done.stderr[-4000:]
        yield json.loads(done.stdout.strip().splitlines()[-1])
    finally:
        anvil.close()


def test_flower_simulation_matches_in_process_run(tmp_path, data_dir, anvil_installed):
    """Guardians, range checks (1375 sampled coordinates) and a cheating hospital, every party on
    its own simulated node: hospital 1 plays ``--attack out-of-range:1`` from its node and is
    excluded on chain as out-of-range, exactly as in-process; the same final model, audit clean."""
    from fbh.cli import main

    config = {**CONFIG, "attack": "out-of-range:1"}
    simulation.run(RunConfig(**config, chain="embedded"), tmp_path / "in-process", progress=False,
                   data_dir=data_dir)
    with _simulate(config, tmp_path / "flower", data_dir) as metrics:
        assert main(["audit", str(tmp_path / "flower")]) == 0
    cheater = NodeKeys(tmp_path / "flower" / "nodes" / "hospital_1").account().address
    expected = json.loads(RunDir(tmp_path / "in-process").metrics_path.read_text())
    problems = [(row.get("audit_problems"), row.get("validation_accuracy")) for row in metrics["rounds"]]
    assert [row["approved"] for row in metrics["rounds"]] == [True, True], problems
    assert [row["accepted"] for row in metrics["rounds"]] == [2, 2]  # hospital 1 excluded in both rounds
    for row, want in zip(metrics["rounds"], expected["rounds"], strict=True):
        assert [(x["reason"], x["recorded"]) for x in row["rejected"]] == [("out-of-range", True)]
        assert [x["reason"] for x in want["rejected"]] == ["out-of-range"]
        assert [x["hospital"] for x in row["rejected"]] == [cheater]
        assert row["decryption"]["quorum"] == [1, 2]
    assert _final(tmp_path / "flower") == _final(tmp_path / "in-process")
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


def test_dp_over_flower(tmp_path, data_dir, anvil_installed):
    """``--dp-epsilon`` over Flower: each hospital's node adds its share of the distributed discrete
    Gaussian (its own OS CSPRNG: no two DP runs give the same model), the server accounts the
    privacy spent with the in-process run's accountant, and ``fbh audit`` verifies the round."""
    from fbh.cli import main
    from fbh.protocol.privacy import calibrate_noise_multiplier

    config = {**CONFIG, "rounds": 1, "dp_epsilon": 8.0, "range_samples": 64}
    with _simulate(config, tmp_path / "flower", data_dir) as metrics:
        assert main(["audit", str(tmp_path / "flower")]) == 0
    (row,) = metrics["rounds"]
    assert row["approved"] and row["accepted"] == 3 and not row["rejected"]
    # the noise actually added: z of the discretised per-hospital variances (a hair above the target)
    assert row["dp_noise_multiplier"] == pytest.approx(calibrate_noise_multiplier(8.0, 1e-5, 1), rel=1e-4)
    assert row["dp_epsilon_spent"] == pytest.approx(8.0, rel=1e-2)
