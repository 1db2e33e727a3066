"""What each fbh party does on its own Flower node: the roles of :mod:`fbh.protocol`, one per node.

A node's role comes from its node config: ``role`` (``registrar``,
``hospital``, ``guardian`` or ``auditor``) and, for a hospital, ``index`` (0..)
or for a guardian ``index`` (1.., its share's x-coordinate); ``dir`` is the
node's own folder (its keys).  In Flower's simulation engine, where nodes only
get ``partition-id``, partition 0 is the registrar, 1 the auditor, then the
hospitals 0.., then the guardians 1.. (the server says how many hospitals at
setup).  Each node holds only its own secrets, in its own folder
(:class:`fbh.protocol.keyring.NodeKeys`): a hospital its signing key, a
guardian its key shares (:mod:`fbh.flower.guardians`), the registrar in KGC
mode the decryption key, the auditor its signing key.  What a
node learns at :data:`~fbh.flower.records.JOIN` is kept in its Flower
``context.state``, so any process that handles its next message rebuilds the
same party (the live objects are cached per process, keyed by node folder).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
from flwr.app import ConfigRecord, Context

from fbh.flower.site import connect_as, node_folder, save_state, state
from fbh.protocol.keyring import NodeKeys

__all__ = ["AUDITOR", "GUARDIAN", "HOSPITAL", "REGISTRAR", "connect_as", "handle", "node_folder", "node_identity",
           "save_state", "state"]

REGISTRAR, HOSPITAL, AUDITOR, GUARDIAN = "registrar", "hospital", "auditor", "guardian"
ROLES = (REGISTRAR, HOSPITAL, AUDITOR, GUARDIAN)
_LIVE: dict[str, Any] = {}  # node folder -> that node's live party (per process)
_SHARED: dict[tuple, tuple] = {}  # (config, data dir) -> (config, dataset, client data, trainer, template, trainable)


def node_identity(node_config: dict[str, Any], clients: int | None = None) -> tuple[str, int]:
    """(role, index) from the node config (``role``/``index``, or the simulation's ``partition-id``,
    where partitions past the ``clients`` hospitals are guardians 1..)."""
    if "role" in node_config:
        role = str(node_config["role"])
        if role not in ROLES:
            msg = f"node config role must be one of {', '.join(ROLES)}, got {role!r}"
            raise ValueError(msg)
        return role, int(node_config.get("index", 1 if role == GUARDIAN else 0))
    pid = int(node_config["partition-id"])
    if pid < 2:
        return ((REGISTRAR, 0), (AUDITOR, 0))[pid]
    if clients is not None and pid >= 2 + clients:
        return GUARDIAN, pid - 1 - clients
    return HOSPITAL, pid - 2


def setup(context: Context, fields: dict[str, Any]) -> dict[str, Any]:
    """Stage setup: pick the node's folder, create or load its key, say who it is."""
    role, index = node_identity(context.node_config, fields.get("clients"))
    name = f"{role}_{index}" if role in (HOSPITAL, GUARDIAN) else role
    folder = Path(context.node_config.get("dir") or Path(fields["workdir"]) / name)
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    save_state(context, dir=str(folder), role=role, index=index)
    return {"role": role, "index": index, "address": NodeKeys(folder).account().address}


def register(context: Context, fields: dict[str, Any]) -> dict[str, Any]:
    """Stage register (registrar): deploy, fund the parties on a dev chain, register, publish the key set."""
    from fbh.protocol.kgc import KeyGenerationCentre

    keys = NodeKeys(node_folder(context))
    account = keys.account()
    ledger = connect_as(fields["chain_url"], None, account)
    ledger.deploy(account)
    funder = ledger.backend.funder()
    parties = [fields["server"], fields["auditor"], *fields["hospitals"]]
    if funder is not None:  # a dev chain: the registrar funds every party once, before they transact
        for address in parties:
            ledger.transfer(funder, address, ledger.backend.funding_wei)
    if fields.get("guardians"):  # the guardians' ceremony makes the key: the registrar only deploys for now
        save_state(context, chain_url=fields["chain_url"], contract=ledger.address, hospitals=len(fields["hospitals"]))
        return {"contract": ledger.address}
    kgc = KeyGenerationCentre(ledger, threads=fields.get("threads"), secret=keys.key_set())
    kgc.setup(server=fields["server"], hospitals=list(fields["hospitals"]), auditors=[fields["auditor"]])
    save_state(context, chain_url=fields["chain_url"], contract=ledger.address,
               hospitals=len(fields["hospitals"]))
    _LIVE[str(node_folder(context))] = kgc
    return {"contract": ledger.address, "public_key": kgc.public_key.to_bytes()}


