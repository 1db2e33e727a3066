"""fbh.flower without the simulation engine: records round-trip, roles come from node config,
a node answers only its own role's stages, model vectors flatten and come back."""

from __future__ import annotations

import numpy as np
import pytest
from flwr.app import Array, ArrayRecord, Context, RecordDict

from fbh.flower import nodes
from fbh.flower import records as r
from fbh.flower.mod import flatten, unflatten
from fbh.protocol.messages import EncryptedUpdate, RoundPlan


def _context(node_config) -> Context:
    return Context(run_id=1, node_id=7, node_config=node_config, state=RecordDict(), run_config={})


@pytest.mark.parametrize("clip", [4.0, np.array([4.0, 64.0, 4.0])], ids=["scalar", "vector"])
def test_round_plan_survives_the_records(clip):
    plan = RoundPlan(3, b"\x01" * 32, {"0xB": 0.25, "0xA": 0.75}, clip, 2**20)
    fields, arrays = r.plan_to_record(plan)
    message = r.content(fields, arrays)
    back = r.plan_from_record(dict(message.config_records["fbh"]),
                              {k: v.numpy() for k, v in message.array_records[r.ARRAYS].items()})
    assert (back.round, back.model_hash, back.weights, back.bound) == (3, plan.model_hash, plan.weights, 2**20)
    np.testing.assert_array_equal(back.clip, clip)


def test_round_plan_with_dp_carries_the_same_mechanism():
    """A hospital's node rebuilds the server's DP mechanism from the plan: same scale, sensitivity and
    noise share (the noise itself comes from each hospital's OS CSPRNG)."""
    from fbh.protocol.dp import DistributedDiscreteGaussian

    clip = np.full(50, 0.5)
    dp = DistributedDiscreteGaussian(l2_clip=1.0, clip=clip, noise_multiplier=1.1, num_clients=3, max_weight=0.4,
                                     dimension=50, bound=2**20, rounds=4)
    plan = RoundPlan(1, b"\x00" * 32, {"0xA": 0.4, "0xB": 0.3, "0xC": 0.3}, clip, 2**20, dp=dp)
    back = r.plan_from_record(*r.plan_to_record(plan))
    same = ("scale", "sensitivity", "variance_per_client", "tail", "max_weight", "num_clients", "noise_multiplier")
    assert [getattr(back.dp, a) for a in same] == [getattr(dp, a) for a in same]
    np.testing.assert_array_equal(back.dp.clip, clip)


def test_roles_include_guardians_after_the_hospitals():
    """In the simulation engine partitions past the hospitals are guardians 1..; by node config, any index."""
    assert nodes.node_identity({"partition-id": 4}, clients=3) == (nodes.HOSPITAL, 2)
    assert nodes.node_identity({"partition-id": 5}, clients=3) == (nodes.GUARDIAN, 1)
    assert nodes.node_identity({"partition-id": 7}, clients=3) == (nodes.GUARDIAN, 3)
    assert nodes.node_identity({"role": "guardian", "index": 2}) == (nodes.GUARDIAN, 2)


def test_encrypted_update_survives_the_records():
    update = EncryptedUpdate(2, "0x" + "ab" * 20, bytes(range(256)) * 3, b"\x05" * 65, 123)
    back = r.update_from_record(*r.update_to_record(update))
    assert back == update
    assert back.digest == update.digest


def test_roles_come_from_node_config():
    assert nodes.node_identity({"partition-id": 0, "num-partitions": 5}) == (nodes.REGISTRAR, 0)
    assert nodes.node_identity({"partition-id": 1, "num-partitions": 5}) == (nodes.AUDITOR, 0)
    assert nodes.node_identity({"partition-id": 4, "num-partitions": 5}) == (nodes.HOSPITAL, 2)
    assert nodes.node_identity({"role": "hospital", "index": 7}) == (nodes.HOSPITAL, 7)
    with pytest.raises(ValueError, match="role must be"):
        nodes.node_identity({"role": "server"})


@pytest.mark.parametrize(("node_config", "stage"), [
    ({"role": "registrar"}, r.TRAIN),  # the key holder never sees a single update in the clear
    ({"role": "hospital", "index": 0}, r.DECRYPT),  # a hospital holds no decryption key
    ({"role": "hospital", "index": 0}, r.REGISTER),
    ({"role": "auditor"}, r.TRAIN),
])
def test_a_node_answers_only_its_roles_stages(node_config, stage):
    with pytest.raises(PermissionError, match="does not answer"):
        nodes.handle(stage, _context(node_config), {}, {})


