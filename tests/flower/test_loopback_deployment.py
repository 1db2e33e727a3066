"""The loopback deployment itself, proved with a numpy FedAvg app: TLS and node authentication on."""

from __future__ import annotations

import json
import signal
import ssl
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fbh.flower.loopback import LoopbackDeployment, write_credentials

APPS = Path(__file__).parent / "apps"

pytestmark = pytest.mark.flower


@pytest.fixture(scope="module")
def two_nodes(deploy) -> LoopbackDeployment:
    return deploy([{"partition-id": 0}, {"partition-id": 1}])


def test_fedavg_runs_two_rounds_over_tls_with_node_auth(two_nodes, tmp_path):
    result = tmp_path / "result.json"
    run_id = two_nodes.submit(APPS / "tinyfedavg", {"result-path": str(result)})
    info = two_nodes.wait_run(run_id, timeout=180)
    record = json.loads(result.read_text())
    assert [r["partitions"] for r in record["rounds"]] == [[0, 1], [0, 1]]
    # Node p adds p+1 and weighs p+1: round 1 gives 5/3, round 2 adds another 5/3.
    assert record["weights"] == pytest.approx([10 / 3] * 4)
    assert info["network-traffic"]["total-bytes"] > 0


def test_metered_grid_counts_each_nodes_payload(two_nodes, tmp_path):
    """fbh bench flower's byte counts, checked on plain FedAvg of fbh's CNN: float32 both ways."""
    from fbh.bench.flower_bench import SECAGG_APP

    result = tmp_path / "plain.json"
    run_id = two_nodes.submit(SECAGG_APP, {"secagg": False, "num-server-rounds": 1, "result-path": str(result)})
    two_nodes.wait_run(run_id, timeout=300)
    record = json.loads(result.read_text())
    counted, params = record["bytes"], record["parameters"]
    assert counted["error_replies"] == 0
    assert sorted(counted["up"]) == sorted(str(n) for n in two_nodes.node_ids)
    for node in counted["up"]:  # the model down, the update up: 4 bytes per parameter plus framing
        assert 4 * params < counted["down"][node] < 1.01 * 4 * params
        assert 4 * params < counted["up"][node] < 1.01 * 4 * params


def test_superlink_speaks_only_tls_with_its_own_ca(two_nodes, tmp_path):
    context = ssl.create_default_context(cafile=str(two_nodes.creds.ca_cert))
    with socket.create_connection(("127.0.0.1", two_nodes.port), timeout=10) as raw, \
            context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
        assert tls.version() in {"TLSv1.2", "TLSv1.3"}
    stranger = write_credentials(tmp_path / "other-ca", 0)
    context = ssl.create_default_context(cafile=str(stranger.ca_cert))
    with socket.create_connection(("127.0.0.1", two_nodes.port), timeout=10) as raw, \
            pytest.raises(ssl.SSLCertVerificationError):
        context.wrap_socket(raw, server_hostname="127.0.0.1")


def test_unregistered_supernode_is_refused(two_nodes, tmp_path):
    """A node whose key was never registered (``flwr supernode register``) is not admitted."""
    stranger = write_credentials(tmp_path / "stranger", 1).node_keys[0]
    before = two_nodes.node_statuses()
    proc = two_nodes.start_node(0, private_key=stranger, name="supernode-stranger")
    deadline = time.monotonic() + 30
    while proc.popen.poll() is None and time.monotonic() < deadline:
        time.sleep(0.5)
    exited_alone = proc.popen.poll() is not None
    log = proc.tail()
    proc.stop(signal.SIGKILL)
    assert exited_alone, f"the unregistered SuperNode kept running:\n{log}"
    assert proc.popen.returncode != 0, log
    # flwr's exit code 305 / API error 2004: the SuperLink knows no node with this public key.
    assert "Exit Code: 305" in log
    assert "Failed to activate SuperNode" in log
    assert two_nodes.node_statuses() == before  # no new node, and nobody's status changed


def test_deployment_dies_with_its_owner(tmp_path):
    """A SIGKILLed owner runs no cleanup code: the kernel must stop the SuperLink (PR_SET_PDEATHSIG)."""
    script = (
        "import os, signal, sys\n"
        "from pathlib import Path\n"
        "from fbh.flower.loopback import LoopbackDeployment\n"
        "d = LoopbackDeployment(Path(sys.argv[1]), [])\n"
        "d.start()\n"
        "print(d.superlink.popen.pid, flush=True)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n")
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path)], capture_output=True, text=True, timeout=180,
                          check=False)
    assert done.returncode == -signal.SIGKILL, done.stderr[-2000:]
    pid = int(done.stdout.split()[0])
    deadline = time.monotonic() + 20
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _alive(pid), f"SuperLink (pid {pid}) outlived its owner"


def _alive(pid: int) -> bool:
    """Running, not a zombie waiting for a reaper (the container's init may be slow to reap)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"
