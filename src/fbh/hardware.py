"""What this process may really use: CPUs after affinity and the cgroup CPU quota, cores, SIMD, memory.

``os.cpu_count()`` counts the host's CPUs. In a container or under ``taskset`` the process
may run on fewer (the affinity mask) or be throttled to a fraction of them (the cgroup
CPU quota: v2 ``cpu.max``, v1 ``cpu.cfs_quota_us`` / ``cpu.cfs_period_us``). Starting more
busy threads than that only adds context switches, so every default thread count in fbh
comes from :func:`available_cpus`.

The quota is read the way the JDK's ``CgroupSubsystem`` and Go's ``runtime`` (1.25,
``GOMAXPROCS``) read it: the process's cgroup from ``/proc/self/cgroup``, the limit of
that cgroup and each ancestor (the tightest wins), rounded up to whole CPUs.
"""

from __future__ import annotations

import functools
import math
import os
from pathlib import Path

__all__ = [
    "affinity_cpus",
    "available_cpus",
    "cgroup_cpu_limit",
    "cgroup_memory_limit",
    "cpu_flags",
    "cpu_model",
    "cpus_within",
    "memory_bytes",
    "physical_cores",
]

# SIMD extensions worth reporting (x86 flags from /proc/cpuinfo, Arm "Features").
SIMD_FLAGS = ("sse4_2", "avx", "avx2", "bmi2", "adx", "avx512f", "avx512ifma", "sha_ni",
              "asimd", "sve", "sve2", "pmull", "sha2")


