"""Crashes leave a readable chain: a torn journal line is dropped, anvil dies with fbh."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import fbh.chain
from fbh.chain import ChainStateError
from fbh.chain.embedded import JOURNAL, EmbeddedBackend


def _saved(tmp_path: Path) -> tuple[Path, str]:
    state = tmp_path / "chain"
    with fbh.chain.connect("embedded", state_dir=state) as led:
        address = led.deploy()
        led.register("server", led.account("server").address)
    return state, address


def test_chain_torn_last_journal_line_is_dropped_and_the_rest_stands(tmp_path: Path) -> None:
    # Prepare: a crash in the middle of appending the next transaction.
    state, address = _saved(tmp_path)
    path = state / JOURNAL
    whole = path.read_text()
    path.write_text(whole + whole.splitlines()[-1][:57])

    # Execute / Assert: the complete transactions replay; resuming rewrites the journal whole.
    with fbh.chain.restore(state) as led:
        assert led.address == address and [p.role.name for p in led.participants()] == ["SERVER"]
    backend = EmbeddedBackend.replay(state, resume=True)
    assert path.read_text() == whole
    assert backend.w3.eth.block_number == len(whole.splitlines()) - 1


def test_chain_corrupt_middle_journal_line_is_an_error(tmp_path: Path) -> None:
    state, _ = _saved(tmp_path)
    path = state / JOURNAL
    lines = path.read_text().splitlines()
    lines[2] = lines[2][:40]
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ChainStateError, match="line 3 is not a journal record"):
        fbh.chain.restore(state)


def test_chain_journal_shorter_than_the_manifest_is_an_error(tmp_path: Path) -> None:
    state, _ = _saved(tmp_path)
    path = state / JOURNAL
    path.write_text("".join(line + "\n" for line in path.read_text().splitlines()[:-1]))
    with pytest.raises(ChainStateError, match="no block"):
        fbh.chain.restore(state)


def _alive(pid: int) -> bool:
    try:
        return "\nState:\tZ" not in Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False


@pytest.mark.anvil
@pytest.mark.usefixtures("anvil_installed")
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="parent-death signal is Linux's prctl")
def test_chain_anvil_dies_when_fbh_is_killed(tmp_path: Path) -> None:
    # Prepare: a process that starts anvil the way fbh does, then is SIGKILLed (no cleanup runs).
    script = ("from fbh.chain.anvil import AnvilBackend\nimport time\n"
              "b = AnvilBackend()\nprint(b.process.pid, flush=True)\ntime.sleep(60)\n")
    with subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True) as parent:
        anvil_pid = int(parent.stdout.readline())
        assert _alive(anvil_pid)

        # Execute
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait()

    # Assert: the kernel's parent-death signal took anvil down too.
    deadline = time.monotonic() + 10
    while _alive(anvil_pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(anvil_pid), f"anvil (pid {anvil_pid}) outlived its SIGKILLed parent"
