"""Task throughput on the local platform: 20 simulated annotators running next -> submit for 60 s.

Starts ``python -m infra.local`` (what ``make up`` runs) on free ports with a scratch home, seeds a dataset,
launches a job over it (one review workflow per file, each waiting on a task token), then runs the
annotators as threads of this process, each with its own API key and connection pool. Reports tasks/s,
p50/p99 latency of ``next`` and ``submit``, errors, and double assignments (a task handed to two people).
"""

from __future__ import annotations

import os
import statistics
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

from tests.bench.streaming import _configure_service_for
from tests.e2e.conftest import free_port, start_platform
from tests.support.processes import children_of, command_line, cpu_seconds

ANNOTATORS = int(os.environ.get("ANNOLAKE_BENCH_ANNOTATORS", "20"))
SECONDS = float(os.environ.get("ANNOLAKE_BENCH_SECONDS", "60"))
FILES = int(os.environ.get("ANNOLAKE_BENCH_TASK_FILES", "600"))
BOX = [{"type": "box", "name": "car", "x_min": 1, "y_min": 1, "x_max": 20, "y_max": 20}]


def _percentile(samples: list[float], q: float) -> float:
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _annotate(project, job, deadline: float, log: dict, lock: threading.Lock) -> None:
    from annolake import AnnolakeAPIError
    from urllib3.exceptions import HTTPError

    # a timed-out read is an error of that request, not the end of the annotator
    failures = (AnnolakeAPIError, HTTPError, OSError)
    while time.monotonic() < deadline:
        t0 = time.perf_counter()
        try:
            task = project.task.next(job)
        except failures as exc:
            with lock:
                log["errors"].append(f"next: {type(exc).__name__}: {exc}")
            continue
        t1 = time.perf_counter()
        if task is None:  # the queue is empty for now: not a hand-out, so not in the latency figures
            with lock:
                log["empty"] += 1
            time.sleep(0.2)
            continue
        with lock:
            log["next"].append(t1 - t0)
        with lock:
            log["handed"][task.id].add(task.data["assignee"])
        try:
            task.submit(BOX)
        except failures as exc:
            with lock:
                log["errors"].append(f"submit: {type(exc).__name__}: {exc}")
            continue
        with lock:
            log["submit"].append(time.perf_counter() - t1)
            log["done"] += 1
            log["last_done"] = time.perf_counter()


def _platform_processes(platform_pid: int) -> dict[str, int]:
    """The platform process and its API workers (spawned children; not multiprocessing's resource tracker)."""
    workers = [pid for pid in children_of(platform_pid) if b"spawn_main" in command_line(pid)]
    return {"platform": platform_pid, **{f"API worker {n + 1}": pid for n, pid in enumerate(sorted(workers))}}


def run() -> list[tuple[str, str, str]]:
    from annolake import Project

    from tests.support import slice_data

    rows: list[tuple[str, str, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        platform = start_platform(Path(tmp) / "home", free_port(), free_port(), snapshot_seconds=24 * 3600)
        try:
            _configure_service_for(platform)
            slice_data.seed_dataset("demo", "task-bench", FILES)
            creds = platform.credentials
            admin = Project("demo", creds["client_id"], creds["client_secret"], platform.api_url)
            people = []
            for i in range(ANNOTATORS):
                key = admin.client.post(f"{admin._path}/api-keys", {"name": f"bench{i}", "role": "annotator"})
                people.append(Project("demo", key["client_id"], key["client_secret"], platform.api_url))
            started = time.perf_counter()
            job = admin.job.new(name="bench", directories=["task-bench"], mode="copy_once").launch()
            while job.stats()["tasks"]["annotate"].get("available", 0) < FILES:
                time.sleep(1)
            rows.append(
                (f"launch a job over {FILES} files to all tasks open", f"{time.perf_counter() - started:.1f} s", "")
            )

            log = {
                "next": [],
                "submit": [],
                "errors": [],
                "done": 0,
                "empty": 0,
                "last_done": 0.0,
                "handed": defaultdict(set),
            }
            lock = threading.Lock()
            processes = _platform_processes(platform.process.pid)
            cpu_before = {name: cpu_seconds(pid) for name, pid in processes.items()}
            deadline = time.monotonic() + SECONDS
            threads = [
                threading.Thread(target=_annotate, args=(p, job, deadline, log, lock), daemon=True) for p in people
            ]
            t0 = time.perf_counter()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            cpu = {name: cpu_seconds(pid) - cpu_before[name] for name, pid in processes.items()}
            emptied = log["done"] >= FILES  # every task was done before the deadline: the rate is up to the last
            elapsed = (log["last_done"] if emptied else time.perf_counter()) - t0
            doubles = sum(1 for assignees in log["handed"].values() if len(assignees) > 1)
            submitted = job.stats()["tasks"]["annotate"].get("submitted", 0)
            rows += [
                (
                    f"{ANNOTATORS} annotators, next -> submit for {SECONDS:.0f} s",
                    f"{log['done'] / elapsed:.1f} tasks/s",
                    f"{log['done']} submitted ({submitted} per the job's stats)"
                    + (f"; all done after {elapsed:.0f} s" if emptied else ""),
                ),
                (
                    "  next latency p50 / p99",
                    f"{statistics.median(log['next']) * 1000:.0f} ms",
                    f"p99 {_percentile(log['next'], 0.99) * 1000:.0f} ms",
                ),
                (
                    "  submit latency p50 / p99",
                    f"{statistics.median(log['submit']) * 1000:.0f} ms",
                    f"p99 {_percentile(log['submit'], 0.99) * 1000:.0f} ms",
                ),
                ("  errors / double assignments", f"{len(log['errors'])} / {doubles}", "; ".join(log["errors"][:3])),
                (
                    "  CPU per task submitted, by process",
                    f"{sum(cpu.values()) / max(log['done'], 1) * 1000:.0f} ms",
                    ", ".join(f"{name} {spent / max(log['done'], 1) * 1000:.0f} ms" for name, spent in cpu.items()),
                ),
            ]
        finally:
            platform.stop()
    return rows
