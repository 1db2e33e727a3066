"""fbh on a real Flower deployment: every party on its own SuperNode, TLS and node auth on.

Prepare: anvil (the chain every party reaches by RPC URL), a SuperLink and five SuperNodes as OS
processes on 127.0.0.1 — registrar, auditor, three hospitals, each with its own folder for its
keys — and a small run (ANN, 3 hospitals of 200 MNIST images, 2 rounds, fast crypto).
Execute: ``flwr run`` of fbh's app (:mod:`fbh.flower.server_app`, :mod:`fbh.flower.client_app`).
Assert: the same final model hash as the in-process simulation, every round approved, a clean
``fbh audit``, and each party's key only in its own folder.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fbh.chain.anvil import AnvilBackend
from fbh.chain.keys import env_var_for
from fbh.protocol import simulation
from fbh.protocol.config import RunConfig
from fbh.protocol.messages import model_digest
from fbh.protocol.rundir import RunDir

pytestmark = [pytest.mark.flower, pytest.mark.anvil]

FBH_APP = Path(__file__).resolve().parents[2] / "src" / "fbh" / "flower" / "app"
CONFIG = {"dataset": "mnist", "model": "ann", "clients": 3, "rounds": 2, "train_examples": 600,
          "validation_size": 500, "constant_time": False, "guardians": 0, "range_samples": 0}
ROLES = [("registrar", 0), ("auditor", 0), ("hospital", 0), ("hospital", 1), ("hospital", 2)]


def _final(run_dir: Path) -> bytes:
    return model_digest(RunDir.load_model(RunDir(run_dir).model_path)[0])


def _site(root: Path, role: str, index: int) -> dict:
    name = role if role != "hospital" else f"hospital_{index}"
    return {"role": role, "index": index, "dir": str(root / name)}


@pytest.fixture(scope="module")
def anvil(anvil_installed):  # noqa: ARG001 - skips (or fails on CI) without anvil
    backend = AnvilBackend()
    yield backend
    backend.close()


def run_fbh(deploy, anvil, root: Path, config: dict, *, kill=None, timeout: float = 900.0):
    """Starts the sites, submits fbh's app, optionally kills sites mid-run; returns (deployment, out)."""
    sites = [_site(root / "sites", role, index) for role, index in ROLES[:2 + config["clients"]]]
    deployment = deploy(sites, env={env_var_for("funder"): anvil.funder().key.hex()})
    out = root / "flower"
    run_id = deployment.submit(FBH_APP, {"out": str(out), "chain-url": anvil.url, "timeout": 120.0,
                                         "config": json.dumps({**config, "chain": anvil.url})})
    if kill is not None:
        kill(deployment)
    deployment.wait_run(run_id, timeout=timeout)
    return deployment, out


def test_fbh_over_deployment_matches_in_process_run(deploy, anvil, tmp_path):
    from fbh.cli import main

    simulation.run(RunConfig(**CONFIG, chain="embedded"), tmp_path / "in-process", progress=False)
    _, out = run_fbh(deploy, anvil, tmp_path, CONFIG)
    metrics = json.loads(RunDir(out).metrics_path.read_text())
    assert [row["approved"] for row in metrics["rounds"]] == [True, True]
    assert [row["accepted"] for row in metrics["rounds"]] == [3, 3]
    assert _final(out) == _final(tmp_path / "in-process")
    assert main(["audit", str(out)]) == 0
    # each site holds its own key in its own folder; the server's run directory holds only the server's
    sites = sorted(p.name for p in (tmp_path / "sites").iterdir())
    assert sites == ["auditor", "hospital_0", "hospital_1", "hospital_2", "registrar"]
    assert not (out / "nodes").exists()


def test_hospital_killed_mid_round_is_not_received(deploy, anvil, tmp_path):
    """SIGKILL hospital 2's SuperNode after it received round 1's training message, before it replies:
    the round finishes with hospitals 0 and 1, records hospital 2 as not received, and audits clean."""
    from fbh.cli import main
    from fbh.protocol.keyring import NodeKeys

    def kill_hospital_2(deployment):
        deployment.wait_received(4, "train", timeout=600)  # node 4 = hospital 2 (ROLES order)
        deployment.kill_node(4)

    _, out = run_fbh(deploy, anvil, tmp_path, {**CONFIG, "rounds": 1}, kill=kill_hospital_2)
    (row,) = json.loads(RunDir(out).metrics_path.read_text())["rounds"]
    assert row["accepted"] == 2
    assert row["approved"]
    gone = NodeKeys(tmp_path / "sites" / "hospital_2").account().address
    assert [x["hospital"] for x in row["not_received"]] == [gone]
    assert main(["audit", str(out)]) == 0
