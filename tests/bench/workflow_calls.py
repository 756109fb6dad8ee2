"""What one workflow task costs the emulator, call by call: the AWS calls per ``next`` → ``submit``.

Runs the local platform with every request counted (as ``ingest_calls`` does), seeds a dataset of
``WARM + COUNT`` files, launches a job over it, has one annotator take and submit ``WARM`` tasks, clears the
counts, then has ``BENCH_CALLS_ANNOTATORS`` annotators (default 1; each with a key of their own) take and submit
``COUNT`` more between them, each one task after the other, and waits until the platform is quiet (the review
workflow's steps and the event consumers done). The calls are split by who made them: the API (its Lambda
function), another handler, or the platform itself (the Step Functions engine, the pollers). With many
annotators, the API workers' claims race: a refused claim is one more ``UpdateItem``.
"""

from __future__ import annotations

import os
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.bench.ingest_calls import _calls, clear_counts, counting_platform, quiet, table

COUNT = int(os.environ.get("BENCH_CALLS_TASKS", "30"))
ANNOTATORS = int(os.environ.get("BENCH_CALLS_ANNOTATORS", "1"))
WARM = 3
BOX = [{"type": "box", "name": "car", "x_min": 1, "y_min": 1, "x_max": 20, "y_max": 20}]


def _work(annotator, job, count: int) -> None:  # noqa: ANN001
    for _ in range(count):
        task = annotator.task.next(job)
        assert task is not None, "the queue ran dry"
        task.submit(BOX)


def _work_together(annotators: list, job, count: int) -> None:  # noqa: ANN001
    """``count`` tasks between ``annotators``, each working one task after the other in a thread of its own."""
    shares = [count // len(annotators) + (n < count % len(annotators)) for n in range(len(annotators))]
    with ThreadPoolExecutor(len(annotators)) as pool:
        for done in [pool.submit(_work, a, job, share) for a, share in zip(annotators, shares, strict=True)]:
            done.result()


def measure(count: int = COUNT, annotators_count: int = ANNOTATORS):  # noqa: ANN201
    from annolake import Project

    from tests.bench.streaming import _configure_service_for
    from tests.support import slice_data
    from tests.support.auth import reset_service_caches

    with tempfile.TemporaryDirectory() as tmp:
        platform = counting_platform(Path(tmp) / "home")
        try:
            reset_service_caches()
            _configure_service_for(platform)
            slice_data.seed_dataset("demo", "calls", WARM + count)
            creds = platform.credentials
            admin = Project("demo", creds["client_id"], creds["client_secret"], platform.api_url)
            annotators = []
            for n in range(annotators_count):
                key = admin.client.post(f"{admin._path}/api-keys", {"name": f"counted-{n}", "role": "annotator"})
                annotators.append(Project("demo", key["client_id"], key["client_secret"], platform.api_url))
            annotator = annotators[0]
            job = admin.job.new(name="calls", directories=["calls"], mode="copy_once").launch()
            while job.stats()["tasks"]["annotate"].get("available", 0) < WARM + count:
                time.sleep(0.5)
            _work(annotator, job, WARM)
            quiet(platform.emulator_url)
            clear_counts(platform.emulator_url)
            _work_together(annotators, job, count)
            quiet(platform.emulator_url)
            return _calls(platform.emulator_url)
        finally:
            platform.stop(timeout=600)


def run() -> list[tuple[str, str, str]]:
    # the annotators call the API, never the emulator: every call from outside the platform is an API worker's
    who = "one annotator" if ANNOTATORS == 1 else f"{ANNOTATORS} annotators at once"
    return table(measure(), COUNT, what=f"workflow task ({COUNT} next -> submit, {who})", bare=3, clients="API workers")
