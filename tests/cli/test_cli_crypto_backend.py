"""`fbh run --crypto-backend`: variable-time kernels only with --fast-crypto, and no GPU backend
without a GPU module, both refused up front (exit 2, no traceback, no run directory)."""

from __future__ import annotations

import signal

import pytest

from fbh import cli
from fbh.crypto.backend import get_backend, gpu_available
from fbh.errors import ExitCode


@pytest.fixture
def run_cli(capsys):
    """cli.main in this process (it installs a SIGTERM handler: restored afterwards)."""
    before = signal.getsignal(signal.SIGTERM)

    def run(*args: str) -> tuple[int, str]:
        code = cli.main(list(args))
        return code, capsys.readouterr().err

    yield run
    signal.signal(signal.SIGTERM, before)


def test_variable_time_backend_needs_fast_crypto(tmp_path, run_cli):
    out = tmp_path / "run"
    code, err = run_cli("run", "--crypto-backend", "portable", "--clients", "2", "--out", str(out))
    assert code == ExitCode.BAD_INPUT
    assert "variable-time" in err and "--fast-crypto" in err
    assert "Traceback" not in err
    assert not out.exists()
    assert get_backend() == "auto"


@pytest.mark.skipif(gpu_available(), reason="this machine has a GPU module and device")
def test_gpu_backend_without_a_gpu_is_bad_input(tmp_path, run_cli):
    out = tmp_path / "run"
    code, err = run_cli("run", "--crypto-backend", "gpu", "--fast-crypto", "--out", str(out))
    assert code == ExitCode.BAD_INPUT
    assert "fbh.crypto._ec_cuda" in err
    assert not out.exists()


def test_unknown_backend_is_rejected(run_cli):
    with pytest.raises(SystemExit) as exc:
        run_cli("run", "--crypto-backend", "tpu")
    assert exc.value.code == ExitCode.BAD_INPUT


def test_resume_checks_the_runs_own_mode(tmp_path, run_cli):
    from fbh.protocol.config import RunConfig
    from fbh.protocol.rundir import RunDir

    rd = RunDir(tmp_path / "run")
    rd.write_json(rd.config_path, RunConfig().to_json())  # constant-time run
    code, err = run_cli("run", "--resume", str(rd.root), "--crypto-backend", "gpu")
    assert code == ExitCode.BAD_INPUT
    assert "variable-time" in err
    assert get_backend() == "auto"


def test_bad_environment_backend_is_bad_input(tmp_path, run_cli, monkeypatch):
    from fbh.crypto import backend

    monkeypatch.setattr(backend, "_current", [None])
    monkeypatch.setenv("FBH_CRYPTO_BACKEND", "tpu")
    code, err = run_cli("run", "--clients", "2", "--out", str(tmp_path / "run"))
    assert code == ExitCode.BAD_INPUT
    assert "FBH_CRYPTO_BACKEND must be one of" in err
    assert not (tmp_path / "run").exists()
