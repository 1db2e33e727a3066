"""Fixtures for fbh.chain tests: one chain per backend, a fresh deployment per test.

Each backend is started once per session (anvil takes a moment, py-evm's
genesis too); every test then deploys its own registry with fresh role
accounts, so tests never see each other's state.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from eth_account.signers.local import LocalAccount

from fbh.chain import Ledger, Role
from fbh.chain.backend import Backend

PUBLIC_KEY = bytes.fromhex("02" + "79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798")
@dataclass
class Parties:
    """A deployed registry and every role's account."""

    ledger: Ledger
    kgc: LocalAccount
    server: LocalAccount
    auditor: LocalAccount
    hospitals: list[LocalAccount]
    outsider: LocalAccount  # funded but never registered


def make_parties(backend: Backend, hospitals: int = 3, *, publish: bool = True) -> Parties:
    """Deploys a registry on ``backend`` and registers a full cast."""
    ledger = Ledger(backend)
    kgc, server, auditor = (ledger.account(n) for n in ("kgc", "server", "auditor"))
    hosp = [ledger.account(f"hospital-{i}") for i in range(hospitals)]
    outsider = ledger.account("outsider")
    ledger.deploy(kgc)
    ledger.register(Role.SERVER, server.address)
    ledger.register(Role.AUDITOR, auditor.address)
    for h in hosp:
        ledger.register(Role.HOSPITAL, h.address)
    if publish:
        ledger.publish_key(PUBLIC_KEY)
    return Parties(ledger, kgc, server, auditor, hosp, outsider)


@pytest.fixture
def parties(backend: Backend) -> Parties:
    return make_parties(backend)


@pytest.fixture
def parties_factory() -> Callable[..., Parties]:
    """``make_parties`` for tests that need an unusual cast (test files cannot import conftest)."""
    return make_parties


@pytest.fixture
def public_key() -> bytes:
    return PUBLIC_KEY
