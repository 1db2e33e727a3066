"""The C++ core's self-test driver (tests/native/selftest.cpp): on this machine and on aarch64.

The driver checks the field, scalar, group, ecmult and BSGS code against the known-answer
vectors of tests/data/vectors (coincurve's results) plus property checks, without Python.
It is built natively and cross-compiled with Debian's g++-aarch64-linux-gnu, then run under
qemu-user: the portable 5x52-bit field code must give the same answers on 64-bit Arm.
.ci/run installs the cross toolchain; there (CI=true or FBH_REQUIRE_AARCH64=1) its absence fails.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from fbh.hardware import available_cpus

REPO = Path(__file__).resolve().parents[2]
NATIVE = REPO / "tests" / "native"
VECTORS = REPO / "tests" / "data" / "vectors"
CROSS = ("aarch64-linux-gnu-g++", "qemu-aarch64")
SYSROOT = "/usr/aarch64-linux-gnu"


def vector_lines() -> list[str]:
    """The vectors in the driver's line format (see selftest.cpp)."""

    def load(name: str) -> list[dict]:
        return json.loads((VECTORS / f"{name}.json").read_text())["vectors"]

    lines = [f"mulg {v['k']} {v['compressed']}" for v in load("mul_g")]
    lines += [f"add {v['a']} {v['b']} {v['sum']}" for v in load("point_add")]
    lines += [f"mul {v['k']} {v['point']} {v['product']}" for v in load("point_mul")]
    for v in load("infinity"):
        if v["op"] == "mul_g":
            lines.append(f"mulg {v['k']} {v['result']}")
        elif v["op"] == "add":
            lines.append(f"add {v['a']} {v['b']} {v['result']}")
    enc = json.loads((VECTORS / "elgamal_encrypt.json").read_text())
    lines += [f"enc {enc['secret_key']} {v['m']} {v['r']} {v['c1']} {v['c2']}" for v in enc["vectors"]]
    return lines


def _cmake() -> str:
    found = shutil.which("cmake", path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    if found is None:
        pytest.fail("cmake not found (the package build needs it too)")
    return found


def build(arch: str) -> Path:
    """Configure and build the driver for ``arch`` ("native" or "aarch64") under build/."""
    out = REPO / "build" / f"selftest-{arch}"
    cmd = [_cmake(), "-S", str(NATIVE), "-B", str(out), "-DCMAKE_BUILD_TYPE=Release"]
    if arch == "aarch64":
        cmd.append(f"-DCMAKE_TOOLCHAIN_FILE={NATIVE / 'aarch64-linux-gnu.cmake'}")
    for step in (cmd, [_cmake(), "--build", str(out), "-j", str(available_cpus())]):
        done = subprocess.run(step, capture_output=True, text=True, check=False)
        assert done.returncode == 0, f"{' '.join(step)} failed:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    return out / "fbh_selftest"


def run_driver(prefix: list[str], lines: list[str], rounds: int = 50) -> subprocess.CompletedProcess:
    return subprocess.run([*prefix, str(rounds)], input="\n".join(lines) + "\n", capture_output=True, text=True,
                          timeout=300, check=False)


def _require_cross() -> None:
    missing = [tool for tool in CROSS if shutil.which(tool) is None]
    if not missing:
        return
    msg = f"not installed: {', '.join(missing)} (Debian: apt-get install g++-aarch64-linux-gnu qemu-user)"
    if os.environ.get("CI") == "true" or os.environ.get("FBH_REQUIRE_AARCH64") == "1":
        pytest.fail(f".ci/run must install the aarch64 toolchain: {msg}")
    pytest.skip(msg)


@pytest.fixture(scope="module")
def native_driver() -> Path:
    return build("native")  # ~10-25 s: compiles the core


def test_vectors_cover_every_kind():
    kinds = {line.split()[0] for line in vector_lines()}
    assert kinds == {"mulg", "add", "mul", "enc"}
    assert sum(line.endswith(" 00") for line in vector_lines()) >= 3  # infinity results included


@pytest.mark.slow
def test_driver_passes_natively(native_driver):
    done = run_driver([str(native_driver)], vector_lines())
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"ok: {len(vector_lines())} vectors" in done.stdout and " 0 failures" in done.stdout


@pytest.mark.slow
def test_driver_reports_a_wrong_vector(native_driver):
    """The driver can fail: one flipped digit of an expected point is caught and exits 1."""
    lines = vector_lines()
    first = lines[3].split()
    first[-1] = first[-1][:-1] + ("0" if first[-1][-1] != "0" else "1")
    lines[3] = " ".join(first)
    done = run_driver([str(native_driver)], lines, rounds=2)
    assert done.returncode == 1
    assert f"FAIL mulg {first[1]}" in done.stdout and "FAILED" in done.stdout


@pytest.mark.slow
def test_driver_passes_on_aarch64_under_qemu():
    if platform.machine() == "aarch64":
        pytest.skip("this machine is aarch64: test_driver_passes_natively covers it")
    _require_cross()
    driver = build("aarch64")
    header = driver.read_bytes()[:20]
    assert header[:4] == b"\x7fELF" and int.from_bytes(header[18:20], "little") == 183  # e_machine EM_AARCH64
    done = run_driver(["qemu-aarch64", "-L", SYSROOT, str(driver)], vector_lines())
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"ok: {len(vector_lines())} vectors" in done.stdout and " 0 failures" in done.stdout


def test_missing_cross_toolchain_skips_locally_but_fails_on_ci(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda tool, **kw: None)
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("FBH_REQUIRE_AARCH64", raising=False)
    with pytest.raises(pytest.skip.Exception, match="qemu-aarch64"):
        _require_cross()
    monkeypatch.setenv("FBH_REQUIRE_AARCH64", "1")
    with pytest.raises(pytest.fail.Exception, match=".ci/run must install"):
        _require_cross()
