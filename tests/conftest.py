"""Shared test set-up: offline data from ../shared/data and a hypothesis profile."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

from fbh.chain.anvil import AnvilBackend, find_anvil
from fbh.chain.backend import Backend
from fbh.chain.embedded import EmbeddedBackend
from fbh.chain.errors import ChainConfigError

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"

# Tests never touch the network: datasets come from FBH_DATA_DIR (default ../shared/data).
os.environ.setdefault("FBH_OFFLINE", "1")
if SHARED_DATA.is_dir():
    os.environ.setdefault("FBH_DATA_DIR", str(SHARED_DATA))

settings.register_profile("fbh", deadline=None, max_examples=40)
settings.load_profile("fbh")


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The offline dataset folder (real MNIST under mnist/)."""
    path = Path(os.environ.get("FBH_DATA_DIR", SHARED_DATA))
    if not (path / "mnist").is_dir():
        pytest.fail(f"real MNIST not found under {path}; set FBH_DATA_DIR (CI provides ../shared/data)")
    return path


# --- chains: one per backend and session; tests deploy their own registry on it ---
BACKENDS = ["embedded", pytest.param("anvil", marks=pytest.mark.anvil)]


def require_anvil() -> None:
    """Skips when anvil is not installed, but fails on CI, which installs it."""
    try:
        find_anvil()
    except ChainConfigError as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must install the npm packages: {exc}")
        pytest.skip(str(exc))


@pytest.fixture(scope="session")
def embedded_backend() -> EmbeddedBackend:
    return EmbeddedBackend()


@pytest.fixture(scope="session")
def anvil_installed() -> None:
    """Request it (or ``anvil_backend``) in any test that starts anvil."""
    require_anvil()


@pytest.fixture(scope="session")
def anvil_backend(anvil_installed: None):  # noqa: ARG001 - skips/fails before starting
    backend = AnvilBackend()
    pid = backend.process.pid
    yield backend
    backend.close()
    assert not Path(f"/proc/{pid}").exists(), f"anvil (pid {pid}) outlived its fixture"


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> Backend:
    return request.getfixturevalue(f"{request.param}_backend")


