"""The local platform as a store: ingest of real-sized photos against the bare work per file, the memory of every
platform process, and what durability costs an annotation save.

- Ingest: ``SMALL`` 640x480 and ``LARGE`` 4000x3000 noise JPEGs (they do not compress) dropped at once, timed to
  the last one ready, against a bare script on the same machine and emulator doing only the necessary work per
  file: read the dropped object, ``media.inspect_image`` (decode, orient, hash, thumbnail), copy the original,
  put the thumbnail, put one record (``WORKERS`` threads, in this process). The platform's clock starts at the
  first drop, so the ratio is taken against the bare work timed the same way (each file's drop, then its work);
  the bare work timed after its files were dropped (the only figure until 2026-12-06) is reported beside it.
- Memory: peak (VmHWM) and end (VmRSS) resident memory of the platform process and each of its workers.
- Saves: p50/p99 of ``SAVES`` sequential annotation saves with the journal fsynced (``make up``'s default)
  and with ``ANNOLAKE_DURABLE=0`` (journal written, no fsync), each on a fresh platform.
- The first platform runs as ``make up`` does (the media handler in the function workers, ``ANNOLAKE_MEDIA_WORKERS``
  0); the second also ingests 200 of the 640x480 files with it in 2 media worker processes of its own (2).

``BENCH_SMALL`` / ``BENCH_LARGE`` / ``BENCH_SAVES`` change the counts (defaults 1000 / 50 / 200).
"""

from __future__ import annotations

import io
import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import numpy as np
from botocore.config import Config
from botocore.exceptions import ClientError
from PIL import Image

from tests.bench.in_process import restored_env
from tests.e2e.conftest import RunningPlatform, free_port, start_platform
from tests.support.processes import children_of, cpu_seconds, platform_processes

SMALL = int(os.environ.get("BENCH_SMALL", "1000"))
LARGE = int(os.environ.get("BENCH_LARGE", "50"))
SAVES = int(os.environ.get("BENCH_SAVES", "200"))
WORKERS = 8


