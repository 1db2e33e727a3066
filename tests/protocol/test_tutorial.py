"""The README's library tutorial, run exactly as written, and user models / RGB end to end."""

from __future__ import annotations

import json
import re
import runpy
import sys

import numpy as np
import pytest

from fbh import data as fdata
from fbh.cli import main
from fbh.protocol.audit import audit_run
from fbh.protocol.config import RunConfig
from fbh.protocol.deploy import deployed_model
from fbh.protocol.rundir import RunDir
from fbh.protocol.simulation import run
from tests.conftest import REPO


def _tutorial_code() -> str:
    readme = (REPO / "README.md").read_text()
    block = re.search(r"<!-- tutorial:start -->\n```python\n(.*?)```\n<!-- tutorial:end -->", readme, re.S)
    assert block, "the README lost its tutorial markers"
    return block.group(1)


def test_readme_tutorial_runs_as_written(data_dir, tmp_path, monkeypatch, capsys):
    # Prepare: the user's own images (here: 150 real chest X-rays) and the tutorial file
    ds = fdata.load_dataset("pneumoniamnist", data_dir)
    np.savez(tmp_path / "my_images.npz", x=ds.x_train[:150], y=ds.y_train[:150])
    script = tmp_path / "my_federation.py"
    script.write_text(_tutorial_code())
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    # Execute
    runpy.run_path(str(script), run_name="__main__")
    # Assert: it ran, printed predictions, and the CLI rebuilds the user's model from the checkpoint
    assert "deployed; predictions:" in capsys.readouterr().out
    run_dir = tmp_path / "runs" / "my-federation"
    _, meta = RunDir.load_model(run_dir / "model.npz")
    assert meta["model_spec"]["factory"] == "my_federation:SmallCNN"
    np.save(tmp_path / "x.npy", ds.x_test[:3])
    assert main(["predict", str(run_dir), str(tmp_path / "x.npy")]) == 0
    assert re.search(r"x\.npy: [01] [01] [01]", capsys.readouterr().out)
    sys.modules.pop("my_federation", None)


@pytest.fixture(scope="module")
def retina_run(data_dir, tmp_path_factory):
    """RetinaMNIST (RGB 28x28x3): 2 hospitals, 1 encrypted round on the embedded chain."""
    ds = fdata.load_dataset("retinamnist", data_dir)
    small = fdata.Dataset("retinamnist", ds.x_train[:40], ds.y_train[:40], ds.x_test[:30], ds.y_test[:30],
                          ds.classes, x_val=ds.x_val[:20], y_val=ds.y_val[:20])
    out = tmp_path_factory.mktemp("retina") / "run"
    config = RunConfig(dataset="retinamnist", model="ann", model_kwargs={"hidden": 8}, clients=2, rounds=1,
                       normalize=True, constant_time=False, seed=1, range_samples=8)
    metrics = run(config, out, dataset=small, progress=False)
    return out, metrics, small


def test_rgb_trains_encrypts_audits_and_predicts(retina_run, tmp_path, capsys):
    out, metrics, small = retina_run
    row = metrics["rounds"][0]
    assert row["accepted"] == 2 and row["approved"]
    assert row["encrypted_values"] == 28 * 28 * 3 * 8 + 8 + 8 * 5 + 5  # the RGB ANN, all of it
    assert 0 <= row["test_auc"] <= 1
    assert audit_run(out) == []
    trainer, state, _ = deployed_model(out)
    assert trainer.input_shape == (28, 28, 3) and trainer.config.norm is not None
    np.save(tmp_path / "rgb.npy", small.x_test[:4])
    assert main(["predict", str(out), str(tmp_path / "rgb.npy")]) == 0
    expected = " ".join(map(str, trainer.predict(state, small.x_test[:4])))
    assert f"rgb.npy: {expected}" in capsys.readouterr().out
    np.save(tmp_path / "gray.npy", small.x_test[:4, ..., 0])
    assert main(["predict", str(out), str(tmp_path / "gray.npy")]) == 2  # wrong channels: a clear error
    assert "(N, 28, 28, 3)" in capsys.readouterr().err


def test_head_only_round_encrypts_only_the_trainable_values(retina_run, data_dir, tmp_path):
    # Prepare: the RGB run's model as the pre-trained start; PneumoniaMNIST is grayscale with 2 classes
    pre, _, _ = retina_run
    ds = fdata.load_dataset("pneumoniamnist", data_dir)
    small = fdata.Dataset("pneumoniamnist", ds.x_train[:40], ds.y_train[:40], ds.x_test[:20], ds.y_test[:20],
                          ds.classes, x_val=ds.x_val[:20], y_val=ds.y_val[:20])
    config = RunConfig(model="ann", model_kwargs={"hidden": 8}, clients=2, rounds=2, constant_time=False,
                       init_from=str(pre), trainable="dense2", clients_per_round=1, strategy="fedavgm",
                       range_samples=8)
    # Execute
    metrics = run(config, tmp_path / "head", dataset=small, progress=False)
    # Assert: only dense2 (8 * 2 + 2 values) crossed the wire, the rest stayed, the chain agrees
    rows = metrics["rounds"]
    assert [r["encrypted_values"] for r in rows] == [18, 18]
    assert all(r["sampling_rate"] == 0.5 and len(r["sampled"]) == 1 for r in rows)
    assert audit_run(tmp_path / "head") == []
    first = RunDir.load_model(tmp_path / "head" / "rounds" / "1" / "model.npz")[0]
    last = RunDir.load_model(tmp_path / "head" / "model.npz")[0]
    assert np.count_nonzero(first != last) <= 18
    config_json = json.loads((tmp_path / "head" / "config.json").read_text())
    assert config_json["trainable"] == "dense2" and config_json["init_from"] == str(pre)
