"""Every bad input reaches the user as one or two lines and a documented exit code, never a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from fbh.errors import ExitCode
from fbh.protocol.rundir import RunDir

FBH = [sys.executable, "-m", "fbh.cli"]
BAD, MISMATCH, OK = ExitCode.BAD_INPUT, ExitCode.VERIFICATION_FAILED, ExitCode.OK
QUICK = ["--clients", "2", "--rounds", "1", "--train-examples", "200", "--validation-size", "100",
         "--range-samples", "8"]


def _fbh(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([*FBH, *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    """Damaged and misplaced inputs of every kind the issue lists."""
    base = tmp_path_factory.mktemp("bad")
    a_file = base / "a-file"
    a_file.write_text("not a folder")
    png = base / "corrupt.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 10)
    good_npy = base / "digits.npy"
    np.save(good_npy, np.zeros((2, 28, 28), np.uint8))
    no_manifest = base / "no-manifest"
    RunDir(no_manifest).write_json(RunDir(no_manifest).config_path, {"encrypt": True, "chain": "embedded"})
    (no_manifest / "chain").mkdir()
    truncated = base / "truncated-model"
    rd = RunDir(truncated)
    rd.write_json(rd.config_path, {"encrypt": False, "chain": "none", "centralized": True})
    rd.save_model(rd.model_path, np.zeros(10, np.float32), model="ann", num_classes=10, seed=0)
    rd.model_path.write_bytes(rd.model_path.read_bytes()[:60])
    unfinished = base / "unfinished"
    RunDir(unfinished).write_json(RunDir(unfinished).config_path, {"encrypt": True, "chain": "embedded"})
    RunDir(unfinished).mark_incomplete(round=2)
    finished = base / "finished"
    RunDir(finished).write_json(RunDir(finished).metrics_path, {"rounds": []})
    RunDir(finished).write_json(RunDir(finished).config_path, {})
    wrong_shape = base / "wrong.npy"
    np.save(wrong_shape, np.zeros((3, 5)))
    return {"file": a_file, "png": png, "npy": good_npy, "no_manifest": no_manifest, "truncated": truncated,
            "finished": finished, "unfinished": unfinished, "wrong_shape": wrong_shape, "base": base}


def _cases(f: dict[str, Path]) -> list[tuple[list[str], int, str, dict[str, str] | None]]:
    out = str(f["base"] / "never-created")
    run = ["run", *QUICK, "--out", out]
    return [  # (argv, exit code, a word stderr must name, extra env)
        ([*run, "--threads", "0"], BAD, "threads", None),
        ([*run, "--chain", "bogus"], BAD, "bogus", None),
        ([*run, "--chain", "http://127.0.0.1:9"], BAD, "no Ethereum node", None),
        ([*run, "--chain", "anvil"], BAD, "anvil", {"FBH_ANVIL": str(f["base"] / "no-anvil")}),
        (["run", "--train-examples", "99999999", "--out", out], BAD, "train-examples", None),
        ([*run, "--clip", "inf"], BAD, "clip", None),
        ([*run, "--lr", "nan"], BAD, "lr", None),
        ([*run, "--clients", "0"], BAD, "clients", None),
        ([*run, "--rounds", "0"], BAD, "rounds", None),
        ([*run, "--dataset", "cifar"], BAD, "cifar", None),
        ([*run, "--validation-size", "60000"], BAD, "validation-size", None),
        (["run", *QUICK, "--out", str(f["file"] / "sub")], BAD, "a-file", None),
        (["run", *QUICK, "--out", str(f["file"])], BAD, "is a file", None),
        (["run", *QUICK, "--out", "/proc/fbh-run"], BAD, "cannot write", None),
        (["run", *QUICK, "--out", str(f["finished"])], BAD, "already holds a run", None),
        (["baseline", "--epochs", "0", "--out", out], BAD, "epochs", None),
        (["audit", str(f["no_manifest"])], BAD, "manifest", None),
        (["audit", str(f["base"] / "nowhere")], BAD, "config.json", None),
        (["audit", str(f["unfinished"])], BAD, "--resume", None),
        (["predict", str(f["truncated"]), str(f["npy"])], BAD, "model.npz", None),
        (["predict", str(f["truncated"]), str(f["png"])], BAD, "corrupt.png", None),
        # An image's shape is judged against the model's input shape, so the unreadable model comes first.
        (["predict", str(f["truncated"]), str(f["wrong_shape"])], BAD, "model.npz", None),
        (["predict", str(f["truncated"]), str(f["base"] / "missing.png")], BAD, "missing.png", None),
        (["bench", "bogus"], BAD, "bogus", None),
        (["run", "--resume", str(f["base"] / "nowhere")], BAD, "no such run directory", None),
        (["run", "--resume", str(f["finished"])], BAD, "finished run", None),
        (["run", "--resume", str(f["finished"]), "--clients", "3"], BAD, "--clients", None),
        (["report", str(f["base"] / "nowhere")], BAD, "no such run directory", None),
        ([*run, "--data-dir", str(f["base"] / "empty")], BAD, "mnist",
         {"FBH_DATA_DIR": "", "FBH_CACHE_DIR": str(f["base"] / "empty"), "FBH_OFFLINE": "1"}),
        (["predict", "--round", "1", str(f["truncated"]), str(f["npy"])], BAD, "baseline", None),
    ]


def test_bad_inputs_exit_2_with_one_clear_line_and_no_traceback(files):
    cases = _cases(files)
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda c: _fbh(*c[0], env=c[3]), cases))
    for (argv, code, word, _), proc in zip(cases, results, strict=True):
        shown = f"fbh {' '.join(argv)}\nstderr: {proc.stderr[-800:]}"
        assert proc.returncode == code, shown
        assert "Traceback" not in proc.stderr, shown
        assert word in proc.stderr, shown
        assert len([ln for ln in proc.stderr.splitlines() if ln.strip()]) <= 3, shown
    assert not (files["base"] / "never-created").exists()  # nothing left behind


def test_debug_shows_the_traceback(files):
    proc = _fbh("--debug", "audit", str(files["no_manifest"]))
    assert proc.returncode != 0 and "Traceback" in proc.stderr


def test_version_and_help():
    from fbh import __version__

    assert _fbh("--version").stdout.strip() == f"fbh {__version__}"
    bench = _fbh("bench", "--help")
    assert bench.returncode == OK and "crypto" in bench.stdout and "round" in bench.stdout
    run_help = _fbh("run", "--help").stdout
    assert "(default: 10)" in run_help and "embedded (default)" in run_help and "exit codes" in run_help
    for what in ("crypto", "train", "chain", "round"):
        assert f"usage: fbh bench {what}" in _fbh("bench", what, "--help").stdout


def test_error_lines_name_the_hint():
    from fbh.errors import BadInput, describe

    code, lines = describe(BadInput("x is wrong", "do y"), "run")
    assert (code, lines) == (ExitCode.BAD_INPUT, ["x is wrong", "do y"])
    code, lines = describe(RuntimeError("boom"), "run")
    assert code == ExitCode.INTERRUPTED and "--debug" in lines[1]
    assert json.dumps(int(code)) == "3"


def test_unexpected_failure_of_a_started_run_is_exit_3_with_the_way_back(tmp_path):
    from fbh.cli import _resumable
    from fbh.errors import RunInterrupted

    rd = RunDir(tmp_path / "started")
    rd.mark_incomplete(round=1)
    with pytest.raises(RunInterrupted) as info, _resumable(str(rd.root)):
        raise ValueError("boom")
    assert info.value.exit_code == ExitCode.INTERRUPTED and "ValueError: boom" in info.value.message
    assert f"fbh run --resume {rd.root}" in info.value.hint
    with pytest.raises(ValueError), _resumable(str(tmp_path / "never-started")):
        raise ValueError("bad input before the run began")


def test_full_disk_is_reported_before_the_run_starts(tmp_path, monkeypatch):
    import errno
    import tempfile

    from fbh.errors import UnusableRunDir
    from fbh.protocol.preflight import check_out_dir

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(tempfile, "TemporaryFile", full)
    with pytest.raises(UnusableRunDir, match="the disk is full") as info:
        check_out_dir(tmp_path / "run")
    assert "free space" in info.value.hint and not (tmp_path / "run").exists()
