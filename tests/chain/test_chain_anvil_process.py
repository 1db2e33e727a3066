"""fbh's anvil node starts, answers and always stops."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import fbh.chain
from fbh.chain import ChainConfigError
from fbh.chain.anvil import AnvilBackend, find_anvil


def _alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "\nState:\tZ" not in status  # a zombie has exited


@pytest.mark.anvil
@pytest.mark.usefixtures("anvil_installed")
def test_chain_anvil_stops_on_close() -> None:
    backend = AnvilBackend()
    pid = backend.process.pid
    assert backend.running and backend.w3.eth.block_number == 0
    assert backend.url.startswith("http://127.0.0.1:") and backend.port > 0
    backend.close()
    backend.close()  # idempotent
    assert not backend.running and not _alive(pid)


@pytest.mark.anvil
@pytest.mark.usefixtures("anvil_installed")
def test_chain_anvil_stops_after_an_error_in_the_block(tmp_path: Path) -> None:
    state = tmp_path / "chain"
    with pytest.raises(KeyboardInterrupt), fbh.chain.connect("anvil", state_dir=state) as led:
        address = led.deploy()
        pid = led.backend.process.pid
        raise KeyboardInterrupt
    assert not _alive(pid)
    # The state was still dumped on the way out, so the run can be audited.
    with fbh.chain.restore(state) as again:
        assert again.address == address
        restored_pid = again.backend.process.pid
    assert not _alive(restored_pid)


def test_chain_missing_anvil_says_how_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FBH_ANVIL", raising=False)
    with pytest.raises(ChainConfigError, match="npm ci --prefix contracts"):
        find_anvil(tmp_path)


def test_chain_anvil_that_cannot_start_is_reported(tmp_path: Path) -> None:
    fake = tmp_path / "anvil"
    fake.write_text("#!/bin/sh\necho 'bad flag' >&2\nexit 3\n")
    os.chmod(fake, 0o755)
    with pytest.raises(ChainConfigError, match="exited with code 3"):
        AnvilBackend(binary=fake)
