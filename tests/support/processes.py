"""What /proc says about a process's children, tolerating processes and threads that end while it is read."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path


def children_of(pid: int) -> list[int]:
    """Direct children of ``pid`` (scanning parents in /proc/*/stat, so exiting threads cannot race the read)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry.name))
            except (OSError, IndexError, ValueError):
                continue
    return found


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process used so far (0 once it has gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime (clock ticks)


def process_name(pid: int) -> str:
    """The process's name (``/proc/<pid>/comm``), or nothing once it has gone."""
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def process_state(pid: int) -> str:
    """The process's state letter (``R``, ``S``, ``Z`` for a zombie, ...), or nothing once it has gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return ""


def command_line(pid: int) -> bytes:
    """The process's command line, or nothing once it has gone."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def platform_processes(platform_pid: int) -> dict[str, int]:
    """The platform process and its spawned workers, named by role ("API worker 1", "function worker 2", ...;
    not multiprocessing's resource tracker)."""
    from infra.local import function_workers, lambda_runtime

    roles = {function_workers.PROCESS_NAME: "function worker", lambda_runtime.MEDIA_PROCESS_NAME: "media worker"}
    found, counts = {"platform": platform_pid}, Counter[str]()
    for pid in sorted(children_of(platform_pid)):
        if b"spawn_main" in command_line(pid):
            role = roles.get(process_name(pid), "API worker")
            counts[role] += 1
            found[f"{role} {counts[role]}"] = pid
    return found
