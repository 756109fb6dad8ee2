"""A benchmark run on part of the machine's CPU: ``ANNOLAKE_BENCH_CPUS=1`` gives this process and every process
it starts (the platform, its workers, the clients) one core's worth of time spread over all cores, as when the
machine's host is busy and each core runs at about half speed (this machine's slow hours: the necessary work
of the workflow bench fell from 150-200 to about 100 tasks/s). Figures measured so can be reproduced at any
hour. Uses a CPU cgroup (v1 ``cpu`` controller or v2 ``cpu.max``), so it needs write access to
``/sys/fs/cgroup``.
"""

from __future__ import annotations

import atexit
import contextlib
import os
from pathlib import Path

VARIABLE = "ANNOLAKE_BENCH_CPUS"
PERIOD_US = 10_000  # short: a group that used its share waits at most this long, not 100 ms
_HOW = "Run the benchmark as root, or unset the variable to use the whole machine."
ROOTS = (Path("/sys/fs/cgroup/cpu"), Path("/sys/fs/cgroup/unified"), Path("/sys/fs/cgroup"))


def limit_from_environment() -> str | None:
    """Put this process in a group limited to ``ANNOLAKE_BENCH_CPUS`` cores' time; what was done, for the
    report (None when the variable is unset)."""
    raw = os.environ.get(VARIABLE)
    if not raw:
        return None
    try:
        cpus = float(raw)
    except ValueError:
        raise SystemExit(f"{VARIABLE}={raw!r}: give a number of cores, e.g. 1 or 0.5") from None
    if cpus <= 0:
        raise SystemExit(f"{VARIABLE}={raw!r}: give a number of cores above 0")
    quota = max(1000, int(cpus * PERIOD_US))
    group = _group()
    try:
        if (group / "cpu.cfs_quota_us").exists():
            (group / "cpu.cfs_period_us").write_text(str(PERIOD_US))
            (group / "cpu.cfs_quota_us").write_text(str(quota))
        else:
            (group / "cpu.max").write_text(f"{quota} {PERIOD_US}")
        (group / "cgroup.procs").write_text(str(os.getpid()))
    except OSError as exc:
        raise SystemExit(f"{VARIABLE}: could not limit the CPU with {group} ({exc}); {_HOW}") from None
    atexit.register(_leave, group)
    return f"every process of this run limited to {cpus:g} of {os.cpu_count()} cores' time ({group})"


def _leave(group: Path) -> None:
    """Back to the parent group, and the group removed (the processes this run started have ended)."""
    with contextlib.suppress(OSError):
        (group.parent / "cgroup.procs").write_text(str(os.getpid()))
        group.rmdir()


def _group() -> Path:
    for root in ROOTS:
        v1 = (root / "cpu.cfs_quota_us").exists()
        v2 = (root / "cgroup.controllers").exists() and "cpu" in (root / "cgroup.controllers").read_text().split()
        if not (v1 or v2):
            continue
        group = root / f"annolake-bench-{os.getpid()}"
        try:
            if v2 and not v1:
                (root / "cgroup.subtree_control").write_text("+cpu")
            group.mkdir(exist_ok=True)
        except OSError:
            continue
        return group
    raise SystemExit(f"{VARIABLE} needs a CPU cgroup this user may create (under /sys/fs/cgroup): none was. {_HOW}")
