"""Shared test set-up: offline data from ../shared/data and a hypothesis profile."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

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