def publish(context: Context, fields: dict[str, Any]) -> dict[str, Any]:
    """Stage publish (registrar, guardian mode): publish the guardians' ceremony, register every
    party and publish the guardians' joint key set; the registrar holds no key."""
    from fbh import crypto as fc
    from fbh.protocol.kgc import KeyGenerationCentre

    st = state(context)
    ledger = connect_as(st["chain_url"], st["contract"], NodeKeys(node_folder(context)).account())
    ledger.attach(st["contract"])  # again, now that the admin's key is in the keyring: it acts as the admin
    ledger.publish_guardians(bytes(fields["record"]), int(fields["guardians"]), int(fields["threshold"]))
    kgc = KeyGenerationCentre.registrar(ledger, fc.PublicKeySet.from_bytes(bytes(fields["public_key"])))
    kgc.setup(server=fields["server"], hospitals=list(fields["hospitals"]), auditors=[fields["auditor"]])
    return {}


def _registrar(context: Context):
    from fbh.protocol.kgc import KeyGenerationCentre

    folder, st = node_folder(context), state(context)
    if str(folder) not in _LIVE:
        keys = NodeKeys(folder)
        _LIVE[str(folder)] = KeyGenerationCentre(connect_as(st["chain_url"], st["contract"], keys.account()),
                                                 secret=keys.key_set())
    return _LIVE[str(folder)]


