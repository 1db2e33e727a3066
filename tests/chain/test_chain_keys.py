"""Role keys from the environment and from an encrypted keystore."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from eth_account import Account

from fbh.chain import ChainConfigError, KeySource, write_keystore
from fbh.chain.keys import env_var_for

A = Account.from_key("0x" + "11" * 32)
B = Account.from_key("0x" + "22" * 32)


def test_chain_key_env_names() -> None:
    assert env_var_for("hospital-0") == "FBH_KEY_HOSPITAL_0"
    assert env_var_for("kgc") == "FBH_KEY_KGC"


def test_chain_keys_from_variables() -> None:
    env = {"FBH_KEY_HOSPITAL_0": A.key.hex(), "FBH_CHAIN_KEYS": json.dumps({"server": "0x" + B.key.hex()})}
    keys = KeySource(env)
    assert keys.get("hospital-0").address == A.address
    assert keys.get("server").address == B.address
    assert keys.get("auditor") is None


def test_chain_bad_keys_are_reported_without_echoing() -> None:
    with pytest.raises(ChainConfigError, match="FBH_KEY_KGC is not a valid private key") as info:
        KeySource({"FBH_KEY_KGC": "0xnotakey-secret"}).get("kgc")
    assert "secret" not in str(info.value)
    with pytest.raises(ChainConfigError, match="FBH_CHAIN_KEYS is not a JSON"):
        KeySource({"FBH_CHAIN_KEYS": "{"}).get("kgc")


def test_chain_keystore_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    write_keystore(path, {"kgc": A, "hospital-1": B}, "pw", iterations=2)
    assert path.stat().st_mode & 0o077 == 0
    keys = KeySource({"FBH_CHAIN_KEYSTORE": str(path), "FBH_CHAIN_KEYSTORE_PASSWORD": "pw"})
    assert keys.get("kgc").address == A.address
    assert keys.get("hospital-1").address == B.address
    assert keys.get("server") is None
    with pytest.raises(ChainConfigError, match="cannot decrypt key 'kgc'"):
        KeySource({"FBH_CHAIN_KEYSTORE": str(path), "FBH_CHAIN_KEYSTORE_PASSWORD": "no"}).get("kgc")
    with pytest.raises(ChainConfigError, match="FBH_CHAIN_KEYSTORE_PASSWORD is not"):
        KeySource({"FBH_CHAIN_KEYSTORE": str(path)}).get("kgc")
    with pytest.raises(ChainConfigError, match="cannot read keystore"):
        KeySource({"FBH_CHAIN_KEYSTORE": str(tmp_path / "missing.json")}).get("kgc")
