"""Saving a run's chain and bringing it back for audit, on every backend."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import fbh.chain
from fbh.chain import ChainConfigError, ChainStateError, RejectReason, RevertError, Role, commitment
from fbh.chain.anvil import AnvilBackend
from fbh.chain.embedded import JOURNAL

KINDS = ["embedded", pytest.param("anvil", marks=pytest.mark.anvil)]
KEY = bytes.fromhex("0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798")


def _children() -> set[int]:
    """PIDs of this process's live children (Linux /proc)."""
    pids: set[int] = set()
    for task in Path(f"/proc/{os.getpid()}/task").iterdir():
        text = (task / "children").read_text().split()
        pids.update(int(p) for p in text)
    return {p for p in pids if Path(f"/proc/{p}").exists()}


def _run_two_rounds(led: fbh.chain.Ledger, hospitals: int = 3) -> None:
    srv, aud = led.account("server"), led.account("auditor")
    hosp = [led.account(f"hospital-{i}") for i in range(hospitals)]
    led.deploy()
    led.register(Role.SERVER, srv.address)
    led.register(Role.AUDITOR, aud.address)
    for h in hosp:
        led.register(Role.HOSPITAL, h.address)
    led.publish_key(KEY)
    for r in (1, 2):
        led.open_round(r)
        for i, h in enumerate(hosp):
            led.commit_update(r, commitment(b"r%d-h%d" % (r, i)), 10 + i, sender=h)
        led.record_rejection(r, hosp[-1].address, RejectReason.DIGEST_MISMATCH)
        led.record_aggregate(r, commitment(b"agg%d" % r), commitment(b"model%d" % r))
        led.approve(r, r == 1, 0.8 + r / 100)


def _snapshot(led: fbh.chain.Ledger) -> tuple:
    return led.address, led.admin(), led.public_key(), led.participants(), led.history()


@pytest.mark.parametrize("kind", KINDS)
def test_chain_state_round_trip(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    if kind == "anvil":
        request.getfixturevalue("anvil_installed")
    state = tmp_path / "chain"
    with fbh.chain.connect(kind, state_dir=state) as led:
        _run_two_rounds(led)
        before = _snapshot(led)
    manifest = json.loads((state / "manifest.json").read_text())
    assert manifest["backend"] == kind and manifest["contract"] == before[0]

    with fbh.chain.restore(state) as again:
        after = _snapshot(again)
        assert again.round(2).rejections[0].reason is RejectReason.DIGEST_MISMATCH
    assert after == before


@pytest.mark.parametrize("kind", KINDS)
def test_chain_state_survives_the_process(kind: str, tmp_path: Path,
                                         request: pytest.FixtureRequest) -> None:
    """A run's process exits (anvil with it); audit restores the chain afterwards."""
    if kind == "anvil":
        request.getfixturevalue("anvil_installed")
    state = tmp_path / "chain"
    script = textwrap.dedent(f"""
        import fbh.chain
        from fbh.chain import Role, commitment
        led = fbh.chain.connect({kind!r}, state_dir={str(state)!r})
        hosp = led.account("hospital-0")
        led.deploy()
        led.register(Role.SERVER, led.account("server").address)
        led.register(Role.HOSPITAL, hosp.address)
        led.publish_key(bytes.fromhex({KEY.hex()!r}))
        led.open_round(1)
        led.commit_update(1, commitment(b"blob"), 7, sender=hosp)
        led.record_aggregate(1, commitment(b"agg"), commitment(b"model"))
        led.close()
    """)
    subprocess.run([sys.executable, "-c", script], check=True, timeout=120)
    with fbh.chain.restore(state) as led:
        rec = led.round(1)
    assert [(u.digest, u.num_samples) for u in rec.updates] == [(commitment(b"blob"), 7)]
    assert rec.model_hash == commitment(b"model")


def _saved_embedded(tmp_path: Path) -> Path:
    state = tmp_path / "chain"
    with fbh.chain.connect("embedded", state_dir=state) as led:
        _run_two_rounds(led, hospitals=2)
    return state


def _edit_journal(state: Path, index: int, field: str, edit) -> None:
    path = state / JOURNAL
    lines = path.read_text().splitlines()
    entry = json.loads(lines[index])
    entry[field] = edit(entry[field])
    lines[index] = json.dumps(entry)
    path.write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize(("field", "edit", "match"), [
    ("timestamp", lambda t: t + 1, "replays to block"),
    ("raw", lambda raw: raw[:-2] + ("00" if raw[-2:] != "00" else "01"), "does not replay"),
    ("block_hash", lambda h: h[:-1] + ("0" if h[-1] != "0" else "1"), "replays to block"),
])
def test_chain_embedded_journal_tampering_is_caught(tmp_path: Path, field, edit, match) -> None:
    state = _saved_embedded(tmp_path)
    _edit_journal(state, 12, field, edit)
    with pytest.raises(ChainStateError, match=match):
        fbh.chain.restore(state)


def test_chain_restore_checks_the_saved_head(tmp_path: Path) -> None:
    state = _saved_embedded(tmp_path)
    manifest = json.loads((state / "manifest.json").read_text())
    manifest["head"]["hash"] = "0x" + "ab" * 32
    (state / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ChainStateError, match="saved 0xabab"):
        fbh.chain.restore(state)


def test_chain_restore_without_state(tmp_path: Path) -> None:
    with pytest.raises(ChainStateError, match="no saved chain state"):
        fbh.chain.restore(tmp_path)


@pytest.mark.anvil
@pytest.mark.usefixtures("anvil_installed")
def test_chain_anvil_corrupt_dump_is_refused_without_leaking(tmp_path: Path) -> None:
    state = tmp_path / "chain"
    with fbh.chain.connect("anvil", state_dir=state) as led:
        _run_two_rounds(led, hospitals=1)
    (state / "anvil_state.json.gz").write_bytes(b"not gzip")
    before = _children()
    with pytest.raises(ChainStateError, match="gzip"):
        fbh.chain.restore(state)
    assert _children() == before


@pytest.mark.anvil
def test_chain_rpc_url_backend_with_env_keys(anvil_backend: AnvilBackend, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """A node fbh did not start, reached by URL, with role keys from the environment."""
    url = anvil_backend.url
    monkeypatch.delenv("FBH_KEY_FUNDER", raising=False)
    with pytest.raises(ChainConfigError, match="FBH_KEY_KGC"):
        fbh.chain.connect(url).account("kgc")
    monkeypatch.setenv("FBH_KEY_FUNDER", "0x" + anvil_backend.funder().key.hex())
    led = fbh.chain.connect(url)
    _run_two_rounds(led, hospitals=2)
    with pytest.raises(RevertError) as info:
        led.open_round(2)
    assert info.value.error_name == "RoundNotNext"
    before = _snapshot(led)
    led.save_state(tmp_path)
    led.close()
    assert anvil_backend.running  # closing a URL ledger leaves the node alone
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["url"] == url
    with fbh.chain.restore(tmp_path) as again:
        assert _snapshot(again) == before
    # The node moved: the audit is pointed at its new address.
    manifest["url"] = "http://127.0.0.1:9"
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    with fbh.chain.restore(tmp_path, rpc_url=url) as again:
        assert _snapshot(again) == before
    assert anvil_backend.running


def test_chain_connect_rejects_unknown_specs() -> None:
    with pytest.raises(ValueError, match="unknown chain 'ganache'"):
        fbh.chain.connect("ganache")
    with pytest.raises(ChainConfigError, match="no JSON-RPC node"):
        fbh.chain.connect("http://127.0.0.1:9")