def decrypt(context: Context, fields: dict[str, Any], arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Stage decrypt (registrar, KGC mode): the sum of blobs committed this round, never a single update.

    The floor of distinct updates is the registrar's own (two, once two hospitals are registered),
    never lowered by the request: a server asking for one committed blob learns nothing.
    """
    kgc = _registrar(context)
    blobs = [arrays[f"blob_{i}"].tobytes() for i in range(int(fields["count"]))]
    floor = min(2, int(state(context)["hospitals"]))
    from fbh import crypto as fc

    try:
        summed = kgc.decrypt_sum(int(fields["round"]), blobs, bound=int(fields["bound"]),
                                 min_parties=max(floor, int(fields["min_parties"])),
                                 constant_time=bool(fields["constant_time"]))
    except fc.PlaintextOutOfRange as exc:  # the server's blame path starts from this coordinate
        return {"out_of_range": np.asarray(exc.index, dtype=np.int64)}
    return {"sum": np.asarray(summed, dtype=np.int64)}


def join(context: Context, fields: dict[str, Any], arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    """Stage join (hospital, auditor): remember the deployment, build the party, report public facts."""
    save_state(context, chain_url=fields["chain_url"], contract=fields["contract"],
                public_key=fields["public_key"], config=fields["config"], data_dir=fields.get("data_dir", ""))
    _LIVE.pop(str(node_folder(context)), None)
    if "ceremony" in arrays:  # the auditor of a guardian run: the ceremony's public outcome, for its checks
        from fbh.protocol.guarded import CEREMONY_FILE

        (node_folder(context) / CEREMONY_FILE).write_bytes(arrays["ceremony"].tobytes())
    party = _party(context)
    if state(context)["role"] == HOSPITAL:
        return {"num_samples": party.role.num_samples}
    return {"num_classes": party.data.num_classes, "input_shape": list(party.data.input_shape)}


def _party(context: Context):
    """This node's hospital or auditor with its data and trainer, built once per process."""
    folder = node_folder(context)
    if str(folder) in _LIVE:
        return _LIVE[str(folder)]
    from fbh import crypto as fc
    from fbh import data as fdata
    from fbh.protocol.auditor import Auditor
    from fbh.protocol.client import Hospital
    from fbh.protocol.config import RunConfig
    from fbh.protocol.session import build_trainer, client_data

    st = state(context)
    data_dir = context.node_config.get("data-dir") or st["data_dir"] or None
    shared_key = (st["config"], data_dir)
    if shared_key not in _SHARED:  # nodes simulated in one process share the data and the compiled trainer
        config = RunConfig.from_json(json.loads(st["config"]))
        ds = fdata.load_dataset(config.dataset, data_dir)
        data = client_data(ds, config)
        _SHARED.clear()
        _SHARED[shared_key] = (config, ds, data, *build_trainer(config, ds, data["x_c"])[:3])
    config, ds, data, trainer, template, trainable = _SHARED[shared_key]
    account = NodeKeys(folder).account()
    ledger = connect_as(st["chain_url"], st["contract"], account)
    public_key = fc.PublicKeySet.from_bytes(bytes(st["public_key"]))
    party = SimpleNamespace(config=config, trainer=trainer, template=template, trainable=trainable,
                            public_key=public_key,
                            data=SimpleNamespace(num_classes=ds.num_classes, input_shape=ds.input_shape))
    if st["role"] == HOSPITAL:
        i = int(st["index"])
        party.x, party.y, party.mask = data["x_c"][i], data["y_c"][i], data["mask"][i]
        party.role = Hospital(account, int(data["counts"][i]), public_key, ledger,
                              constant_time=config.constant_time, threads=config.threads)
    else:
        x_val, y_val = data["x_val"], data["y_val"]
        party.role = Auditor(account, lambda flat: trainer.evaluate(_unflatten(party, flat), x_val, y_val)[0],
                             ledger, threads=config.threads)
        party.role.best_accuracy = float(st.get("best_accuracy", 0.0))
    _LIVE[str(folder)] = party
    return party


def _unflatten(party, flat: np.ndarray):
    import jax

    from fbh.train import unravel

    return unravel(jax.numpy.asarray(flat), party.template)


def train(context: Context, fields: dict[str, Any], arrays: dict[str, np.ndarray]):
    """Stage train (hospital): train from the announced model, then quantize, encrypt, sign, commit."""
    from fbh.flower import records
    from fbh.protocol import round as protocol_round
    from fbh.protocol.messages import model_digest
    from fbh.train import ravel_clients

    party = _party(context)
    c = party.config
    plan = records.plan_from_record(fields, arrays)
    global_flat = arrays["model"]
    if model_digest(global_flat) != plan.model_hash:
        msg = f"round {plan.round}: the model sent is not the one the round announced"
        raise PermissionError(msg)
    if c.guardians:
        _check_last_approved(party, plan)
    step, position = int(fields["step"]), int(fields["position"])
    key = protocol_round.client_keys(c.seed, step, int(fields["sampled"]))[position]
    states, metrics = party.trainer.train_clients(_unflatten(party, global_flat), party.x[None], party.y[None],
                                                  party.mask[None], key[None])
    sub = slice(None) if party.trainable is None else party.trainable
    delta = np.asarray(ravel_clients(states))[0][sub] - global_flat[sub]
    from fbh.flower import ranges

    cheat = ranges.cheat_of(c.attack, party)
    update, clipped = protocol_round.contribute(party.role, plan, delta,
                                                protocol_round.rounding_seed(c.seed, step, position),
                                                cheat=cheat, index=int(state(context)["index"]))
    party.role.save_opening(ranges.opening_path(node_folder(context)))  # for this round's range challenges
    out, blob = records.update_to_record(update)
    return {**out, "clipped": clipped, "loss": float(np.asarray(metrics["loss"])[0])}, blob


def _check_last_approved(party, plan) -> None:
    """Guardian mode: train only on the last model approved on chain, the round's recorded start."""
    from fbh.protocol.messages import model_digest
    from fbh.train import ravel

    ledger = party.role.ledger
    approved = [rec for rec in ledger.history() if rec.status.name == "APPROVED"]
    want = approved[-1].model_hash if approved else model_digest(np.asarray(ravel(party.template)))
    if plan.model_hash != want or ledger.trust_record(plan.round).start_model != want:
        msg = f"round {plan.round}: hospitals refuse the model: it is not the last approved one"
        raise PermissionError(msg)


def audit(context: Context, fields: dict[str, Any], arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    """Stage audit (auditor): re-check the round against the chain, validate, approve or not."""
    party = _party(context)
    round_ = int(fields["round"])
    blobs = {address: arrays[f"blob_{i}"].tobytes() for i, address in enumerate(fields["hospitals"])}
    verdict = party.role.audit(round_, blobs, arrays["model"],
                               extra_problems=_round_findings(context, round_, fields, arrays, blobs))
    save_state(context, best_accuracy=party.role.best_accuracy)
    return {"approved": verdict.approved, "validation_accuracy": verdict.validation_accuracy,
            "problems": list(verdict.problems)}


def _round_findings(context: Context, round_: int, fields: dict[str, Any], arrays: dict[str, np.ndarray],
                    blobs: dict[str, bytes]) -> list[str]:
    """The auditor's recomputation of a round from public data, as ``fbh audit`` does it: the
    evidence the server sent (guardians' shares and parameters, range answers) is kept in the
    run directory layout of the auditor's own folder and checked against the chain."""
    from fbh.flower import records
    from fbh.protocol import blame, guarded

    folder, party = node_folder(context), _party(context)
    round_dir = folder / "rounds" / str(round_)
    for j, name in enumerate(fields.get("evidence", [])):
        relative = Path(str(name))
        if relative.is_absolute() or ".." in relative.parts:
            msg = f"evidence file name {name!r} leaves the round's folder"
            raise PermissionError(msg)
        (round_dir / relative).parent.mkdir(parents=True, exist_ok=True)
        (round_dir / relative).write_bytes(arrays[f"evidence_{j}"].tobytes())
    ledger, config = party.role.ledger, party.config
    findings = guarded.audit_from_run_dir(folder, ledger, round_, blobs, arrays["model"])
    plan = records.plan_from_record(fields, arrays)
    return findings + blame.audit_range(party.public_key, ledger, plan, round_dir, blobs, config.range_samples,
                                        threads=config.threads)


def handle(stage: str, context: Context, fields: dict[str, Any], arrays: dict[str, np.ndarray]):
    """Answer ``stage``: (reply fields, reply arrays); refuses a stage that is not this node's role's."""
    from fbh.flower import records as r

    role = node_identity(context.node_config)[0] if stage == r.SETUP else state(context).get("role")
    allowed = {r.SETUP: ROLES, r.RANGE: (HOSPITAL,), r.REGISTER: (REGISTRAR,), r.DECRYPT: (REGISTRAR,),
               r.PUBLISH: (REGISTRAR,),
               r.JOIN: (HOSPITAL, AUDITOR), r.TRAIN: (HOSPITAL,), r.AUDIT: (AUDITOR,), r.GUARDIAN: (GUARDIAN,)}
    if role not in allowed[stage]:
        msg = f"a {role} node does not answer stage {stage!r}"
        raise PermissionError(msg)
    if stage == r.SETUP:
        return setup(context, fields), {}
    if stage == r.REGISTER:
        return register(context, fields), {}
    if stage == r.JOIN:
        return join(context, fields, arrays), {}
    if stage == r.PUBLISH:
        return publish(context, fields), {}
    if stage == r.RANGE:
        from fbh.flower import ranges

        return ranges.answer(context, fields, arrays, _party(context))
    if stage == r.GUARDIAN:
        from fbh.flower import guardians

        return guardians.answer(context, fields, arrays)
    if stage == r.DECRYPT:
        return {}, decrypt(context, fields, arrays)
    if stage == r.TRAIN:
        return train(context, fields, arrays)
    return audit(context, fields, arrays), {}
