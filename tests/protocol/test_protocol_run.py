"""Whole runs on real MNIST: encrypted FedAvg vs plaintext, the run directory, audit, predict."""

from __future__ import annotations

import json
import shutil

import jax
import numpy as np
import pytest

from fbh import data as fdata
from fbh.cli import main
from fbh.crypto.quantize import Quantizer
from fbh.protocol.client import Hospital
from fbh.protocol.config import RunConfig
from fbh.protocol.kgc import KeyGenerationCentre
from fbh.protocol.rundir import RunDir
from fbh.protocol.server import Server
from fbh.protocol.session import clip_vector
from fbh.protocol.simulation import run
from fbh.train import FederatedTrainer, fedavg, ravel, ravel_clients

CLIENTS = 3
SMALL = RunConfig(clients=CLIENTS, rounds=2, validation_size=200, constant_time=False, seed=3, range_samples=16)


@pytest.fixture(scope="module")
def small_mnist(data_dir):
    """1,500 real training images and 500 test images: enough to learn, quick to encrypt."""
    ds = fdata.load_dataset("mnist", data_dir)
    return fdata.Dataset("mnist", ds.x_train[:1500], ds.y_train[:1500], ds.x_test[:500], ds.y_test[:500], ds.classes)


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory, small_mnist):
    out = tmp_path_factory.mktemp("runs") / "enc"
    metrics = run(SMALL, out, dataset=small_mnist, progress=False)
    return out, metrics


def test_encrypted_fedavg_equals_plaintext_fedavg_within_quantization_error(small_mnist):
    # Prepare: one real round of local training for three hospitals.
    cfg = SMALL
    trainer = FederatedTrainer("cnn", 10, seed=cfg.seed)
    images = small_mnist.x_train[..., None]
    parts = fdata.partition(small_mnist.y_train, CLIENTS, "iid", seed=0)
    x_c, y_c, mask, counts = fdata.pack_clients(images, small_mnist.y_train, parts)
    state = trainer.init()
    client_states, _ = trainer.round(state, x_c, y_c, mask, jax.random.key(0))
    global_flat = np.asarray(ravel(state))
    client_flats = np.asarray(ravel_clients(client_states))
    oracle = np.asarray(ravel(fedavg(client_states, counts)))

    # Execute: the encrypted path, bytes only between roles.
    kgc = KeyGenerationCentre(None)
    clip = clip_vector(state, cfg.clip, cfg.clip_stats)
    server = Server(_account(), None, clip=clip, bound=cfg.bound)
    hospitals = [Hospital(_account(), int(n), kgc.public_key, None, constant_time=False) for n in counts]
    plan = server.open_round(1, global_flat, {h.address: h.num_samples for h in hospitals})
    updates, clipped = [], 0
    for i, h in enumerate(hospitals):
        q, n_clipped = h.quantize(plan, client_flats[i] - global_flat, seed=i)
        clipped += n_clipped
        updates.append(h.encrypt(plan, q))
    accepted, rejected = server.verify(plan, updates, global_flat.size)
    aggregate = server.aggregate(plan, accepted)
    summed = kgc.decrypt_sum(1, [u.blob for u in accepted], bound=cfg.bound)
    new_flat = server.apply(plan, accepted, aggregate, summed, global_flat)

    # Assert: within C quantization steps (no coordinate was clipped).
    assert rejected == [] and clipped == 0
    step = Quantizer(clip, CLIENTS, cfg.bound).step
    err = np.abs(new_flat - oracle)
    assert (err <= CLIENTS * step + 1e-6 * np.abs(oracle)).all()
    assert err.max() > 0  # really went through quantization, not a plaintext shortcut


