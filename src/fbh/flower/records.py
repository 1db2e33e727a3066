"""fbh's protocol messages as Flower records, and the stage names of an fbh round on Flower.

Every message between the server and a node is a Flower ``Message`` whose
``RecordDict`` holds a ``ConfigRecord`` ``"fbh"`` (small fields: numbers,
addresses, signatures) and, where there are any, an ``ArrayRecord`` ``"fbh-arrays"``
(the model vector, the clipping vector, ciphertext blobs as ``uint8[...]`` —
Flower splits large arrays into chunks on the wire, where a ``ConfigRecord``
value would have to fit one gRPC message).  Stage names follow the shape of
Flower's own SecAgg+ constants (``flwr.common.secure_aggregation.secaggplus_constants``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from flwr.app import Array, ArrayRecord, ConfigRecord, Message, RecordDict

from fbh.protocol.messages import EncryptedUpdate, RoundPlan

__all__ = [
    "AUDIT",
    "ARRAYS",
    "DECRYPT",
    "ENCRYPT",
    "GUARDIAN",
    "JOIN",
    "PUBLISH",
    "RANGE",
    "REGISTER",
    "SETUP",
    "TRAIN",
    "NodeFailed",
    "content",
    "fields",
    "arrays",
    "message_type",
    "plan_from_record",
    "plan_to_record",
    "update_from_record",
    "update_to_record",
]

# The stages, in the order a run goes through them; each is answered by one role.
SETUP = "setup"  # every node: creates or loads its own key, says its role and address
REGISTER = "register"  # registrar: deploys the registry, registers every party, publishes the key set
GUARDIAN = "guardian"  # guardian: a key-ceremony step, or its share of a round's recorded aggregate
RANGE = "range"  # hospital: prove its committed values in range at the coordinates the server names
PUBLISH = "publish"  # registrar (guardian mode): publishes the ceremony, registers, publishes the joint key
JOIN = "join"  # hospitals and auditor: attach to the deployment, check the key set, load their data
TRAIN = "train"  # hospital: train, quantize, encrypt, sign, commit on chain
ENCRYPT = "encrypt"  # hospital of an adopting app (fbh.flower.mod): encrypt what its own train step returned
DECRYPT = "decrypt"  # registrar (KGC mode): decrypt the sum of the blobs committed this round
AUDIT = "audit"  # auditor: re-add the blobs, check the hashes, validate, approve on chain

ARRAYS = "fbh-arrays"  # the record name: an adopting app's own "arrays" record travels beside it
_TYPES = {SETUP: "query.setup", REGISTER: "query.register", JOIN: "query.join", TRAIN: "train",
          DECRYPT: "query.decrypt", AUDIT: "evaluate", GUARDIAN: "query.guardian", PUBLISH: "query.publish",
          RANGE: "query.range"}


class NodeFailed(RuntimeError):
    """A node answered a stage with an error, or did not answer in time."""


def message_type(stage: str) -> str:
    """The Flower message type that carries ``stage`` (train / evaluate / query.<action>)."""
    return _TYPES[stage]


def content(config: dict[str, Any] | None = None, arrays_: dict[str, np.ndarray] | None = None) -> RecordDict:
    """A ``RecordDict`` with the ``"fbh"`` config record and, if given, the ``"fbh-arrays"`` record."""
    records: dict[str, Any] = {"fbh": ConfigRecord(dict(config or {}))}
    if arrays_:
        records[ARRAYS] = ArrayRecord({k: Array(np.ascontiguousarray(v)) for k, v in arrays_.items()})
    return RecordDict(records)


def fields(message: Message) -> dict[str, Any]:
    """The ``"fbh"`` config record of a message, as a plain dict."""
    return dict(message.content.config_records["fbh"])


def arrays(message: Message) -> dict[str, np.ndarray]:
    """The ``"fbh-arrays"`` record of a message, as NumPy arrays (empty if there is none)."""
    record = message.content.array_records.get(ARRAYS)
    return {} if record is None else {k: v.numpy() for k, v in record.items()}


def plan_to_record(plan: RoundPlan) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """(config fields, arrays) of a round plan; the clipping vector travels as an array."""
    addresses = sorted(plan.weights)
    config = {"round": plan.round, "model_hash": plan.model_hash, "bound": plan.bound,
              "weight_addresses": addresses, "weights": [float(plan.weights[a]) for a in addresses]}
    if plan.dp is not None:  # the mechanism's public parameters: every hospital rebuilds the same one
        config |= {f"dp_{name}": getattr(plan.dp, name) for name in _DP_PARAMETERS}
    return config, {"clip": np.asarray(plan.clip, dtype=np.float64)}


# what fbh.protocol.dp.DistributedDiscreteGaussian is built from, besides the clip vector
_DP_PARAMETERS = ("l2_clip", "noise_multiplier", "num_clients", "max_weight", "dimension", "bound", "rounds",
                  "overflow_probability")


def plan_from_record(config: dict[str, Any], arrays_: dict[str, np.ndarray]) -> RoundPlan:
    clip = arrays_["clip"]
    clip = float(clip) if clip.ndim == 0 else clip
    weights = dict(zip(config["weight_addresses"], config["weights"], strict=True))
    dp = None
    if "dp_l2_clip" in config:
        from fbh.protocol.dp import DistributedDiscreteGaussian

        dp = DistributedDiscreteGaussian(clip=clip, **{name: config[f"dp_{name}"] for name in _DP_PARAMETERS})
    return RoundPlan(int(config["round"]), bytes(config["model_hash"]), weights, clip, int(config["bound"]), dp)


def update_to_record(update: EncryptedUpdate) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    config = {"round": update.round, "hospital": update.hospital, "signature": update.signature,
              "num_samples": update.num_samples}
    return config, {"blob": np.frombuffer(update.blob, dtype=np.uint8)}


def update_from_record(config: dict[str, Any], arrays_: dict[str, np.ndarray]) -> EncryptedUpdate:
    return EncryptedUpdate(int(config["round"]), str(config["hospital"]), arrays_["blob"].tobytes(),
                           bytes(config["signature"]), int(config["num_samples"]))