def affinity_cpus() -> list[int]:
    """The CPU ids this process may be scheduled on (all CPUs where affinity is unknown)."""
    try:
        return sorted(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return list(range(os.cpu_count() or 1))


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def _quota_v2(directory: Path) -> float | None:
    """CPUs allowed by ``cpu.max`` (``"max 100000"`` or ``"<quota> <period>"``) in one cgroup."""
    text = _read(directory / "cpu.max")
    if not text:
        return None
    parts = text.split()
    if len(parts) != 2 or not (parts[0].isdigit() and parts[1].isdigit()):  # "max": unlimited
        return None
    quota, period = int(parts[0]), int(parts[1])
    return quota / period if quota > 0 and period > 0 else None


def _quota_v1(directory: Path) -> float | None:
    """CPUs allowed by ``cpu.cfs_quota_us`` / ``cpu.cfs_period_us`` (quota -1: unlimited)."""
    quota, period = _read(directory / "cpu.cfs_quota_us"), _read(directory / "cpu.cfs_period_us")
    if quota is None or period is None:
        return None
    try:
        q, p = int(quota), int(period)
    except ValueError:
        return None
    return q / p if q > 0 and p > 0 else None


def _tightest(mount: Path, group: str, read) -> float | None:
    """Smallest quota along ``mount/group`` and its ancestors up to ``mount``.

    A container without a cgroup namespace sees the host's path in /proc/self/cgroup
    but has its own cgroup mounted at ``mount``: then only ``mount`` itself is read.
    """
    leaf = mount / group.lstrip("/")
    if not leaf.is_dir():
        leaf = mount
    limits = []
    for directory in (leaf, *leaf.parents):
        limit = read(directory)
        if limit is not None:
            limits.append(limit)
        if directory == mount:
            break
    return min(limits, default=None)


def _cgroup_limit(proc_self: Path | str, cgroup_root: Path | str, controller: str,
                  read_v2, read_v1) -> float | None:
    """The tightest limit of one controller over the process's cgroups, v1 and v2 alike."""
    membership = _read(Path(proc_self) / "cgroup")
    if membership is None:
        return None
    root = Path(cgroup_root)
    limits = []
    for line in membership.splitlines():
        hierarchy, controllers, group = (line.split(":", 2) + ["", ""])[:3]
        if hierarchy == "0" and controllers == "":  # cgroup v2 (pure, or "unified" in a hybrid)
            for mount in (root, root / "unified"):
                if (mount / "cgroup.controllers").exists():
                    limits.append(_tightest(mount, group, read_v2))
                    break
        elif controller in controllers.split(","):  # cgroup v1: e.g. mounted as cpu or cpu,cpuacct
            for name in dict.fromkeys((controllers, controller, "cpu,cpuacct", "cpuacct,cpu")):
                if (root / name).is_dir():
                    limits.append(_tightest(root / name, group, read_v1))
                    break
    return min((x for x in limits if x is not None), default=None)


def cgroup_cpu_limit(proc_self: Path | str = "/proc/self", cgroup_root: Path | str = "/sys/fs/cgroup") -> float | None:
    """The cgroup CPU quota of this process in CPUs (e.g. 1.5), or ``None`` when unlimited.

    Args:
        proc_self: where ``cgroup`` (the process's membership) is read; tests pass a fake.
        cgroup_root: where the cgroup file systems are mounted.
    """
    return _cgroup_limit(proc_self, cgroup_root, "cpu", _quota_v2, _quota_v1)


def _int_file(name: str):
    def read(directory: Path) -> float | None:
        text = _read(directory / name)
        return float(text) if text and text.isdigit() else None  # "max" (v2) is not a limit
    return read


def cgroup_memory_limit(proc_self: Path | str = "/proc/self",
                        cgroup_root: Path | str = "/sys/fs/cgroup") -> int | None:
    """The cgroup memory limit of this process in bytes, or ``None`` when unlimited."""
    limit = _cgroup_limit(proc_self, cgroup_root, "memory",
                          _int_file("memory.max"), _int_file("memory.limit_in_bytes"))
    # v1 reports "unlimited" as a huge page-rounded number (2^63 - 4096).
    return int(limit) if limit is not None and limit < 2**60 else None


@functools.cache
def _system_cpu_limit() -> float | None:
    # Read once per process: the quota of a running container practically never changes.
    return cgroup_cpu_limit()


def cpus_within(affinity: int, limit: float | None) -> int:
    """CPUs to use given the affinity mask's size and a cgroup quota in CPUs (rounded up; >= 1).

    Rounded up, as Go's runtime does: a 1.5-CPU quota keeps two threads busy 75 % of the time.
    """
    if limit is not None:
        affinity = min(affinity, math.ceil(limit))
    return max(1, affinity)


def available_cpus() -> int:
    """How many CPUs this process can keep busy: the affinity mask, capped by the cgroup CPU quota."""
    return cpus_within(len(affinity_cpus()), _system_cpu_limit())


def physical_cores(cpus: list[int] | None = None, sys_cpu: Path | str = "/sys/devices/system/cpu") -> int:
    """Physical cores among ``cpus`` (default: the affinity mask): SMT siblings count once.

    Falls back to the number of CPUs where the topology is not exposed.
    """
    cpus = affinity_cpus() if cpus is None else cpus
    cores = set()
    for cpu in cpus:
        topo = Path(sys_cpu) / f"cpu{cpu}" / "topology"
        package, core = _read(topo / "physical_package_id"), _read(topo / "core_id")
        cores.add((package, core) if core is not None else ("cpu", cpu))
    return max(1, len(cores))


def _cpuinfo(path: Path | str) -> dict[str, str]:
    """The first processor's block of ``/proc/cpuinfo`` as a dict."""
    text = _read(Path(path)) or ""
    info: dict[str, str] = {}
    for line in text.split("\n\n", 1)[0].splitlines():
        key, sep, value = line.partition(":")
        if sep:
            info.setdefault(key.strip(), value.strip())
    return info


def cpu_model(cpuinfo: Path | str = "/proc/cpuinfo") -> str:
    """The CPU's marketing name (``model name`` on x86, ``CPU part`` or the machine on Arm)."""
    import platform

    info = _cpuinfo(cpuinfo)
    for key in ("model name", "Hardware", "Model"):
        if info.get(key):
            return info[key]
    if info.get("CPU implementer"):
        return f"{platform.machine()} (implementer {info['CPU implementer']}, part {info.get('CPU part', '?')})"
    return platform.processor() or platform.machine()


def cpu_flags(cpuinfo: Path | str = "/proc/cpuinfo") -> list[str]:
    """The SIMD extensions of :data:`SIMD_FLAGS` that the CPU reports."""
    info = _cpuinfo(cpuinfo)
    flags = set((info.get("flags") or info.get("Features") or "").split())
    return [f for f in SIMD_FLAGS if f in flags]


def memory_bytes(meminfo: Path | str = "/proc/meminfo") -> dict[str, int | None]:
    """Total and available memory of the host, and this process's cgroup memory limit (or ``None``)."""
    fields = {}
    for line in (_read(Path(meminfo)) or "").splitlines():
        key, _, value = line.partition(":")
        parts = value.split()
        if parts and parts[0].isdigit():
            fields[key] = int(parts[0]) * 1024
    return {"total": fields.get("MemTotal"), "available": fields.get("MemAvailable"),
            "cgroup_limit": cgroup_memory_limit()}
