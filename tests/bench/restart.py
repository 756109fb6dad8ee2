"""Restarting the local platform over saved state with many files, jobs and webhooks.

Starts ``python -m infra.local`` (what ``make up`` runs), seeds ``BENCH_RESTART_FILES`` (3,000) labelled files
straight into the store (the records and objects of real ingests, without decoding images), launches ``JOBS``
sync jobs over a small dataset and subscribes ``WEBHOOKS`` webhooks (to a receiver in this process) to every
event type, then drops photos into the jobs' dataset, so that ingest, ``file_ingested``, task creation and
webhook deliveries are all under way. Once the receiver has been quiet for a few seconds the platform is
stopped as Ctrl-C stops it and started again over the same home. Reports the restart time, the platform
process's resident memory after it, the dead-letter queues' depths (0 expected) and the webhook events
delivered again after the restart (an event delivered twice means a handler ran twice for it; 0 expected).

Beyond ``BENCH_RESTART_SEEDED`` (2,000) files, that many are seeded through the service and the platform is
stopped; its checkpoint then gets copies of those files' records and objects under new file ids, names and
content hashes (bodies shared) up to the count, as if seeded one by one (seeding 100,000 through the
emulator takes hours on two cores), and the platform is started over it before the jobs and webhooks.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import boto3

from tests.bench.local_store import noise_jpeg
from tests.bench.streaming import _configure_service_for
from tests.e2e.conftest import free_port, start_platform
from tests.support import slice_data

FILES = int(os.environ.get("BENCH_RESTART_FILES", "3000"))
SEEDED = min(FILES, int(os.environ.get("BENCH_RESTART_SEEDED", "2000")))
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


def _quiet(seconds: float, timeout: float = 300) -> None:
    """Until the receiver got nothing new for ``seconds``."""
    deadline, last, since = time.monotonic() + timeout, -1, time.monotonic()
    while time.monotonic() < deadline and time.monotonic() - since < seconds:
        time.sleep(0.5)
        total = sum(_Receiver.events.values())
        if total != last:
            last, since = total, time.monotonic()


def _copy_seeded_files(state: Path, file_ids: list[str], total: int) -> None:
    """Add copies of the seeded files to the checkpoint in ``state`` until it holds ``total`` of them: every
    item and object naming a seeded file, with its file id, content hash and ``img_<i>`` name made new (folded
    in as journal entries would be, one copy at a time)."""
    from infra.local.state.checkpoint import Checkpoint

    saved = Checkpoint(state / "state.db", legacy=state / "state.json")
    saved.open()
    seeded = set(file_ids)
    ids = re.compile(r"[0-9a-f]{64}|[0-9a-f]{32}")
    names = re.compile(r"img_(\d{6})")
    position = {file_id: n for n, file_id in enumerate(file_ids)}

    def of_seeded(text: str) -> int | None:
        """The position among the seeded files of the file ``text`` names, if any."""
        return next((position[m.group()] for m in ids.finditer(text) if m.group() in seeded), None)

    table, items = next(
        (resource, items)
        for resource in saved.resources("tables")
        if (items := list(saved.items(resource))) and "PK" in items[0]
    )
    hashes = {
        item["content_hash"]["S"]
        for item in items
        if "content_hash" in item and item.get("file_id", {}).get("S") in seeded
    }
    known = seeded | hashes
    # an object's body is shared by its copies: its blob digest stays (an original's is its content hash)
    rows = [(table, item, json.dumps(item)) for item in items]
    rows += [
        (bucket, o, json.dumps({**o, "sha256": ""}))
        for bucket in saved.resources("buckets")
        for o in saved.objects(bucket)
    ]
    copied = [(into, row, text, n) for into, row, text in rows if (n := of_seeded(text)) is not None]
    copies = -(-total // len(file_ids)) - 1
    for copy in range(1, copies + 1):
        last = min(len(file_ids), total - copy * len(file_ids))

        def renamed(m: re.Match[str], copy: int = copy) -> str:
            if m.group() not in known:
                return m.group()
            return hashlib.sha256(f"{m.group()}:{copy}".encode()).hexdigest()[: len(m.group())]

        def numbered(m: re.Match[str], copy: int = copy) -> str:
            return f"img_{int(m.group(1)) + copy * len(file_ids):06d}"

        entries = []
        for into, row, text, n in copied:
            if n >= last:
                continue  # the last copy is partial
            made = json.loads(names.sub(numbered, ids.sub(renamed, text)))
            if "sha256" in row:
                made["sha256"] = row["sha256"]
                entries.append({"t": "object", "bucket": into, "key": made["key"], "object": made})
            else:
                key = {name: made[name] for name in ("PK", "SK") if name in made}
                entries.append({"t": "item", "table": into, "key": key, "item": made})
        saved.fold([entries], through=saved.journal_through)
    saved.close()


def _resident_mib(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("VmRSS")).split()[1]) // 1024


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
            file_ids = slice_data.seed_dataset(creds["project"], "bench-restart", SEEDED, image_work=False)
            if FILES > SEEDED:
                platform.stop(timeout=600)
                _copy_seeded_files(home / "state", file_ids, FILES)
                platform = start_platform(home, *ports, timeout_s=900, snapshot_seconds=24 * 3600)
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
            stopping = time.perf_counter()
            platform.stop(timeout=600)
            stop_s = time.perf_counter() - stopping
        platform = start_platform(home, *ports, timeout_s=900, snapshot_seconds=24 * 3600)
        try:
            resident_mib = _resident_mib(platform.process.pid)
            time.sleep(15)  # whatever a restart would redeliver has time to arrive
            _quiet(5)
            files = sum(
                1
                for _ in Project(creds["project"], creds["client_id"], creds["client_secret"], platform.api_url)
                .directory.get("bench-restart")
                .files()
            )
            depths = {url.rsplit("/", 1)[-1]: n for url, n in platform.dead_letter_depths().items()}
        finally:
            platform.stop(timeout=600)
    server.shutdown()
    again = sum(n for key, n in _Receiver.events.items() if key in before and n > before[key])
    twice = sum(1 for n in _Receiver.events.values() if n > 1)
    how = "" if FILES == SEEDED else f"{SEEDED:,} through the service, copies of them in the checkpoint"
    rows.append((f"seed {FILES:,} files straight into the store", f"{seeded_s:.1f} s", how))
    rows.append(
        (
            f"restart over {FILES:,} files, {JOBS} jobs, {WEBHOOKS} webhooks",
            f"{platform.started_in_s:.1f} s",
            f"to a healthy API; {files:,} files listed after",
        )
    )
    rows.append(("  Ctrl-C to the process's end, work in flight", f"{stop_s:.1f} s", "state saved, the process gone"))
    rows.append(("  platform process's resident memory after the restart", f"{resident_mib:,} MiB", "RSS"))
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
