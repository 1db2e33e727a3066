"""Opening a ledger on a chain, and bringing a saved chain back for audit.

``connect("embedded" | "anvil" | "http(s)://...")`` returns a :class:`Ledger`
on a new backend; ``restore(state_dir)`` rebuilds the chain a finished run
saved (replaying the embedded journal, reloading the anvil dump, or
reconnecting to the live node) and attaches to the run's contract, checking
on the way that what comes back is what was saved.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fbh.chain.anvil import AnvilBackend
from fbh.chain.backend import Backend, read_manifest
from fbh.chain.embedded import EmbeddedBackend
from fbh.chain.errors import ChainStateError
from fbh.chain.registry import Ledger
from fbh.chain.rpc import RpcBackend

__all__ = ["BACKENDS", "connect", "restore"]

BACKENDS = ("embedded", "anvil", "http(s)://<node>")


def connect(spec: str = "embedded", *, state_dir: Path | None = None,
            contract: str | None = None) -> Ledger:
    """Opens a ledger on a new connection to the chain named by ``spec``.

    Args:
        spec: ``"embedded"`` (py-evm in process), ``"anvil"`` (a node fbh
            starts from ``contracts/node_modules``) or an ``http(s)://`` URL.
        state_dir: Where the chain state is kept for :func:`restore`
            (created if missing); nothing is saved when None.
        contract: Attach to this existing deployment instead of deploying.

    Returns:
        The ledger; use it as a context manager (or call ``close()``) so a
        started anvil is stopped and the state saved.

    Raises:
        ValueError: ``spec`` names no backend.
        ChainConfigError: The backend cannot be started or reached.
    """
    if state_dir is not None:
        state_dir = Path(state_dir)
        state_dir.mkdir(parents=True, exist_ok=True)
    backend: Backend
    if spec == "embedded":
        backend = EmbeddedBackend(journal_dir=state_dir)
    elif spec == "anvil":
        backend = AnvilBackend(log_dir=state_dir)
    elif spec.startswith(("http://", "https://")):
        backend = RpcBackend(spec)
    else:
        msg = f"unknown chain {spec!r}; expected one of {', '.join(BACKENDS)}"
        raise ValueError(msg)
    try:
        return Ledger(backend, address=contract, state_dir=state_dir)
    except BaseException:
        backend.close()
        raise


def restore(state_dir: Path, *, rpc_url: str | None = None, resume: bool = False) -> Ledger:
    """Brings back the chain saved in ``state_dir`` and attaches to its contract.

    The returned ledger holds no keys: it reads (audit), it does not write.
    Close it (or use ``with``) to stop a restored anvil.

    Args:
        state_dir: A directory a ledger saved into (``connect(state_dir=)``).
        rpc_url: For a run on a live node, reach it here instead of the
            recorded URL (also ``FBH_CHAIN_URL``); ignored otherwise.
        resume: The chain goes on: new transactions are journaled (and the
            state saved) into ``state_dir`` again, as by ``connect``.

    Raises:
        ChainStateError: Nothing was saved there, or the restored chain
            differs from the saved one (journal replay diverged, head block
            or contract code mismatch).
        ChainConfigError: The backend cannot be started or reached.
    """
    state_dir = Path(state_dir)
    manifest = read_manifest(state_dir)
    kind = manifest["backend"]
    backend: Backend
    if kind == "embedded":
        backend = EmbeddedBackend.replay(state_dir, resume=resume)
    elif kind == "anvil":
        backend = AnvilBackend.load(state_dir, **({"log_dir": state_dir} if resume else {}))
    elif kind == "rpc":
        backend = RpcBackend.reconnect(manifest, url=rpc_url)
    else:
        msg = f"{state_dir}: unknown backend {kind!r} in the manifest"
        raise ChainStateError(msg)
    try:
        _check_head(backend, manifest, state_dir)
        return Ledger(backend, address=manifest["contract"], state_dir=state_dir if resume else None)
    except BaseException:
        backend.close()
        raise


def _check_head(backend: Backend, manifest: dict[str, Any], state_dir: Path) -> None:
    if backend.chain_id != manifest["chain_id"]:
        msg = f"{state_dir}: chain id {backend.chain_id} != saved {manifest['chain_id']}"
        raise ChainStateError(msg)
    head = manifest["head"]
    try:
        block = backend.w3.eth.get_block(head["number"])
    except Exception as exc:  # web3's BlockNotFound: the saved chain is shorter than the manifest says
        msg = f"{state_dir}: the restored chain has no block {head['number']} (saved head): {exc}"
        raise ChainStateError(msg) from None
    got = "0x" + bytes(block["hash"]).hex()
    if got != head["hash"]:
        msg = f"{state_dir}: block {head['number']} is {got}, saved {head['hash']}"
        raise ChainStateError(msg)