def test_run_directory_and_metrics(finished_run):
    out, metrics = finished_run
    rd = RunDir(out)
    assert json.loads(rd.metrics_path.read_text()) == json.loads(json.dumps(metrics))
    rows = metrics["rounds"]
    assert [r["round"] for r in rows] == [1, 2]
    for row in rows:
        assert {"train", "quantize", "encrypt", "aggregate", "decrypt"} <= set(row["seconds"])
        assert row["accepted"] == CLIENTS and row["approved"]
        assert 0.0 <= row["test_accuracy"] <= 1.0
    assert rows[-1]["test_accuracy"] > 0.2  # learns something from 1,300 images in 2 rounds
    for r in (1, 2):
        assert len(rd.load_updates(r)) == CLIENTS
        assert (rd.round_dir(r) / "model.npz").exists()
    for name in ("config.json", "model.npz", "accuracy.png", "loss.png"):
        assert (out / name).stat().st_size > 0
    assert RunConfig.from_json(json.loads((out / "config.json").read_text())) == SMALL


def test_audit_is_clean_after_the_run_exited(finished_run, capsys):
    out, _ = finished_run
    assert main(["audit", str(out)]) == 0
    assert "matches the chain" in capsys.readouterr().out


def test_audit_names_round_and_party_of_one_changed_byte(finished_run, tmp_path, capsys):
    out, _ = finished_run
    copy = tmp_path / "tampered"
    shutil.copytree(out, copy)
    rd = RunDir(copy)
    address, _ = sorted(rd.load_updates(2).items())[1]
    path = rd.update_path(2, address)
    blob = bytearray(path.read_bytes())
    blob[1000] ^= 0x40
    path.write_bytes(bytes(blob))
    assert main(["audit", str(copy)]) == 1
    err = capsys.readouterr().err
    assert f"round 2: blob of hospital {address} does not match its commitment" in err
    assert "round 1" not in err


def test_audit_catches_a_swapped_model(finished_run, tmp_path, capsys):
    out, _ = finished_run
    copy = tmp_path / "swapped"
    shutil.copytree(out, copy)
    shutil.copy(copy / "rounds" / "1" / "model.npz", copy / "rounds" / "2" / "model.npz")
    assert main(["audit", str(copy)]) == 1
    assert "round 2: the global model's hash is not the one recorded" in capsys.readouterr().err


def test_predict_deploys_the_latest_approved_model(finished_run, small_mnist, tmp_path, capsys):
    out, _ = finished_run
    images = tmp_path / "digits.npy"
    np.save(images, small_mnist.x_test[:8])
    assert main(["predict", str(out), str(images)]) == 0
    line = capsys.readouterr().out.strip()
    labels = [int(v) for v in line.split(":")[1].split()]
    assert len(labels) == 8 and all(0 <= v < 10 for v in labels)


def test_predict_refuses_a_model_that_is_not_the_approved_one(finished_run, small_mnist, tmp_path, capsys):
    # Prepare: the served file replaced by a noised model after the run.
    out, _ = finished_run
    copy = tmp_path / "noised"
    shutil.copytree(out, copy)
    rd = RunDir(copy)
    flat, meta = rd.load_model(rd.round_dir(2) / "model.npz")
    rd.save_model(rd.round_dir(2) / "model.npz", flat + np.float32(0.5), **meta)
    images = tmp_path / "digits.npy"
    np.save(images, small_mnist.x_test[:4])

    # Execute / Assert: refused with the reason (exit 1); an explicit approved round still serves.
    assert main(["predict", str(copy), str(images)]) == 1
    assert "does not hash to the model approved on chain for round 2" in capsys.readouterr().err
    assert main(["predict", "--round", "1", str(copy), str(images)]) == 0
    assert main(["predict", "--round", "7", str(copy), str(images)]) == 2
    assert "no round 7" in capsys.readouterr().err


