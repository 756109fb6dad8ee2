"""Restarting the local platform over saved state with a few thousand files, jobs and webhooks.

Starts ``python -m infra.local`` (what ``make up`` runs), seeds ``BENCH_RESTART_FILES`` (3,000) labelled files
straight into the store, launches ``JOBS`` sync jobs over a small dataset and subscribes ``WEBHOOKS`` webhooks
(to a receiver in this process) to every event type, then drops photos into the jobs' dataset, so that ingest,
``file_ingested``, task creation and webhook deliveries are all under way. Once the receiver has been quiet for
a few seconds the platform is stopped as Ctrl-C stops it and started again over the same home. Reports the
restart time, the dead-letter queues' depths (0 expected) and the webhook events delivered again after the
restart (an event delivered twice means a handler ran twice for it; 0 expected).
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import boto3

from tests.bench.local_store import noise_jpeg
from tests.bench.streaming import _configure_service_for
from tests.e2e.conftest import RunningPlatform, free_port, start_platform
from tests.support import slice_data

FILES = int(os.environ.get("BENCH_RESTART_FILES", "3000"))
JOBS, WEBHOOKS, DROPS = 3, 3, 20
EVENT_TYPES = ["file_ingested", "task_created", "task_submitted", "task_completed", "job_completed"]


class _Receiver(BaseHTTPRequestHandler):
    events: Counter[str] = Counter()  # (webhook url path, event id) deliveries
    lock = threading.Lock()

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with self.lock:
            type(self).events[f"{self.path} {body.get('id')}"] += 1
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def _dead_letters(platform: RunningPlatform) -> dict[str, int]:
    creds = platform.credentials
    sqs = boto3.client(
        "sqs",
        endpoint_url=platform.emulator_url,
        aws_access_key_id=creds["aws_access_key_id"],
        aws_secret_access_key=creds["aws_secret_access_key"],
        region_name="us-east-1",
    )
    depths = {}
    for url in sqs.list_queues().get("QueueUrls", []):
        if "dead" in url.lower() or "dlq" in url.lower():
            attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
            depths[url.rsplit("/", 1)[-1]] = int(attributes["Attributes"]["ApproximateNumberOfMessages"])
    return depths


def _quiet(seconds: float, timeout: float = 300) -> None:
    """Until the receiver got nothing new for ``seconds``."""
    deadline, last, since = time.monotonic() + timeout, -1, time.monotonic()
    while time.monotonic() < deadline and time.monotonic() - since < seconds:
        time.sleep(0.5)
        total = sum(_Receiver.events.values())
        if total != last:
            last, since = total, time.monotonic()


def run() -> list[tuple[str, str, str]]:
    from annolake import Project

    from tests.support.auth import reset_service_caches

    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    rows: list[tuple[str, str, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        home, ports = Path(tmp) / "home", (free_port(), free_port())
        platform = start_platform(home, *ports, timeout_s=900, snapshot_seconds=24 * 3600)
        try:
            _configure_service_for(platform)
            reset_service_caches()
            creds = platform.credentials
            project = Project(creds["project"], creds["client_id"], creds["client_secret"], platform.api_url)
            started = time.perf_counter()
            slice_data.seed_dataset(creds["project"], "bench-restart", FILES)
            seeded_s = time.perf_counter() - started
            # A fresh client: the API closes connections idle for seconds, and a POST on one is not retried.
            project = Project(creds["project"], creds["client_id"], creds["client_secret"], platform.api_url)
            project.directory.new("bench-restart-jobs")
            for n in range(WEBHOOKS):
                project.webhook.new(f"http://127.0.0.1:{server.server_port}/hook-{n}", EVENT_TYPES)
            for n in range(JOBS):
                project.job.new(f"restart-{n}", ["bench-restart-jobs"]).launch()
            s3 = boto3.client(
                "s3",
                endpoint_url=platform.emulator_url,
                aws_access_key_id="test",
                aws_secret_access_key="test",
                region_name="us-east-1",
            )
            for n in range(DROPS):
                s3.put_object(
                    Bucket=creds["drop_bucket"],
                    Key=f"{creds['project']}/bench-restart-jobs/p{n:03d}.jpg",
                    Body=noise_jpeg(320, 240, seed=n),
                )
            _quiet(5)
            before = Counter(_Receiver.events)
        finally:
            platform.stop(timeout=600)
        platform = start_platform(home, *ports, timeout_s=900, snapshot_seconds=24 * 3600)
        try:
            time.sleep(15)  # whatever a restart would redeliver has time to arrive
            _quiet(5)
            files = sum(
                1
                for _ in Project(creds["project"], creds["client_id"], creds["client_secret"], platform.api_url)
                .directory.get("bench-restart")
                .files()
            )
            depths = _dead_letters(platform)
        finally:
            platform.stop(timeout=600)
    server.shutdown()
    again = sum(n for key, n in _Receiver.events.items() if key in before and n > before[key])
    twice = sum(1 for n in _Receiver.events.values() if n > 1)
    rows.append((f"seed {FILES:,} files straight into the store", f"{seeded_s:.1f} s", ""))
    rows.append(
        (
            f"restart over {FILES:,} files, {JOBS} jobs, {WEBHOOKS} webhooks",
            f"{platform.started_in_s:.1f} s",
            f"to a healthy API; {files:,} files listed after",
        )
    )
    rows.append(
        (
            "  dead-letter queues after the restart",
            f"{sum(depths.values())} msgs",
            f"{len(depths)} queues: " + ", ".join(f"{k}={v}" for k, v in sorted(depths.items())),
        )
    )
    rows.append(
        (
            "  webhook events delivered again after the restart",
            f"{again}",
            f"{sum(before.values())} deliveries before, {sum(_Receiver.events.values())} in all; "
            f"events delivered more than once: {twice}",
        )
    )
    return rows
