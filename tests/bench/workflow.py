"""Task throughput on the local platform: 20 simulated annotators running next -> submit for 60 s.

By default the annotators do not pause (a closed loop: the platform is saturated, and each request waits
behind the others). ``ANNOLAKE_BENCH_THINK_SECONDS`` makes each one hold its task that long between ``next``
and ``submit``, as a person drawing does: the latency an annotator meets at that pace.

Starts ``python -m infra.local`` (what ``make up`` runs) on free ports with a scratch home, seeds a dataset,
launches a job over it (one review workflow per file, each waiting on a task token), then runs the
annotators as threads of this process, each with its own API key and connection pool. Reports tasks/s,
p50/p99 latency of ``next`` and ``submit``, errors, double assignments (a task handed to two people), and the
CPU time per task of the platform process, each of its workers and this process (the annotators' clients).

With ``ANNOLAKE_BENCH_WORKFLOW_BASELINE`` (a checkout of other code) that checkout's platform is started beside
this one's on the same data, and the two are measured in turns, ``ANNOLAKE_BENCH_WORKFLOW_ROUNDS`` rounds of
``ANNOLAKE_BENCH_SECONDS`` each (the order flipped every round), each platform idle while the other runs.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

from tests.bench.streaming import _configure_service_for
from tests.e2e.conftest import REPO, free_port, start_platform
from tests.support.processes import cpu_seconds, platform_processes

ANNOTATORS = int(os.environ.get("ANNOLAKE_BENCH_ANNOTATORS", "20"))
SECONDS = float(os.environ.get("ANNOLAKE_BENCH_SECONDS", "60"))
FILES = int(os.environ.get("ANNOLAKE_BENCH_TASK_FILES", "600"))
BASELINE = os.environ.get("ANNOLAKE_BENCH_WORKFLOW_BASELINE")
ROUNDS = int(os.environ.get("ANNOLAKE_BENCH_WORKFLOW_ROUNDS", "2"))
THINK = float(os.environ.get("ANNOLAKE_BENCH_THINK_SECONDS", "0"))
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
        if THINK:
            time.sleep(THINK)
            t1 = time.perf_counter()
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


def _prepared(platform) -> tuple[list, object]:  # noqa: ANN001
    """The platform seeded, its annotators' keys made and a job over the files launched, every task open."""
    from annolake import Project

    from tests.support import slice_data
    from tests.support.auth import reset_service_caches

    reset_service_caches()  # this process's service code writes the seed: to this platform's table
    _configure_service_for(platform)
    slice_data.seed_dataset("demo", "task-bench", FILES)
    creds = platform.credentials
    admin = Project("demo", creds["client_id"], creds["client_secret"], platform.api_url)
    people = []
    for i in range(ANNOTATORS):
        key = admin.client.post(f"{admin._path}/api-keys", {"name": f"bench{i}", "role": "annotator"})
        people.append(Project("demo", key["client_id"], key["client_secret"], platform.api_url))
    job = admin.job.new(name="bench", directories=["task-bench"], mode="copy_once").launch()
    return people, job


def _opened(job) -> bool:  # noqa: ANN001
    return job.stats()["tasks"]["annotate"].get("available", 0) >= FILES


def _round(platform, people: list, job) -> dict:  # noqa: ANN001
    """``SECONDS`` of the annotators on ``platform``: what they did, and the CPU each process spent meanwhile."""
    log: dict = {
        "next": [],
        "submit": [],
        "errors": [],
        "done": 0,
        "empty": 0,
        "last_done": 0.0,
        "handed": defaultdict(set),
    }
    lock = threading.Lock()
    processes = platform_processes(platform.process.pid)
    cpu_before = {name: cpu_seconds(pid) for name, pid in processes.items()}
    own_before = cpu_seconds(os.getpid())
    load = os.getloadavg()[0]
    deadline = time.monotonic() + SECONDS
    threads = [threading.Thread(target=_annotate, args=(p, job, deadline, log, lock), daemon=True) for p in people]
    t0 = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    log["cpu"] = {name: cpu_seconds(pid) - cpu_before[name] for name, pid in processes.items()}
    log["cpu"]["bench clients"] = cpu_seconds(os.getpid()) - own_before
    # the queue ran dry: the rate is up to the last task done
    log["elapsed"] = (log["last_done"] if log["empty"] and log["done"] else time.perf_counter()) - t0
    log["load"] = (load, os.getloadavg()[0])
    return log


def _rows(name: str, log: dict, submitted: int) -> list[tuple[str, str, str]]:
    done = max(log["done"], 1)
    doubles = sum(1 for assignees in log["handed"].values() if len(assignees) > 1)
    spent = log["cpu"]
    return [
        (
            f"{name}: {ANNOTATORS} annotators, next -> "
            + (f"{THINK:g} s -> " if THINK else "")
            + f"submit for {SECONDS:.0f} s",
            f"{log['done'] / log['elapsed']:.1f} tasks/s",
            f"{log['done']} submitted ({submitted} per the job's stats so far); load average "
            f"{log['load'][0]:.1f} -> {log['load'][1]:.1f}",
        ),
        (
            "  next latency p50 / p99",
            f"{statistics.median(log['next']) * 1000:.0f} ms" if log["next"] else "-",
            f"p99 {_percentile(log['next'], 0.99) * 1000:.0f} ms",
        ),
        (
            "  submit latency p50 / p99",
            f"{statistics.median(log['submit']) * 1000:.0f} ms" if log["submit"] else "-",
            f"p99 {_percentile(log['submit'], 0.99) * 1000:.0f} ms",
        ),
        ("  errors / double assignments", f"{len(log['errors'])} / {doubles}", "; ".join(log["errors"][:3])),
        (
            "  CPU per task submitted, platform processes",
            f"{sum(v for k, v in spent.items() if k != 'bench clients') / done * 1000:.0f} ms",
            ", ".join(f"{k} {v / done * 1000:.0f} ms" for k, v in spent.items()),
        ),
    ]


def run() -> list[tuple[str, str, str]]:
    checkouts = {"this": REPO, **({"baseline": Path(BASELINE)} if BASELINE else {})}
    rows: list[tuple[str, str, str]] = []
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        platforms, prepared = {}, {}
        started = time.perf_counter()
        for name, repo in checkouts.items():
            platform = start_platform(Path(tmp) / name, free_port(), free_port(), snapshot_seconds=24 * 3600, repo=repo)
            stack.callback(platform.stop)
            platforms[name] = platform
            prepared[name] = _prepared(platform)
        for _, job in prepared.values():
            while not _opened(job):
                time.sleep(1)
        rows.append(
            (
                f"start, seed and launch a job over {FILES} files to all tasks open",
                f"{time.perf_counter() - started:.1f} s",
                " and ".join(checkouts) + " (launches overlap)",
            )
        )
        order = list(checkouts)
        for n in range(ROUNDS if BASELINE else 1):
            for name in order if n % 2 == 0 else order[::-1]:
                people, job = prepared[name]
                log = _round(platforms[name], people, job)
                submitted = job.stats()["tasks"]["annotate"].get("submitted", 0)
                rows += _rows(f"round {n + 1}, {name}", log, submitted)
    return rows
