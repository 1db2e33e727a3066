"""What a party's Flower node keeps between messages: its folder and its state, and its line to the chain.

Flower may start a fresh process for every message, so a node's state lives in its Flower
``context.state`` (one config record) and its secrets in its own folder; every role module
(:mod:`fbh.flower.nodes`, :mod:`fbh.flower.guardians`, :mod:`fbh.flower.ranges`) reads them here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flwr.app import ConfigRecord, Context

__all__ = ["connect_as", "node_folder", "save_state", "state"]

_STATE = "fbh-node"


def state(context: Context) -> dict[str, Any]:
    record = context.state.config_records.get(_STATE)
    return {} if record is None else dict(record)


def save_state(context: Context, **values: Any) -> None:
    context.state.config_records[_STATE] = ConfigRecord({**state(context), **values})


def node_folder(context: Context) -> Path:
    return Path(state(context)["dir"])


def connect_as(url: str, contract: str | None, account):
    from fbh import chain

    ledger = chain.connect(url, contract=contract)
    ledger.account("self", key=account.key)  # funded from FBH_KEY_FUNDER on dev chains, if it is set
    return ledger
