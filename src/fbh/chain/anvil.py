"""A local anvil node that fbh starts, talks to over HTTP and stops.

The binary comes from the npm package ``@foundry-rs/anvil`` pinned in
``contracts/package.json`` (``npm ci --prefix contracts``); fbh runs the
platform package's binary directly rather than the node wrapper, so there is
exactly one child process to stop. anvil picks a free port (``--port 0``) and
prints it; its output goes to a log file, never to a pipe nobody drains.

The node is stopped by :meth:`AnvilBackend.close`, by leaving the ledger's
``with`` block (also on an exception or Ctrl-C) and, as a last resort, at
interpreter exit. It runs in its own session so a terminal's Ctrl-C reaches
fbh first, which can still dump the chain state before stopping the node.
On Linux the kernel also kills it when fbh dies in a way no Python code sees
(SIGKILL, OOM): the child asks for a parent-death signal (``prctl(2)``,
``PR_SET_PDEATHSIG``) before it executes anvil.
"""

from __future__ import annotations

import atexit
import gzip
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, ClassVar

from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3

from fbh.chain.backend import Backend
from fbh.chain.errors import ChainConfigError, ChainStateError

__all__ = ["STATE_FILE", "AnvilBackend", "find_anvil"]

STATE_FILE = "anvil_state.json.gz"
_CONTRACTS_DIR = Path(__file__).resolve().parents[3] / "contracts"
_PLATFORMS = {("linux", "x86_64"): "linux-amd64", ("linux", "aarch64"): "linux-arm64",
              ("darwin", "x86_64"): "darwin-amd64", ("darwin", "arm64"): "darwin-arm64",
              ("win32", "AMD64"): "win32-amd64"}
_LISTENING = re.compile(r"Listening on 127\.0\.0\.1:(\d+)")
_FIRST_KEY = re.compile(r"\(0\) (0x[0-9a-fA-F]{64})")
_INSTALL_HINT = "run `make test` or `npm ci --prefix contracts` to install it"


# Exec'd in the child before anvil: ask for SIGKILL when the parent dies (prctl PR_SET_PDEATHSIG = 1,
# kept across execve), exit if the parent is already gone, then become anvil.  A trampoline rather than
# Popen(preexec_fn=...): a preexec_fn forces fork(), which JAX's threads do not survive.
_TRAMPOLINE = ("import ctypes, os, signal, sys\n"
               "ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)\n"
               "os.getppid() == int(sys.argv[1]) or os._exit(1)\n"
               "os.execv(sys.argv[2], sys.argv[2:])\n")


def _die_with_parent(args: list[str]) -> list[str]:
    """``args`` wrapped so the kernel kills anvil when fbh dies (Linux; unchanged elsewhere).

    The signal follows the thread that started the child, so fbh starts
    anvil from its main thread.
    """
    if not sys.platform.startswith("linux"):
        return args
    return [sys.executable, "-c", _TRAMPOLINE, str(os.getpid()), *args]


def find_anvil(contracts_dir: Path | None = None) -> Path:
    """Returns the anvil binary installed under ``contracts/node_modules``.

    ``FBH_ANVIL`` overrides the search with an explicit path; otherwise the
    checkout's ``contracts/`` (editable install) and ``./contracts`` are tried.

    Raises:
        ChainConfigError: No binary is installed.
    """
    if override := os.environ.get("FBH_ANVIL"):
        if not Path(override).is_file():
            msg = f"FBH_ANVIL={override} is not a file"
            raise ChainConfigError(msg)
        return Path(override)
    suffix = _PLATFORMS.get((sys.platform, platform.machine()))
    name = "anvil.exe" if sys.platform == "win32" else "anvil"
    candidates = [contracts_dir] if contracts_dir is not None else [_CONTRACTS_DIR, Path("contracts")]
    for base in candidates:
        binary = base / "node_modules" / "@foundry-rs" / f"anvil-{suffix}" / "bin" / name
        if suffix is not None and binary.is_file():
            return binary.resolve()
    msg = (f"anvil is not installed under {candidates[0] / 'node_modules'} "
           f"(platform {sys.platform}/{platform.machine()}); {_INSTALL_HINT}")
    raise ChainConfigError(msg)


