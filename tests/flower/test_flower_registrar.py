"""The registrar's node decides itself how few updates it decrypts: a server asking for the
decryption of one committed hospital's blob (``min_parties=1``) is refused (attack regression)."""

from __future__ import annotations

import numpy as np
import pytest
from flwr.app import Context, RecordDict

from fbh.chain.anvil import AnvilBackend
from fbh.chain.keys import env_var_for
from fbh.flower import nodes
from fbh.flower import records as r
from fbh.protocol.client import Hospital
from fbh.protocol.keyring import NodeKeys
from fbh.protocol.server import Server

pytestmark = pytest.mark.anvil


def _context(role: str, index: int = 0) -> Context:
    return Context(run_id=1, node_id=index, node_config={"role": role, "index": index}, state=RecordDict(),
                   run_config={})


def test_registrar_refuses_to_decrypt_a_single_update(tmp_path, anvil_installed, monkeypatch):
    anvil = AnvilBackend()
    try:
        monkeypatch.setenv(env_var_for("funder"), anvil.funder().key.hex())
        registrar, hospital_node = _context("registrar"), _context("hospital", 0)
        parties = {}
        for name, ctx in (("registrar", registrar), ("hospital", hospital_node)):
            parties[name] = nodes.handle(r.SETUP, ctx, {"workdir": str(tmp_path)}, {})[0]["address"]
        server_account, other_hospital = (NodeKeys(tmp_path / d).account() for d in ("server", "other"))
        reg = {"chain_url": anvil.url, "server": server_account.address, "auditor": other_hospital.address,
               "hospitals": [parties["hospital"], NodeKeys(tmp_path / "third").account().address]}
        out, _ = nodes.handle(r.REGISTER, registrar, reg, {})
        from fbh import crypto as fc

        public = fc.PublicKeySet.from_bytes(bytes(out["public_key"]))
        server = Server(server_account, nodes.connect_as(anvil.url, out["contract"], server_account), clip=1.0,
                        bound=2**20)
        plan = server.open_round(1, np.zeros(8, np.float32), {parties["hospital"]: 10})
        account = NodeKeys(tmp_path / "hospital_0").account()
        hospital = Hospital(account, 10, public, nodes.connect_as(anvil.url, out["contract"], account),
                            constant_time=False)
        update = hospital.encrypt(plan, np.arange(8, dtype=np.int64))
        hospital.commit(update)
        ask = {"round": 1, "count": 1, "bound": 2**20, "constant_time": False, "min_parties": 1}
        with pytest.raises(PermissionError, match="fewer than 2 distinct updates"):
            nodes.handle(r.DECRYPT, registrar, ask, {"blob_0": np.frombuffer(update.blob, np.uint8)})
    finally:
        anvil.close()
