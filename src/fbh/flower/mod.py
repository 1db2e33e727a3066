"""``fbh.flower.mod.fbh_mod``: the client mod that gives an existing Flower app fbh's aggregation.

Add it to the app's ``ClientApp`` (``ClientApp(mods=[fbh_mod])``) and replace the
server's ``strategy.start(...)`` by :class:`fbh.flower.workflow.FbhFedAvg` —
as Flower's own ``secaggplus_mod`` pairs with ``SecAggPlusWorkflow``.  The app's
``train`` and ``evaluate`` functions stay as they are (``"arrays"`` in,
``"arrays"`` and ``"metrics"`` with ``"num-examples"`` out).  Every fbh stage
rides on a ``train`` message (the audit on an ``evaluate`` one), so the mod sees
them all; messages without an ``"fbh"`` record pass through untouched.

On a hospital the mod calls the app's ``train``, keeps the update (new minus
received arrays, flattened in record order) in the node's state and returns only
the example count; at the encrypt stage it quantizes, encrypts, signs and
commits that update on chain (:func:`fbh.protocol.round.contribute`): the
plaintext arrays never leave the node.  On the auditor it calls the app's
``evaluate`` on the new model for the ``"accuracy"`` metric it validates with.
The registrar's stages are :mod:`fbh.flower.nodes`'.
"""

from __future__ import annotations

import numpy as np
from flwr.app import Array, ArrayRecord, ConfigRecord, Context, Message, RecordDict
from flwr.clientapp.typing import ClientAppCallable

from fbh.flower import nodes
from fbh.flower import records as r

__all__ = ["fbh_mod", "flatten", "unflatten"]

_DELTA = "fbh-delta"


def flatten(record: ArrayRecord) -> np.ndarray:
    """float32[P]: an ``ArrayRecord``'s arrays, raveled and joined in record order."""
    return np.concatenate([np.ravel(a.numpy()).astype(np.float32) for a in record.values()])


def unflatten(flat: np.ndarray, like: ArrayRecord) -> ArrayRecord:
    """``flat`` cut back into ``like``'s names, shapes and dtypes."""
    out, start = {}, 0
    for name, array in like.items():
        a = array.numpy()
        out[name] = Array(np.asarray(flat[start:start + a.size], dtype=a.dtype).reshape(a.shape))
        start += a.size
    return ArrayRecord(out)


def _app_message(msg: Message, round_: int) -> Message:
    """``msg`` as the app expects it: its own ``"arrays"``, and ``"config"`` with ``server-round``."""
    msg.content = RecordDict({"arrays": msg.content.array_records["arrays"],
                              "config": ConfigRecord({"server-round": round_})})
    return msg


def _train(msg: Message, ctxt: Context, call_next: ClientAppCallable, fields) -> dict:
    """Stage train on a hospital: the app trains; the update stays here until the encrypt stage."""
    from fbh.protocol.messages import model_digest

    sent = msg.content.array_records["arrays"]
    reply = call_next(_app_message(msg, int(fields["round"])), ctxt)
    if reply.has_error():
        msg_ = f"the app's train step failed: {reply.error.reason}"
        raise RuntimeError(msg_)
    n = int(reply.content.metric_records["metrics"]["num-examples"])
    start = flatten(sent)
    ctxt.state.array_records[_DELTA] = ArrayRecord({"delta": Array(flatten(reply.content.array_records["arrays"])
                                                                   - start)})
    nodes.save_state(ctxt, num_examples=n, trained_on=model_digest(start))
    return {"num_samples": n}