def noise_jpeg(width: int, height: int, seed: int, *, grain: int = 1, quality: int = 85) -> bytes:
    """Random pixels (``grain`` x ``grain`` blocks, upscaled): nothing for JPEG to compress away."""
    rng = np.random.default_rng(seed)
    image = Image.fromarray(rng.integers(0, 256, (height // grain, width // grain, 3), dtype=np.uint8))
    if grain > 1:
        image = image.resize((width, height), Image.BILINEAR)
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def _memory(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) in MB."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]) // 1024, int(fields["VmHWM"].split()[0]) // 1024


def _cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time the processes used so far (a busy shared machine stretches wall time, less CPU)."""
    return sum(cpu_seconds(pid) for pid in pids)


def _s3(platform: RunningPlatform) -> Any:
    session = boto3.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1")
    return session.client(
        "s3", endpoint_url=platform.emulator_url, config=Config(max_pool_connections=WORKERS * 2)
    ), session.client("dynamodb", endpoint_url=platform.emulator_url)


def _bare(platform: RunningPlatform, bodies: list[bytes], label: str) -> Bare:
    """The necessary work alone, against the same emulator: half the files timed from their drops, as the
    platform's ingest is timed, half timed after their drops."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "functions"))
    from annolake_service.domain import media

    s3, dynamodb = _s3(platform)
    source, target, table = f"bare-src-{label}", f"bare-media-{label}", f"bare-records-{label}"
    s3.create_bucket(Bucket=source)
    s3.create_bucket(Bucket=target)
    dynamodb.create_table(
        TableName=table,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
    )

    def drop(n: int) -> None:
        s3.put_object(Bucket=source, Key=f"f{n}.jpg", Body=bodies[n])

    def work(n: int) -> None:
        body = s3.get_object(Bucket=source, Key=f"f{n}.jpg")["Body"].read()
        facts = media.inspect_image(body)
        s3.copy_object(Bucket=target, Key=f"o/{facts.content_hash}", CopySource={"Bucket": source, "Key": f"f{n}.jpg"})
        s3.put_object(Bucket=target, Key=f"t/{facts.content_hash}", Body=facts.thumbnail_jpeg)
        dynamodb.put_item(
            TableName=table,
            Item={
                "pk": {"S": facts.content_hash},
                "width": {"N": str(facts.width)},
                "height": {"N": str(facts.height)},
                "size": {"N": str(len(body))},
            },
        )

    def dropped_and_worked(n: int) -> None:
        drop(n)
        work(n)

    started = time.perf_counter()
    with ThreadPoolExecutor(WORKERS) as pool:
        list(pool.map(dropped_and_worked, range(half := len(bodies) // 2)))
    with_drops = half / (time.perf_counter() - started)
    with ThreadPoolExecutor(WORKERS) as pool:
        list(pool.map(drop, range(half, len(bodies))))
    started = time.perf_counter()
    with ThreadPoolExecutor(WORKERS) as pool:
        list(pool.map(work, range(half, len(bodies))))
    return Bare(with_drops=with_drops, after_drops=(len(bodies) - half) / (time.perf_counter() - started))


@dataclass(frozen=True)
class Bare:
    """Files per second of the bare work: timed as the platform's ingest is, from the first drop (each file's
    PUT, then its work, 8 at once), and the work alone, its files dropped before the clock starts."""

    with_drops: float
    after_drops: float


def _ingest(platform: RunningPlatform, bodies: list[bytes], dataset: str) -> float:
    """Files per second from the first drop to the last file out of the drop bucket (ready or quarantined)."""
    return len(bodies) / drop_and_wait(platform, dataset, range(len(bodies)), bodies.__getitem__)


def drop_and_wait(platform: RunningPlatform, dataset: str, numbers: range, body_of: Callable[[int], bytes]) -> float:
    """Drop files ``numbers`` (``WORKERS`` at a time) into ``dataset``'s folder; the seconds from the first drop
    until the folder is empty (each file ready or quarantined)."""
    s3, _ = _s3(platform)
    drop = platform.credentials["drop_bucket"]
    started = time.perf_counter()
    with ThreadPoolExecutor(WORKERS) as pool:
        list(
            pool.map(
                lambda n: s3.put_object(Bucket=drop, Key=f"demo/{dataset}/p{n:06d}.jpg", Body=body_of(n)),
                numbers,
            )
        )
    # The emulator being measured answers the polls too: a listing (even of one key) walks every object still
    # waiting in the bucket, a HEAD of one key does not. The last file dropped is among the last ingested, so it
    # is looked at until it is gone, and the folder listed only then.
    last = f"demo/{dataset}/p{numbers[-1]:06d}.jpg"
    while _present(s3, drop, last) or s3.list_objects_v2(Bucket=drop, Prefix=f"demo/{dataset}/", MaxKeys=1).get(
        "KeyCount", 0
    ):
        time.sleep(0.25)
    return time.perf_counter() - started


def _present(s3: Any, bucket: str, key: str) -> bool:
    try:
        s3.head_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if exc.response["Error"]["Code"] in ("404", "NoSuchKey"):
            return False
        raise
    return True


def _ready(platform: RunningPlatform, dataset: str) -> int:
    from annolake import Project

    creds = platform.credentials
    project = Project("demo", creds["client_id"], creds["client_secret"], platform.api_url)
    return sum(1 for _ in project.directory.get(dataset).files(status="ready"))


def _saves(platform: RunningPlatform) -> tuple[float, float]:
    from annolake import Project

    creds = platform.credentials
    project = Project("demo", creds["client_id"], creds["client_secret"], platform.api_url)
    file = next(iter(project.directory.get("default").files()))
    file = project.file.get_by_id(file.id)
    latencies = []
    for n in range(SAVES):
        box = {"type": "box", "name": "car", "x_min": 1, "y_min": 1, "x_max": 10 + n % 50, "y_max": 20}
        started = time.perf_counter()
        file.update([box], create_labels=True)
        latencies.append(time.perf_counter() - started)
    latencies.sort()
    return statistics.median(latencies) * 1000, latencies[int(len(latencies) * 0.99) - 1] * 1000


def _platform(tmp: str, name: str, **settings: str) -> RunningPlatform:
    with restored_env(settings):
        os.environ.update(settings)
        return start_platform(Path(tmp) / name, free_port(), free_port(), snapshot_seconds=30)


class _Rows(list):
    """Rows, each also printed as soon as it is measured (a long run shows its figures as it goes)."""

    def append(self, row: tuple[str, str, str]) -> None:
        print(" | ".join(row), flush=True)
        super().append(row)


def run() -> list[tuple[str, str, str]]:
    rows: list[tuple[str, str, str]] = _Rows()
    small = [noise_jpeg(640, 480, seed=n) for n in range(SMALL)]
    large = [noise_jpeg(4000, 3000, seed=100_000 + n, grain=2, quality=80) for n in range(LARGE)]
    media_gb = (sum(map(len, small)) + sum(map(len, large))) / 2**30
    with tempfile.TemporaryDirectory() as tmp:
        platform = _platform(tmp, "durable", ANNOLAKE_DURABLE="1", ANNOLAKE_MEDIA_WORKERS="0")
        try:
            p50, p99 = _saves(platform)
            rows.append((f"annotation save, {SAVES} sequential, journal fsynced", f"{p50:.0f} ms", f"p99 {p99:.0f} ms"))
            roles = {pid: role for role, pid in platform_processes(platform.process.pid).items()}
            before = {pid: _memory(pid) for pid in roles}
            for label, bodies in (("640x480", small), ("4000x3000", large)):
                if not bodies:
                    continue
                sizes = f"{min(map(len, bodies)) // 1024}-{max(map(len, bodies)) // 1024} kB"
                processes = [platform.process.pid, *children_of(platform.process.pid)]
                cpu_before = _cpu_seconds(processes)
                each_before = {pid: cpu_seconds(pid) for pid in roles}
                ingest = _ingest(platform, bodies, f"bench-{label}")
                cpu_ms = (_cpu_seconds(processes) - cpu_before) * 1000 / len(bodies)
                each = ", ".join(
                    f"{roles[pid]} {(cpu_seconds(pid) - was) * 1000 / len(bodies):.0f}"
                    for pid, was in each_before.items()
                )
                ready = _ready(platform, f"bench-{label}")
                bare = _bare(platform, bodies, label.replace("x", "-"))
                rows.append(
                    (
                        f"ingest to ready, {len(bodies)} x {label} noise JPEG ({sizes})",
                        f"{ingest:.1f} files/s",
                        f"{ready} ready; bare work from the drops (the platform's clock) {bare.with_drops:.1f} "
                        f"files/s: {ingest / bare.with_drops:.2f}x (goal >= 0.5x); after the drops "
                        f"{bare.after_drops:.1f} files/s: {ingest / bare.after_drops:.2f}x; "
                        f"platform processes' CPU {cpu_ms:.0f} ms per file ({each})",
                    )
                )
            for pid, (rss_before, _) in before.items():
                rss, peak = _memory(pid)
                role = roles[pid]
                rows.append(
                    (
                        f"{role} {pid}: resident at start -> end, peak",
                        f"{peak} MB",
                        f"{rss_before} -> {rss} MB; {(peak - rss_before) / max(media_gb, 1e-9):.0f} MB peak growth "
                        f"per GB of media ({media_gb:.2f} GB)",
                    )
                )
        finally:
            platform.stop(timeout=600)
        platform = _platform(tmp, "not-durable", ANNOLAKE_DURABLE="0", ANNOLAKE_MEDIA_WORKERS="2")
        try:
            p50_off, p99_off = _saves(platform)
            in_process = _ingest(platform, small[:200], "bench-in-process")
            rows.append(
                (
                    f"ingest to ready, {len(small[:200])} x 640x480, media handler in 2 media workers",
                    f"{in_process:.1f} files/s",
                    "ANNOLAKE_MEDIA_WORKERS=2 (journal not fsynced)",
                )
            )
            rows.append(
                (
                    f"annotation save, {SAVES} sequential, ANNOLAKE_DURABLE=0",
                    f"{p50_off:.0f} ms",
                    f"p99 {p99_off:.0f} ms; durable/not: p50 {p50 / p50_off:.2f}x, "
                    f"p99 {p99 / p99_off:.2f}x (goal <= 1.3x)",
                )
            )
        finally:
            platform.stop(timeout=600)
    print(json.dumps({"media_gb": round(media_gb, 3)}))
    return rows
