"""fbh on a real Flower deployment: every party on its own SuperNode, TLS and node auth on.

Prepare: anvil (the chain every party reaches by RPC URL), a SuperLink and one SuperNode per party
as OS processes on 127.0.0.1 — registrar, auditor, three hospitals and (``fbh run``'s default trust
model) three guardians, any two of which decrypt — each with its own folder for its keys, and a
small run (ANN, 3 hospitals of 200 MNIST images, fast crypto).
Execute: ``flwr run`` of fbh's app (:mod:`fbh.flower.server_app`, :mod:`fbh.flower.client_app`),
SIGKILLing SuperNodes mid-run.
Assert: with one guardian killed before decryption, the same final model hash as the in-process
run, a clean ``fbh audit`` and each party's key only in its own folder; with two killed, a clean
failure naming them and the round left recorded; with a hospital killed (KGC mode), the round
finishes without it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fbh.chain.anvil import AnvilBackend
from fbh.chain.keys import env_var_for
from fbh.flower.loopback import DeploymentError
from fbh.protocol import simulation
from fbh.protocol.config import RunConfig
from fbh.protocol.messages import model_digest
from fbh.protocol.rundir import RunDir

pytestmark = [pytest.mark.flower, pytest.mark.anvil]

FBH_APP = Path(__file__).resolve().parents[2] / "src" / "fbh" / "flower" / "app"
CONFIG = {"dataset": "mnist", "model": "ann", "clients": 3, "rounds": 2, "train_examples": 600,
          "validation_size": 500, "constant_time": False, "guardians": 0, "range_samples": 0}
ROLES = [("registrar", 0), ("auditor", 0), ("hospital", 0), ("hospital", 1), ("hospital", 2),
         ("guardian", 1), ("guardian", 2), ("guardian", 3)]
GUARDIAN_NODE = {1: 5, 2: 6, 3: 7}  # guardian index -> its SuperNode (ROLES order)


def _final(run_dir: Path) -> bytes:
    return model_digest(RunDir.load_model(RunDir(run_dir).model_path)[0])


def _site(root: Path, role: str, index: int) -> dict:
    name = role if role in ("registrar", "auditor") else f"{role}_{index}"
    return {"role": role, "index": index, "dir": str(root / name)}


@pytest.fixture(scope="module")
def anvil(anvil_installed):  # noqa: ARG001 - skips (or fails on CI) without anvil
    backend = AnvilBackend()
    yield backend
    backend.close()


def run_fbh(deploy, anvil, root: Path, config: dict, *, kill=None, timeout: float = 900.0):
    """Starts the sites, submits fbh's app, optionally kills sites mid-run; returns (deployment, out)."""
    roles = ROLES[:2 + config["clients"]] + ROLES[5:5 + config.get("guardians", 3)]
    sites = [_site(root / "sites", role, index) for role, index in roles]
    deployment = deploy(sites, env={env_var_for("funder"): anvil.funder().key.hex()})
    out = root / "flower"
    run_id = deployment.submit(FBH_APP, {"out": str(out), "chain-url": anvil.url, "timeout": 120.0,
                                         "config": json.dumps({**config, "chain": anvil.url})})
    if kill is not None:
        kill(deployment)
    deployment.wait_run(run_id, timeout=timeout)
    return deployment, out


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


def _kill_guardians(*indices: int):
    """SIGKILL these guardians' SuperNodes once hospital 0 has trained in round 1: after the key
    ceremony, before the round's decryption."""
    def kill(deployment):
        deployment.wait_received(2, "train", timeout=600)  # node 2 = hospital 0
        for i in indices:
            deployment.kill_node(GUARDIAN_NODE[i])
    return kill


GUARDIANS = {key: value for key, value in CONFIG.items() if key not in ("guardians", "range_samples")}


def test_fbh_over_deployment_matches_in_process_with_one_guardian_killed(deploy, anvil, tmp_path):
    """``fbh run``'s defaults (3 guardians, t = 2, range checks) with every party on its own SuperNode,
    and n - t = 1 guardian gone before decryption: guardian 1 is in the first quorum, does not
    answer, and the round decrypts with guardians 2 and 3; same final model as in-process, audit
    clean, each party's keys only in its own folder."""
    from fbh.cli import main

    config = {**GUARDIANS, "rounds": 1}
    simulation.run(RunConfig(**config, chain="embedded"), tmp_path / "in-process", progress=False)
    _, out = run_fbh(deploy, anvil, tmp_path, config, kill=_kill_guardians(1))
    (row,) = json.loads(RunDir(out).metrics_path.read_text())["rounds"]
    assert row["approved"] and row["accepted"] == 3
    assert row["decryption"]["quorum"] == [2, 3] and row["decryption"]["absent"] == [1]
    assert _final(out) == _final(tmp_path / "in-process")
    assert main(["audit", str(out)]) == 0
    sites = sorted(p.name for p in (tmp_path / "sites").iterdir())
    assert sites == ["auditor", "guardian_1", "guardian_2", "guardian_3", "hospital_0", "hospital_1", "hospital_2",
                     "registrar"]
    for i in (1, 2, 3):  # each guardian's shares only in its own folder, readable by it alone
        key = tmp_path / "sites" / f"guardian_{i}" / f"guardian_{i}.json"
        assert key.stat().st_mode & 0o777 == 0o600
    assert not list(out.rglob("guardian_*.json")) and not (out / "nodes").exists()


def test_more_than_n_minus_t_guardians_killed_fails_cleanly(deploy, anvil, tmp_path):
    """Two of three guardians gone: the run stops naming them; the round stays open on chain with its
    sum recorded and nothing decrypted, and the run directory says where it stopped."""
    from fbh import chain

    with pytest.raises(DeploymentError) as failed:
        run_fbh(deploy, anvil, tmp_path, {**GUARDIANS, "rounds": 1}, kill=_kill_guardians(1, 2))
    assert "fewer than 2 of 3 guardians decrypted: guardian 1 did not answer; guardian 2 did not answer" in str(
        failed.value)
    rd = RunDir(tmp_path / "flower")
    assert rd.is_incomplete and json.loads(rd.incomplete_path.read_text())["round"] == 1
    assert not rd.model_path.exists() and not (rd.round_dir(1) / "model.npz").exists()
    contract = json.loads((rd.chain_dir / "manifest.json").read_text())["contract"]
    ledger = chain.connect(anvil.url, contract=contract)
    try:
        assert ledger.round(1).status.name == "OPEN"
        trust = ledger.trust_record(1)
        assert trust.sum_digest is not None and trust.shares_digest is None
    finally:
        ledger.close()