def test_setup_keeps_the_nodes_own_key_in_its_own_folder(tmp_path):
    context = _context({"role": "hospital", "index": 1})
    first, _ = nodes.handle(r.SETUP, context, {"workdir": str(tmp_path)}, {})
    again, _ = nodes.handle(r.SETUP, context, {"workdir": str(tmp_path)}, {})
    assert first == again == {"role": "hospital", "index": 1, "address": first["address"]}
    folder = tmp_path / "hospital_1"
    assert (folder / "node-keys.json").stat().st_mode & 0o777 == 0o600
    assert folder.stat().st_mode & 0o777 == 0o700


def test_flatten_and_back():
    record = ArrayRecord({"w": Array(np.arange(6, dtype=np.float32).reshape(2, 3)),
                          "b": Array(np.array([7.0], dtype=np.float32))})
    flat = flatten(record)
    np.testing.assert_array_equal(flat, [0, 1, 2, 3, 4, 5, 7])
    back = unflatten(flat, record)
    assert list(back) == ["w", "b"]
    np.testing.assert_array_equal(back["w"].numpy(), record["w"].numpy())


def test_mod_keeps_the_apps_plaintext_update_on_the_node(monkeypatch):
    # The app's train returns its new arrays; what goes back to the server is only the example count.
    from flwr.app import ConfigRecord, Message, MetricRecord
    from flwr.supercore.task_identity import TaskIdentity

    from fbh.flower.mod import fbh_mod

    for name in ("_run_id", "_node_id", "_task_id"):  # who "sends" the test's message
        monkeypatch.setattr(TaskIdentity, name, 1)

    context = _context({"role": "hospital", "index": 0})
    sent = ArrayRecord({"w": Array(np.ones(3, np.float32))})
    incoming = Message(RecordDict({"fbh": ConfigRecord({"stage": r.TRAIN, "round": 1}), "arrays": sent}),
                       dst_node_id=7, message_type="train")

    def app_train(msg, ctxt):
        assert set(msg.content.config_records) == {"config"}  # the app sees its own records, not fbh's
        new = ArrayRecord({"w": Array(np.array([1.5, 0.5, 1.0], np.float32))})
        return Message(RecordDict({"arrays": new, "metrics": MetricRecord({"num-examples": 42})}), reply_to=msg)

    reply = fbh_mod(incoming, context, app_train)
    assert dict(reply.content.config_records["fbh"]) == {"num_samples": 42}
    assert not reply.content.array_records  # no plaintext arrays leave the node
    np.testing.assert_array_equal(context.state.array_records["fbh-delta"]["delta"].numpy(), [0.5, -0.5, 0.0])


def test_the_auditor_node_is_sent_the_kept_blob_of_a_hospital_excluded_at_the_sample(tmp_path):
    """A range exclusion at the sampled stage rests on the excluded hospital's committed blob, which
    the server keeps in ``rounds/<r>/excluded/``; the auditor's node must get it with the round's other
    evidence (it once did not, and rejected a correct round whenever the cheater was caught at the sample)."""
    from fbh.flower.driver import FlowerRun
    from fbh.protocol.config import RunConfig

    run = FlowerRun(None, RunConfig(clients=3), tmp_path / "out", "http://127.0.0.1:1")
    round_dir = run.run_dir.round_dir(1)
    kept = {"excluded/0xC.0.bin": b"blob", "excluded/0xC.0.sig": b"sig", "range/0xC.sample0.npz": b"answer"}
    for name, data in kept.items():
        (round_dir / name).parent.mkdir(parents=True, exist_ok=True)
        (round_dir / name).write_bytes(data)
    asked = {}

    def ask(stage, requests, group):
        asked.update(requests)
        return {node: ({"approved": True}, {}) for node in requests}

    run.ask, run.auditor = ask, (9, "0xAuditor")
    run.audit(RoundPlan(1, b"\x01" * 32, {"0xA": 1.0}, 4.0, 2**20), {"0xA": b"accepted"}, np.zeros(3))
    fields, arrays = asked[9]
    sent = {name: arrays[f"evidence_{j}"].tobytes() for j, name in enumerate(fields["evidence"])}
    assert sent == kept
