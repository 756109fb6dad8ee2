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
With ``ANNOLAKE_BENCH_WORKFLOW_ALONE=1`` each round starts, seeds and launches a platform of its own and stops it
after: one platform on the machine at a time (two platforms side by side each hold thousands of waiting
executions, and the idle one's threads and memory still weigh on the measured one).

Then the same annotators do only the work a task needs, straight against this platform's emulator (its own
table): read a window of the queue and claim one task with a conditional write (``next``), then save the
annotations, move the file's version on and mark the task submitted in one transaction (``submit``). That is
the physical limit on this machine and emulator the platform is measured against (``ANNOLAKE_BENCH_BARE_TASKS``
tasks queued for it).
"""

from __future__ import annotations

import contextlib
import os
import statistics
import subprocess
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
FILES = int(os.environ.get("ANNOLAKE_BENCH_TASK_FILES", "2000"))
BASELINE = os.environ.get("ANNOLAKE_BENCH_WORKFLOW_BASELINE")
ROUNDS = int(os.environ.get("ANNOLAKE_BENCH_WORKFLOW_ROUNDS", "2"))
ALONE = os.environ.get("ANNOLAKE_BENCH_WORKFLOW_ALONE") == "1"
THINK = float(os.environ.get("ANNOLAKE_BENCH_THINK_SECONDS", "0"))
#: a shell command run as each round starts, ``{pid}`` replaced by the platform process's id (a profiler, say)
ON_ROUND = os.environ.get("ANNOLAKE_BENCH_ON_ROUND")
BARE_TASKS = int(os.environ.get("ANNOLAKE_BENCH_BARE_TASKS", "8000"))
BARE_WINDOW = 25  # as the platform's queue window
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
    return _measured(
        platform,
        [lambda deadline, log, lock, p=p: _annotate(p, job, deadline, log, lock) for p in people],
    )


def _measured(platform, annotators: list) -> dict:  # noqa: ANN001
    """Each of ``annotators`` (called with a deadline, the log and its lock) in a thread for ``SECONDS``."""
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
    threads = [threading.Thread(target=a, args=(deadline, log, lock), daemon=True) for a in annotators]
    t0 = time.perf_counter()
    for thread in threads:
        thread.start()
    sampler = _profile(platform.process.pid)
    for thread in threads:
        thread.join()
    log["cpu"] = {name: cpu_seconds(pid) - cpu_before[name] for name, pid in processes.items()}
    log["cpu"]["bench clients"] = cpu_seconds(os.getpid()) - own_before
    # the queue ran dry: the rate is up to the last task done
    log["elapsed"] = (log["last_done"] if log["empty"] and log["done"] else time.perf_counter()) - t0
    log["load"] = (load, os.getloadavg()[0])
    if sampler is not None:
        sampler.wait()
    return log


def _profile(pid: int) -> subprocess.Popen | None:
    """``ON_ROUND`` started for the round (waited for once it ends), or None."""
    if not ON_ROUND:
        return None
    return subprocess.Popen(ON_ROUND.replace("{pid}", str(pid)), shell=True)  # noqa: S602 - the caller's own command


def _bare_table(platform) -> str:  # noqa: ANN001
    """A table on ``platform``'s emulator with ``BARE_TASKS`` tasks queued and their files at version 0."""
    import boto3

    dynamodb = boto3.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1").client(
        "dynamodb", endpoint_url=platform.emulator_url
    )
    table = f"bare-workflow-{time.monotonic_ns()}"
    text = {"AttributeType": "S"}
    dynamodb.create_table(
        TableName=table,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": name, **text} for name in ("PK", "SK", "QPK", "QSK")],
        KeySchema=[{"AttributeName": "PK", "KeyType": "HASH"}, {"AttributeName": "SK", "KeyType": "RANGE"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "queue",
                "KeySchema": [
                    {"AttributeName": "QPK", "KeyType": "HASH"},
                    {"AttributeName": "QSK", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
    )
    items = []
    for n in range(BARE_TASKS):
        task = f"t{n:06d}"
        items.append(
            {
                "PK": {"S": "job"},
                "SK": {"S": f"task#{task}"},
                "QPK": {"S": "queue"},
                "QSK": {"S": f"0#{task}"},
                "file": {"S": f"f{n:06d}"},
                "status": {"S": "available"},
                "claim_seq": {"N": "0"},
            }
        )
        items.append({"PK": {"S": f"file#f{n:06d}"}, "SK": {"S": "head"}, "version": {"N": "0"}})
    for start in range(0, len(items), 25):
        batch = [{"PutRequest": {"Item": item}} for item in items[start : start + 25]]
        dynamodb.batch_write_item(RequestItems={table: batch})
    return table


def _bare_annotate(client, table: str, who: str, deadline: float, log: dict, lock: threading.Lock) -> None:  # noqa: ANN001
    import json
    import random

    from botocore.exceptions import ClientError

    while time.monotonic() < deadline:
        t0 = time.perf_counter()
        window = client.query(
            TableName=table,
            IndexName="queue",
            KeyConditionExpression="QPK = :q",
            ExpressionAttributeValues={":q": {"S": "queue"}},
            ProjectionExpression="SK, #f, claim_seq",
            ExpressionAttributeNames={"#f": "file"},
            Limit=BARE_WINDOW,
        )["Items"]
        if not window:
            with lock:
                log["empty"] += 1
            return
        random.shuffle(window)
        for task in window:
            try:
                client.update_item(
                    TableName=table,
                    Key={"PK": {"S": "job"}, "SK": task["SK"]},
                    UpdateExpression="SET #s = :held, assignee = :me, claim_seq = :next REMOVE QPK, QSK",
                    ConditionExpression="claim_seq = :seq AND #s = :open",
                    ExpressionAttributeNames={"#s": "status"},
                    ExpressionAttributeValues={
                        ":held": {"S": "in_progress"},
                        ":open": {"S": "available"},
                        ":me": {"S": who},
                        ":seq": task["claim_seq"],
                        ":next": {"N": str(int(task["claim_seq"]["N"]) + 1)},
                    },
                )
                break
            except ClientError as exc:
                if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                    raise
        else:
            continue  # every task of the window was taken meanwhile: read the queue again
        t1 = time.perf_counter()
        file_id = task["file"]["S"]
        client.transact_write_items(
            TransactItems=[
                {
                    "Put": {
                        "TableName": table,
                        "Item": {
                            "PK": {"S": f"file#{file_id}"},
                            "SK": {"S": "v1"},
                            "author": {"S": who},
                            "instances": {"S": json.dumps(BOX)},
                        },
                        "ConditionExpression": "attribute_not_exists(PK)",
                    }
                },
                {
                    "Update": {
                        "TableName": table,
                        "Key": {"PK": {"S": f"file#{file_id}"}, "SK": {"S": "head"}},
                        "UpdateExpression": "SET version = :one",
                        "ConditionExpression": "version = :zero",
                        "ExpressionAttributeValues": {":one": {"N": "1"}, ":zero": {"N": "0"}},
                    }
                },
                {
                    "Update": {
                        "TableName": table,
                        "Key": {"PK": {"S": "job"}, "SK": task["SK"]},
                        "UpdateExpression": "SET #s = :done",
                        "ConditionExpression": "assignee = :me",
                        "ExpressionAttributeNames": {"#s": "status"},
                        "ExpressionAttributeValues": {":done": {"S": "submitted"}, ":me": {"S": who}},
                    }
                },
            ]
        )
        with lock:
            log["next"].append(t1 - t0)
            log["submit"].append(time.perf_counter() - t1)
            log["handed"][task["SK"]["S"]].add(who)
            log["done"] += 1
            log["last_done"] = time.perf_counter()


def _bare_round(platform) -> dict:  # noqa: ANN001
    """``SECONDS`` of the annotators doing only a task's necessary work on ``platform``'s emulator."""
    import boto3
    from botocore.config import Config

    table = _bare_table(platform)
    clients = [
        boto3.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1").client(
            "dynamodb", endpoint_url=platform.emulator_url, config=Config(retries={"mode": "standard"})
        )
        for _ in range(ANNOTATORS)
    ]
    return _measured(
        platform,
        [
            lambda deadline, log, lock, c=client, who=f"bare{n}": _bare_annotate(c, table, who, deadline, log, lock)
            for n, client in enumerate(clients)
        ],
    )


def _rows(name: str, log: dict, submitted: int | None) -> list[tuple[str, str, str]]:
    done = max(log["done"], 1)
    doubles = sum(1 for assignees in log["handed"].values() if len(assignees) > 1)
    spent = log["cpu"]
    return [
        (
            f"{name}: {ANNOTATORS} annotators, next -> "
            + (f"{THINK:g} s -> " if THINK else "")
            + f"submit for {SECONDS:.0f} s",
            f"{log['done'] / log['elapsed']:.1f} tasks/s",
            f"{log['done']} submitted"
            + (f" ({submitted} per the job's stats so far)" if submitted is not None else "")
            + f"; load average {log['load'][0]:.1f} -> {log['load'][1]:.1f}",
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
    if ALONE:
        return _alone(checkouts)
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
        bare = _bare_round(platforms["this"])
        rows += _rows("the necessary work alone, same emulator", bare, None)
    return rows


def _alone(checkouts: dict[str, Path]) -> list[tuple[str, str, str]]:
    """Each round of each checkout on a platform of its own, started, seeded and launched for it and stopped after
    (the order flipped every round); the necessary work alone after this checkout's last round."""
    rows: list[tuple[str, str, str]] = []
    order = list(checkouts)
    for n in range(ROUNDS):
        for name in order if n % 2 == 0 else order[::-1]:
            with tempfile.TemporaryDirectory() as tmp:
                platform = start_platform(
                    Path(tmp) / name, free_port(), free_port(), snapshot_seconds=24 * 3600, repo=checkouts[name]
                )
                try:
                    people, job = _prepared(platform)
                    while not _opened(job):
                        time.sleep(1)
                    log = _round(platform, people, job)
                    submitted = job.stats()["tasks"]["annotate"].get("submitted", 0)
                    rows += _rows(f"round {n + 1}, {name}, alone", log, submitted)
                    if name == "this" and n == ROUNDS - 1:
                        rows += _rows("the necessary work alone, same emulator", _bare_round(platform), None)
                finally:
                    platform.stop()
    return rows