def test_report_one_page_json_and_plots(finished_run, tmp_path, capsys):
    out, metrics = finished_run
    copy = tmp_path / "reported"
    shutil.copytree(out, copy)
    for png in copy.glob("*.png"):
        png.unlink()

    assert main(["report", str(copy)]) == 0
    page = capsys.readouterr().out
    assert "encrypted federated, finished" in page and "constant-time" not in page and "fast" in page
    assert page.count("approved") == 2 and "contract 0x" in page and "disk:" in page
    assert main(["report", "--json", "--no-plots", str(copy)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [r["round"] for r in report["rounds"]] == [1, 2]
    assert [r["on_chain"]["status"] for r in report["rounds"]] == ["approved", "approved"]
    assert report["rounds"][0]["test_accuracy"] == metrics["rounds"][0]["test_accuracy"]
    assert report["chain"]["backend"] == "embedded" and report["disk_bytes"]["total"] > 0
    assert "kgc-elgamal" not in json.dumps(report)  # secrets are never read into a report
    assert sorted(p.name for p in copy.glob("*.png")) == ["accuracy.png", "loss.png", "seconds.png"]

    RunDir(copy).mark_incomplete(round=2)
    assert main(["report", str(copy)]) == 0
    assert f"UNFINISHED (continue: fbh run --resume {copy})" in capsys.readouterr().out
    assert main(["report", str(tmp_path / "nowhere")]) == 2


@pytest.mark.anvil
def test_run_on_anvil_is_audited_after_the_node_stopped(anvil_installed, small_mnist, tmp_path):
    out = tmp_path / "anvil-run"
    cfg = dataclasses_replace(SMALL, rounds=1, chain="anvil")
    run(cfg, out, dataset=small_mnist, progress=False)
    assert main(["audit", str(out)]) == 0  # brings the node back from the saved state


def test_cli_plaintext_run_and_bad_input(data_dir, tmp_path, capsys):
    out = tmp_path / "plain"
    argv = ["run", "--no-encrypt", "--clients", "2", "--rounds", "1", "--train-examples", "300",
            "--validation-size", "100", "--data-dir", str(data_dir), "--out", str(out)]
    assert main(argv) == 0
    assert "test accuracy" in capsys.readouterr().out
    assert main(argv) == 2  # refuses to overwrite a finished run
    assert "already holds a run" in capsys.readouterr().err
    assert main(["run", "--dataset", "nope", "--out", str(tmp_path / "x")]) == 2
    assert "unknown dataset 'nope'" in capsys.readouterr().err
    assert main(["run", "--clients", "0"]) == 2


def dataclasses_replace(cfg: RunConfig, **changes) -> RunConfig:
    import dataclasses

    return dataclasses.replace(cfg, **changes)


def _account():
    from eth_account import Account

    return Account.create()


def test_cli_centralized_baseline(data_dir, tmp_path, capsys):
    out = tmp_path / "base"
    argv = ["baseline", "--model", "ann", "--epochs", "2", "--train-examples", "600",
            "--validation-size", "100", "--data-dir", str(data_dir), "--out", str(out)]
    assert main(argv) == 0
    assert "test accuracy" in capsys.readouterr().out
    rows = json.loads((out / "metrics.json").read_text())["rounds"]
    assert [r["round"] for r in rows] == [1, 2]
    assert rows[-1]["test_accuracy"] > 0.5  # an ANN on 600 real images
    assert (out / "accuracy.png").exists() and (out / "model.npz").exists()
    images = tmp_path / "digits.npy"
    np.save(images, np.zeros((2, 28, 28), np.uint8))
    assert main(["predict", str(out), str(images)]) == 0  # a baseline serves its own model (no chain)


def test_a_tampered_update_is_dropped_and_the_round_goes_on(small_mnist, tmp_path, capsys):
    out = tmp_path / "tampered-run"

    def flip_one_byte(round_, updates):
        import dataclasses

        blob = bytearray(updates[1].blob)
        blob[500] ^= 0x01  # in transit, after the hospital committed and signed
        return [updates[0], dataclasses.replace(updates[1], blob=bytes(blob)), *updates[2:]]

    metrics = run(dataclasses_replace(SMALL, rounds=1), out, dataset=small_mnist, progress=False,
                  tamper=flip_one_byte)
    (row,) = metrics["rounds"]
    assert row["accepted"] == CLIENTS - 1 and row["approved"]
    # The signature no longer matches the bytes: noise, and the hospital's commitment went unanswered.
    assert [(r["reason"], r["recorded"]) for r in row["rejected"]] == [("bad-signature", False), ("not-received", True)]
    victim = row["rejected"][1]["hospital"]
    assert victim not in RunDir(out).load_updates(1)
    assert main(["audit", str(out)]) == 0  # the exclusion is on chain; what was summed matches


def test_audit_of_a_run_that_kept_every_blob_says_what_it_verified(finished_run, capsys):
    out, _ = finished_run
    assert RunConfig.from_json(json.loads((out / "config.json").read_text())).retention == "all"
    assert main(["audit", str(out)]) == 0
    printed = capsys.readouterr().out
    assert f"verified: {2 * CLIENTS} accepted updates in rounds 1, 2: signed by their hospitals'" in printed
    assert "the sum of the accepted blobs is the recorded aggregate" in printed
    assert "dropped" not in printed and "not verified: that each model is the previous one" not in printed
    # guardians by default: the decryption is public and redone
    assert "rounds 1, 2: the guardians' shares verify against the published key ceremony" in printed


@pytest.fixture(scope="module")
def pruned_run(tmp_path_factory, small_mnist):
    out = tmp_path_factory.mktemp("runs") / "pruned"
    run(dataclasses_replace(SMALL, rounds=1, keep_updates="until-approved"), out, dataset=small_mnist,
        progress=False)
    return out


def test_until_approved_keeps_aggregate_signatures_and_digests_and_audit_says_what_it_cannot_check(
        pruned_run, capsys):
    rd = RunDir(pruned_run)
    folder = rd.round_dir(1) / "updates"
    assert list(folder.glob("*.bin")) == [] and len(list(folder.glob("*.sig"))) == CLIENTS
    assert rd.aggregate_path(1).stat().st_size > 0 and len(rd.load_pruned(1)) == CLIENTS
    assert main(["audit", str(pruned_run)]) == 0
    printed = capsys.readouterr().out
    assert "verified: round 1 (blobs dropped after approval): the dropped blobs' digests match" in printed
    assert "not verified: round 1: that the recorded aggregate is the sum of the accepted blobs" in printed


@pytest.mark.parametrize("damage", ["aggregate", "digest", "signature"])
def test_audit_of_a_pruned_round_catches_a_changed_aggregate_digest_or_signature(
        pruned_run, tmp_path, capsys, damage):
    copy = tmp_path / "pruned"
    shutil.copytree(pruned_run, copy)
    rd = RunDir(copy)
    address = sorted(rd.load_pruned(1))[0]
    if damage == "aggregate":
        blob = bytearray(rd.aggregate_path(1).read_bytes())
        blob[100] ^= 1
        rd.aggregate_path(1).write_bytes(bytes(blob))
        expected = "round 1: aggregate.bin is not the aggregate recorded on chain"
    elif damage == "digest":
        manifest = json.loads(rd.pruned_path(1).read_text())
        manifest["dropped"][address] = "00" * 32
        rd.pruned_path(1).write_text(json.dumps(manifest))
        expected = f"round 1: dropped blob of hospital {address} does not match its commitment"
    else:
        other = sorted(rd.load_pruned(1))[1]
        shutil.copy(rd.update_path(1, other, ".sig"), rd.update_path(1, address, ".sig"))
        expected = f"round 1: the kept signature of hospital {address} is not its signature"
    assert main(["audit", str(copy)]) == 1
    assert expected in capsys.readouterr().err


def test_retention_policy_resolution_and_bad_input():
    from fbh.protocol import retention

    assert retention.resolve("auto", 3) == "all"
    assert retention.resolve("auto", 70) == "until-approved"
    assert retention.resolve("all", 70) == "all"
    assert RunConfig(rounds=70).retention == "until-approved"
    with pytest.raises(ValueError, match="keep_updates must be one of auto, all, until-approved"):
        RunConfig(keep_updates="never")
    with pytest.raises(SystemExit) as info:  # argparse rejects an unknown choice before anything runs
        main(["run", "--keep-updates", "some"])
    assert info.value.code == 2
