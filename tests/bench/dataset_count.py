"""A dataset's detail (``GET /datasets/{name}``: its file count) at 10,000 and 100,000 files, the old way and
now, side by side, in this process on moto patched as ``make up`` patches it (``ANNOLAKE_BENCH_COUNT_SIZES``).

Old: every membership of the dataset's shards counted by a DynamoDB COUNT query, shard after shard (the code
before the counters, kept here verbatim). Now: the service's ``count_files`` (one consistent query of the
dataset's counters), and the whole request through the API app. Also timed: the first read of a dataset whose
counters were never kept (one written before them), which counts once the old way and stores the figures.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Callable

from tests.bench.in_process import BENCH_REGION, BENCH_TABLE, bench_world

SIZES = tuple(int(n) for n in os.environ.get("ANNOLAKE_BENCH_COUNT_SIZES", "10000,100000").split(","))
PROJECT = "bench-count"
DATASET = "bench"


def _say(*row: str) -> tuple[str, ...]:
    print(" | ".join(row), file=sys.stderr, flush=True)
    return row


def _old_count(project_id: str, dataset_id: str) -> int:
    """``count_dataset_files`` before the counters."""
    from annolake_service.adapters.dynamo import keys
    from annolake_service.adapters.dynamo.items import DatasetMemberItem

    total = 0
    for shard in range(keys.DATASET_SHARDS):
        total += DatasetMemberItem.count(
            keys.shard_pk(project_id, dataset_id, shard), filter_condition=DatasetMemberItem.status != "deleted"
        )
    return total


def _timed(call: Callable[[], int], expected: int, runs: int) -> float:
    """Median seconds of ``runs`` calls, each answering ``expected``."""
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        assert call() == expected
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def _forget_counters(project_id: str, dataset_id: str) -> None:
    """The dataset as written before the counters existed."""
    import boto3
    from annolake_service.adapters.dynamo import keys

    dynamodb = boto3.client("dynamodb", region_name=BENCH_REGION)
    for shard in range(keys.DATASET_SHARDS):
        key = {"PK": {"S": keys.dataset_count_pk(project_id, dataset_id)}, "SK": {"S": keys.dataset_count_sk(shard)}}
        dynamodb.delete_item(TableName=BENCH_TABLE, Key=key)


def _rows(sizes: tuple[int, ...]) -> list[tuple[str, ...]]:
    import base64

    from annolake_service.api.app import create_app
    from annolake_service.domain.roles import Role
    from annolake_service.services import files, projects
    from starlette.testclient import TestClient

    from tests.bench.snapshots import _seed_records

    rows: list[tuple[str, ...]] = []
    projects.create_project(PROJECT, PROJECT, creator="user:bench")
    key = projects.issue_api_key(PROJECT, role=Role.ADMIN, name="bench")
    headers = {"Authorization": "Basic " + base64.b64encode(f"{key.client_id}:{key.client_secret}".encode()).decode()}
    api = TestClient(create_app())
    seeded = 0
    for count in sorted(sizes):
        started = time.perf_counter()
        seeded += len(_seed_records(PROJECT, DATASET, count - seeded, seeded))
        rows.append(_say(f"seed {count:,} file records (setup)", f"{time.perf_counter() - started:.0f} s", ""))
        dataset = projects.get_dataset(PROJECT, DATASET)
        runs = 3 if count <= 10_000 else 1

        def old_detail() -> int:
            return _old_count(PROJECT, projects.get_dataset(PROJECT, DATASET).dataset_id)

        old = _timed(old_detail, count, runs)
        rows.append(
            _say(f"dataset detail count, {count:,} files, old (COUNT of every membership)", f"{old * 1000:.0f} ms", "")
        )
        new = _timed(lambda: files.count_files(PROJECT, DATASET), count, 20)
        rows.append(
            _say(
                f"dataset detail count, {count:,} files, now (8 counters)",
                f"{new * 1000:.1f} ms",
                f"{old / new:,.0f}x faster",
            )
        )

        def detail() -> int:
            answer = api.get(f"/api/v1/projects/{PROJECT}/datasets/{DATASET}", headers=headers)
            assert answer.status_code == 200, answer.text
            return int(answer.json()["file_count"])

        rows.append(
            _say(
                f"  GET /datasets/{{name}}, {count:,} files, now",
                f"{_timed(detail, count, 20) * 1000:.1f} ms",
                "whole request",
            )
        )
        _forget_counters(PROJECT, dataset.dataset_id)
        first = _timed(lambda: files.count_files(PROJECT, DATASET), count, 1)
        again = _timed(lambda: files.count_files(PROJECT, DATASET), count, 5)
        rows.append(
            _say(
                f"  first read of a pre-counter dataset, {count:,} files",
                f"{first * 1000:.0f} ms",
                f"counted once, consistently; then {again * 1000:.1f} ms",
            )
        )
    return rows


def run() -> list[tuple[str, ...]]:
    load = os.getloadavg()[0]
    with bench_world():
        rows = _rows(SIZES)
    return [*rows, _say("  load average (1 min) at start / end", f"{load:.1f}", f"{os.getloadavg()[0]:.1f}")]
