"""The committed ABI/bytecode artifacts are what the committed sources compile to."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from fbh.chain import load_artifact

ROOT = Path(__file__).resolve().parents[2]
CONTRACTS = ROOT / "contracts"
ARTIFACTS = ROOT / "src" / "fbh" / "chain" / "artifacts"


def _need_solc() -> str:
    node = shutil.which("node")
    if node is not None and (CONTRACTS / "node_modules" / "solc").is_dir():
        return node
    reason = "solc-js is not installed (npm ci --prefix contracts)" if node else "node is not installed"
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI must install the npm packages: {reason}")
    pytest.skip(reason)


def test_chain_artifact_records_its_source_and_compiler() -> None:
    art = load_artifact()
    source = (ROOT / art["sourcePath"]).read_bytes()
    assert art["sourceSha256"] == hashlib.sha256(source).hexdigest(), "recompile: node contracts/compile.mjs"
    assert art["settings"]["evmVersion"] == "cancun" and art["settings"]["optimizer"]["enabled"]
    pinned = json.loads((CONTRACTS / "package.json").read_text())["devDependencies"]["solc"]
    assert art["compiler"]["version"].startswith(pinned + "+commit.")
    assert art["bytecode"].startswith("0x6080") and len(art["deployedBytecode"]) > 2


def test_chain_artifacts_match_a_fresh_compile(tmp_path: Path) -> None:
    node = _need_solc()
    subprocess.run([node, str(CONTRACTS / "compile.mjs"), "--out", str(tmp_path)],
                   check=True, capture_output=True, timeout=300)
    fresh = sorted(p.name for p in tmp_path.glob("*.json"))
    assert fresh == sorted(p.name for p in ARTIFACTS.glob("*.json"))
    for name in fresh:
        assert (tmp_path / name).read_text() == (ARTIFACTS / name).read_text(), (
            f"{name} is stale: run `node contracts/compile.mjs`")


def test_chain_npm_packages_are_pinned_and_locked() -> None:
    pins = json.loads((CONTRACTS / "package.json").read_text())["devDependencies"]
    assert set(pins) == {"solc", "@foundry-rs/anvil"}
    lock = json.loads((CONTRACTS / "package-lock.json").read_text())["packages"]
    for name, pin in pins.items():
        assert pin[0].isdigit(), f"{name} must be pinned exactly, not {pin!r}"
        assert lock[f"node_modules/{name}"]["version"] == pin
    assert "node_modules/@foundry-rs/anvil-linux-amd64" in lock  # the binary comes with the lock
