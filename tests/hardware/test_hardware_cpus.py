"""CPU counting from affinity and cgroup quotas (v1 and v2), on fake /proc and /sys trees."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import fbh.hardware as hw
from fbh.crypto._common import resolve_threads


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.fixture
def v2(tmp_path: Path) -> tuple[Path, Path]:
    """A cgroup v2 tree: the process sits in /kubepods/pod1/app."""
    proc, root = tmp_path / "proc", tmp_path / "cgroup"
    _write(proc / "cgroup", "0::/kubepods/pod1/app\n")
    _write(root / "cgroup.controllers", "cpu memory\n")
    _write(root / "kubepods" / "cpu.max", "max 100000\n")
    _write(root / "kubepods" / "pod1" / "cpu.max", "250000 100000\n")
    _write(root / "kubepods" / "pod1" / "app" / "cpu.max", "max 100000\n")
    return proc, root


def test_v2_quota_of_an_ancestor_applies(v2):
    proc, root = v2
    assert hw.cgroup_cpu_limit(proc, root) == 2.5


def test_v2_tightest_level_wins(v2):
    proc, root = v2
    _write(root / "kubepods" / "pod1" / "app" / "cpu.max", "50000 100000\n")
    assert hw.cgroup_cpu_limit(proc, root) == 0.5


@pytest.mark.parametrize("cpu_max", ["max 100000\n", "garbage\n", "abc 100000\n", "0 100000\n", ""])
def test_v2_unlimited_or_malformed_cpu_max_is_no_limit(tmp_path, cpu_max):
    proc, root = tmp_path / "proc", tmp_path / "cgroup"
    _write(proc / "cgroup", "0::/\n")
    _write(root / "cgroup.controllers", "cpu\n")
    _write(root / "cpu.max", cpu_max)
    assert hw.cgroup_cpu_limit(proc, root) is None


def test_v2_container_without_cgroup_namespace_reads_its_mount(tmp_path):
    """/proc/self/cgroup names the host's path, but the container's own cgroup is mounted at the root."""
    proc, root = tmp_path / "proc", tmp_path / "cgroup"
    _write(proc / "cgroup", "0::/system.slice/docker-abc.scope\n")
    _write(root / "cgroup.controllers", "cpu\n")
    _write(root / "cpu.max", "150000 100000\n")
    assert hw.cgroup_cpu_limit(proc, root) == 1.5


def test_v1_cfs_quota(tmp_path):
    proc, root = tmp_path / "proc", tmp_path / "cgroup"
    _write(proc / "cgroup", "5:memory:/docker/abc\n3:cpu,cpuacct:/docker/abc\n1:name=systemd:/\n")
    _write(root / "cpu,cpuacct" / "docker" / "abc" / "cpu.cfs_quota_us", "300000\n")
    _write(root / "cpu,cpuacct" / "docker" / "abc" / "cpu.cfs_period_us", "100000\n")
    _write(root / "cpu,cpuacct" / "cpu.cfs_quota_us", "-1\n")
    _write(root / "cpu,cpuacct" / "cpu.cfs_period_us", "100000\n")
    assert hw.cgroup_cpu_limit(proc, root) == 3.0


def test_v1_unlimited_and_hybrid_unified_without_quota(tmp_path):
    """A hybrid host (v1 controllers plus an empty v2 'unified' tree), as on this project's machines."""
    proc, root = tmp_path / "proc", tmp_path / "cgroup"
    _write(proc / "cgroup", "1:cpu:/\n0::/\n")
    _write(root / "cpu" / "cpu.cfs_quota_us", "-1\n")
    _write(root / "cpu" / "cpu.cfs_period_us", "100000\n")
    _write(root / "unified" / "cgroup.controllers", "\n")
    assert hw.cgroup_cpu_limit(proc, root) is None


def test_no_cgroup_information(tmp_path):
    assert hw.cgroup_cpu_limit(tmp_path / "missing", tmp_path) is None


@pytest.mark.parametrize(("affinity", "limit", "want"), [
    (16, None, 16), (16, 2.0, 2), (16, 2.5, 3), (2, 8.0, 2), (4, 0.1, 1), (1, None, 1),
])
def test_cpus_within(affinity, limit, want):
    assert hw.cpus_within(affinity, limit) == want


def test_default_threads_follow_affinity_and_quota(monkeypatch):
    """resolve_threads(None) is the affinity mask capped by the quota, whatever os.cpu_count() says."""
    monkeypatch.setattr(os, "cpu_count", lambda: 64)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3, 4, 5}, raising=False)
    monkeypatch.setattr(hw, "_system_cpu_limit", lambda: None)
    assert resolve_threads(None) == 6
    monkeypatch.setattr(hw, "_system_cpu_limit", lambda: 1.5)
    assert resolve_threads(None) == 2
    assert resolve_threads(5) == 5  # an explicit choice is kept


def test_this_process():
    """On the real system: never more than the affinity mask, at least one."""
    n = hw.available_cpus()
    assert 1 <= n <= len(os.sched_getaffinity(0))


def test_physical_cores_count_smt_siblings_once(tmp_path):
    for cpu, core in enumerate([0, 1, 0, 1]):  # cpus 2, 3 are the SMT siblings of 0, 1
        _write(tmp_path / f"cpu{cpu}" / "topology" / "core_id", f"{core}\n")
        _write(tmp_path / f"cpu{cpu}" / "topology" / "physical_package_id", "0\n")
    assert hw.physical_cores([0, 1, 2, 3], tmp_path) == 2
    assert hw.physical_cores([0, 2], tmp_path) == 1
    assert hw.physical_cores([0, 1], tmp_path / "none") == 2  # no topology: count CPUs


def test_cpuinfo_model_and_simd(tmp_path):
    x86 = tmp_path / "x86"
    _write(x86, "processor\t: 0\nmodel name\t: Test CPU 9000\nflags\t\t: fpu sse4_2 avx2 adx bmi2\n\n"
                "processor\t: 1\nmodel name\t: other\n")
    assert hw.cpu_model(x86) == "Test CPU 9000"
    assert hw.cpu_flags(x86) == ["sse4_2", "avx2", "bmi2", "adx"]
    arm = tmp_path / "arm"
    _write(arm, "processor\t: 0\nFeatures\t: fp asimd pmull sha2 crc32\nCPU implementer\t: 0x41\nCPU part\t: 0xd0c\n")
    assert hw.cpu_flags(arm) == ["asimd", "pmull", "sha2"]
    assert "0xd0c" in hw.cpu_model(arm)


def test_memory_limits(tmp_path):
    proc, root = tmp_path / "proc", tmp_path / "cgroup"
    _write(proc / "cgroup", "4:memory:/job\n")
    _write(root / "memory" / "job" / "memory.limit_in_bytes", f"{2**30}\n")
    assert hw.cgroup_memory_limit(proc, root) == 2**30
    _write(root / "memory" / "job" / "memory.limit_in_bytes", "9223372036854771712\n")
    assert hw.cgroup_memory_limit(proc, root) is None
    meminfo = tmp_path / "meminfo"
    _write(meminfo, "MemTotal:       1000 kB\nMemAvailable:    500 kB\n")
    mem = hw.memory_bytes(meminfo)
    assert (mem["total"], mem["available"]) == (1000 * 1024, 500 * 1024)
