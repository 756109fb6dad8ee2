"""What one workflow task costs the emulator, call by call: the AWS calls per ``next`` → ``submit``.

Runs the local platform with every request counted (as ``ingest_calls`` does), seeds a dataset of
``WARM + COUNT`` files, launches a job over it, has one annotator take and submit ``WARM`` tasks, clears the
counts, then takes and submits ``COUNT`` more one after the other and waits until the platform is quiet (the
review workflow's steps and the event consumers done). The calls are split by who made them: the API (its
Lambda function), another handler, or the platform itself (the Step Functions engine, the pollers).
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import urllib3

from tests.bench.ingest_calls import POLLING, _calls, table
from tests.e2e.conftest import free_port, start_platform

COUNT = int(os.environ.get("BENCH_CALLS_TASKS", "30"))
WARM = 3
BOX = [{"type": "box", "name": "car", "x_min": 1, "y_min": 1, "x_max": 20, "y_max": 20}]


def _settle(emulator_url: str) -> None:
    """Until no call but polling was made for 3 s."""
    last, quiet_since = None, time.monotonic()
    while time.monotonic() - quiet_since < 3:
        time.sleep(0.5)
        seen = {k: n for k, n in _calls(emulator_url).items() if k[1] not in POLLING}
        if seen != last:
            last, quiet_since = seen, time.monotonic()


def _work(annotator, job, count: int) -> None:  # noqa: ANN001
    for _ in range(count):
        task = annotator.task.next(job)
        assert task is not None, "the queue ran dry"
        task.submit(BOX)


def measure(count: int = COUNT):  # noqa: ANN201
    from annolake import Project

    from tests.bench.streaming import _configure_service_for
    from tests.support import slice_data
    from tests.support.auth import reset_service_caches

    with tempfile.TemporaryDirectory() as tmp:
        platform = start_platform(
            Path(tmp) / "home",
            free_port(),
            free_port(),
            snapshot_seconds=30,
            timeout_s=900,
            module="tests.bench.ingest_calls",
        )
        try:
            reset_service_caches()
            _configure_service_for(platform)
            slice_data.seed_dataset("demo", "calls", WARM + count)
            creds = platform.credentials
            admin = Project("demo", creds["client_id"], creds["client_secret"], platform.api_url)
            key = admin.client.post(f"{admin._path}/api-keys", {"name": "counted", "role": "annotator"})
            annotator = Project("demo", key["client_id"], key["client_secret"], platform.api_url)
            job = admin.job.new(name="calls", directories=["calls"], mode="copy_once").launch()
            while job.stats()["tasks"]["annotate"].get("available", 0) < WARM + count:
                time.sleep(0.5)
            _work(annotator, job, WARM)
            _settle(platform.emulator_url)
            urllib3.PoolManager().request("DELETE", f"{platform.emulator_url}/_annolake/faults")
            _work(annotator, job, count)
            _settle(platform.emulator_url)
            return _calls(platform.emulator_url)
        finally:
            platform.stop(timeout=600)


def run() -> list[tuple[str, str, str]]:
    rows = table(measure(), COUNT)
    rows[-2] = (f"AWS calls per workflow task ({COUNT} next -> submit), all callers", rows[-2][1], "bare work: 3")
    return rows