class AnvilBackend(Backend):
    """An anvil node on 127.0.0.1 owned by this object.

    Args:
        binary: The anvil executable; :func:`find_anvil` when None.
        log_dir: Where ``anvil.log`` goes; a temporary directory when None.
        startup_timeout: Seconds to wait for anvil to listen.

    Raises:
        ChainConfigError: anvil is missing or does not start.
    """

    kind: ClassVar[str] = "anvil"

    def __init__(self, *, binary: Path | None = None, log_dir: Path | None = None,
                 startup_timeout: float = 30.0) -> None:
        binary = find_anvil() if binary is None else binary
        self._tmp = None if log_dir is not None else tempfile.TemporaryDirectory(prefix="fbh-anvil-")
        self.log_path = Path(log_dir if log_dir is not None else self._tmp.name) / "anvil.log"
        args = [str(binary), "--host", "127.0.0.1", "--port", "0", "--max-persisted-states", "0",
                "--accounts", "1"]
        with self.log_path.open("w") as log:
            self.process: subprocess.Popen[bytes] | None = subprocess.Popen(
                _die_with_parent(args), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True)
        atexit.register(self.close)
        try:
            self.port, self._funder_key = self._wait_listening(startup_timeout)
            self.url = f"http://127.0.0.1:{self.port}"
            self.w3 = Web3(Web3.HTTPProvider(self.url, request_kwargs={"timeout": 60}))
            self.chain_id = self.w3.eth.chain_id
        except BaseException:
            self.close()
            raise

    def _wait_listening(self, timeout: float) -> tuple[int, str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.log_path.read_text(errors="replace")
            if (port := _LISTENING.search(text)) and (key := _FIRST_KEY.search(text)):
                return int(port.group(1)), key.group(1)
            if self.process is not None and self.process.poll() is not None:
                msg = f"anvil exited with code {self.process.returncode}: {text[-2000:]}"
                raise ChainConfigError(msg)
            time.sleep(0.02)
        msg = f"anvil did not start listening within {timeout} s; log: {self.log_path}"
        raise ChainConfigError(msg)

    def funder(self) -> LocalAccount:
        """Returns anvil's first dev account (its key is printed at startup)."""
        return Account.from_key(self._funder_key)

    @property
    def running(self) -> bool:
        """Whether the anvil process is alive."""
        return self.process is not None and self.process.poll() is None

    def close(self) -> None:
        """Stops anvil (SIGTERM, then SIGKILL after 5 s); safe to call twice."""
        process, self.process = self.process, None
        atexit.unregister(self.close)
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    # --------------------------------------------------------------- state

    def save_state(self, directory: Path) -> dict[str, Any]:
        """Dumps anvil's state (accounts, blocks, transactions) to ``directory``.

        Raises:
            ChainStateError: The node is no longer running.
        """
        if not self.running:
            msg = "the anvil node is not running: its state since the last dump is lost"
            raise ChainStateError(msg)
        blob = self.w3.provider.make_request("anvil_dumpState", [])["result"]
        path = Path(directory) / STATE_FILE
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(bytes.fromhex(blob.removeprefix("0x")))  # already gzip-compressed JSON
        tmp.replace(path)
        return {"state": STATE_FILE}

    @classmethod
    def load(cls, directory: Path, **kwargs: Any) -> AnvilBackend:
        """Starts a fresh anvil and loads the state dumped in ``directory``.

        Raises:
            ChainStateError: The dump is missing, unreadable or not accepted.
        """
        path = Path(directory) / STATE_FILE
        if not path.is_file():
            msg = f"no anvil state dump at {path}"
            raise ChainStateError(msg)
        blob = path.read_bytes()
        try:
            gzip.decompress(blob)
        except (OSError, EOFError) as exc:
            msg = f"{path} is not a gzip-compressed anvil state dump: {exc}"
            raise ChainStateError(msg) from exc
        backend = cls(**kwargs)
        try:
            reply = backend.w3.provider.make_request("anvil_loadState", ["0x" + blob.hex()])
            if reply.get("result") is not True:
                msg = f"anvil refused the state dump {path}: {reply.get('error')}"
                raise ChainStateError(msg)
        except BaseException:
            backend.close()
            raise
        return backend