def _encrypt(ctxt: Context, fields, arrays) -> tuple[dict, dict]:
    """Stage encrypt on a hospital: quantize, encrypt, sign and commit the kept update."""
    import json

    from fbh import crypto as fc
    from fbh.protocol import round as protocol_round
    from fbh.protocol.client import Hospital
    from fbh.protocol.config import RunConfig
    from fbh.protocol.keyring import NodeKeys

    st = nodes.state(ctxt)
    plan = r.plan_from_record(fields, arrays)
    if bytes(st["trained_on"]) != plan.model_hash:
        msg = f"round {plan.round}: the round announces a model this hospital did not train on"
        raise PermissionError(msg)
    config = RunConfig.from_json(json.loads(st["config"]))
    account = NodeKeys(nodes.node_folder(ctxt)).account()
    hospital = Hospital(account, int(st["num_examples"]), fc.PublicKeySet.from_bytes(bytes(st["public_key"])),
                        nodes.connect_as(st["chain_url"], st["contract"], account),
                        constant_time=config.constant_time, threads=config.threads)
    delta = ctxt.state.array_records.pop(_DELTA)["delta"].numpy()  # one update, encrypted once
    step, position = int(fields["step"]), int(fields["position"])
    update, clipped = protocol_round.contribute(hospital, plan, delta,
                                                protocol_round.rounding_seed(config.seed, step, position))
    out, blob = r.update_to_record(update)
    return {**out, "clipped": clipped}, blob


def _audit(msg: Message, ctxt: Context, call_next: ClientAppCallable, fields, arrays) -> dict:
    """Stage audit on the auditor: re-check the round on chain, validate with the app's evaluate."""
    from fbh.protocol.auditor import Auditor
    from fbh.protocol.keyring import NodeKeys

    st = nodes.state(ctxt)
    like, round_ = msg.content.array_records["arrays"], int(fields["round"])

    def accuracy(flat: np.ndarray) -> float:
        reply = call_next(_app_message(msg, round_), ctxt)  # msg carries the new model already
        if reply.has_error():
            msg_ = f"the app's evaluate step failed: {reply.error.reason}"
            raise RuntimeError(msg_)
        metrics = reply.content.metric_records["metrics"]
        if "accuracy" not in metrics:
            msg_ = "the app's evaluate step must return an 'accuracy' metric for the auditor to validate with"
            raise KeyError(msg_)
        return float(metrics["accuracy"])

    account = NodeKeys(nodes.node_folder(ctxt)).account()
    auditor = Auditor(account, accuracy, nodes.connect_as(st["chain_url"], st["contract"], account))
    auditor.best_accuracy = float(st.get("best_accuracy", 0.0))
    if not np.array_equal(flatten(like), arrays["model"]):
        msg_ = f"round {round_}: the model to evaluate is not the model to audit"
        raise ValueError(msg_)
    blobs = {address: arrays[f"blob_{i}"].tobytes() for i, address in enumerate(fields["hospitals"])}
    verdict = auditor.audit(round_, blobs, arrays["model"])
    nodes.save_state(ctxt, best_accuracy=auditor.best_accuracy)
    return {"approved": verdict.approved, "validation_accuracy": verdict.validation_accuracy,
            "problems": list(verdict.problems)}


def fbh_mod(msg: Message, ctxt: Context, call_next: ClientAppCallable) -> Message:
    """Answer fbh's stages around the app's own ``train``/``evaluate``; pass everything else on."""
    if "fbh" not in msg.content.config_records:
        return call_next(msg, ctxt)
    fields, arrays = r.fields(msg), r.arrays(msg)
    stage = str(fields["stage"])
    role = nodes.node_identity(ctxt.node_config)[0]
    if stage in (r.SETUP, r.REGISTER, r.DECRYPT):
        out, out_arrays = nodes.handle(stage, ctxt, fields, arrays)
    elif stage == r.JOIN:
        nodes.save_state(ctxt, chain_url=fields["chain_url"], contract=fields["contract"],
                          public_key=fields["public_key"], config=fields["config"])
        out, out_arrays = {}, {}
    elif (stage, role) == (r.TRAIN, nodes.HOSPITAL):
        out, out_arrays = _train(msg, ctxt, call_next, fields), {}
    elif (stage, role) == (r.ENCRYPT, nodes.HOSPITAL):
        out, out_arrays = _encrypt(ctxt, fields, arrays)
    elif (stage, role) == (r.AUDIT, nodes.AUDITOR):
        out, out_arrays = _audit(msg, ctxt, call_next, fields, arrays), {}
    else:
        msg_ = f"a {role} node does not answer stage {stage!r}"
        raise PermissionError(msg_)
    return Message(r.content(out, out_arrays), reply_to=msg)
