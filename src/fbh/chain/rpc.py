"""Any JSON-RPC node (geth, a testnet, a long-running anvil) by URL.

The chain outlives fbh here, so saving state records only where it lives:
the URL and the head block at save time (restoring checks that block is
still canonical). Keys come from :mod:`fbh.chain.keys`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, ClassVar

from eth_account.signers.local import LocalAccount
from web3 import Web3

from fbh.chain.backend import Backend
from fbh.chain.errors import ChainConfigError
from fbh.chain.keys import KeySource

__all__ = ["ENV_URL", "RpcBackend"]

ENV_URL = "FBH_CHAIN_URL"  # overrides the recorded URL when restoring


class RpcBackend(Backend):
    """A node reached over HTTP(S).

    Args:
        url: ``http://`` or ``https://`` JSON-RPC endpoint.
        keys: Where role keys come from; the environment when None.

    Raises:
        ChainConfigError: The URL is not HTTP(S) or the node does not answer.
    """

    kind: ClassVar[str] = "rpc"
    funding_wei: ClassVar[int] = 10**17  # real ether: 0.1 per role account

    def __init__(self, url: str, *, keys: KeySource | None = None) -> None:
        if not url.startswith(("http://", "https://")):
            msg = f"chain URL must start with http:// or https://, got {url!r}"
            raise ChainConfigError(msg)
        self.url = url
        self.keys = KeySource() if keys is None else keys
        self.w3 = Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": 60}))
        if not self.w3.is_connected():
            msg = f"no JSON-RPC node answers at {url}"
            raise ChainConfigError(msg)
        self.chain_id = self.w3.eth.chain_id

    def funder(self) -> LocalAccount | None:
        """Returns the ``funder`` key if one is configured."""
        return self.keys.get("funder")

    def named_key(self, name: str) -> LocalAccount | None:
        """Returns the configured key for role account ``name``."""
        return self.keys.get(name)

    def fees(self) -> dict[str, int]:
        """Asks the node for a tip; caps the fee at twice the base fee plus it."""
        tip = self.w3.eth.max_priority_fee
        base = self.w3.eth.get_block("latest")["baseFeePerGas"]
        return {"maxFeePerGas": 2 * base + tip, "maxPriorityFeePerGas": tip}

    def save_state(self, directory: Path) -> dict[str, Any]:  # noqa: ARG002 - nothing to write
        """Records the URL; the node itself keeps the chain."""
        return {"url": self.url}

    @classmethod
    def reconnect(cls, manifest: dict[str, Any], *, url: str | None = None) -> RpcBackend:
        """Connects to ``url``, else ``FBH_CHAIN_URL``, else the recorded URL."""
        return cls(url or os.environ.get(ENV_URL) or manifest["url"])
