"""What one AWS call costs the emulator: the CPU of the emulator's process per request, over HTTP as the API
workers, the SDK and aws-cli call it.

The emulator (``infra.local.emulator.Emulator``, as ``make up`` starts it) runs in a process of its own; this
process makes ``REQUESTS`` calls of each kind with one boto3 client (its connection pool, as an API worker's):
``GetItem`` of a 10-attribute item, a conditional ``UpdateItem``, a ``Query`` page of 20 items of a 600-item
partition through a global index with a ``Limit`` (the workflow's queue, items shaped as its tasks), the same
page with a projection, an S3 ``GetObject`` of 64 KB, a ``PutObject`` and a ``CopyObject`` of 227 KB (a
640x480 photo; ingest copies each dropped one), the bodies kept on disk as ``make up`` keeps them (a blob store
in a scratch folder). Reported per call: the emulator process's CPU (user + system), this client's CPU and the
wall time.

With ``ANNOLAKE_BENCH_BASELINE`` (a checkout of other code) the same calls run against that checkout's emulator
in the same run, one after the other, and each row gives both and their ratio.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

from tests.support.processes import cpu_seconds

REPO = Path(__file__).resolve().parents[2]
_Measured = TypeVar("_Measured")
REQUESTS = int(os.environ.get("ANNOLAKE_BENCH_EMULATOR_REQUESTS", "2000"))
BASELINE = os.environ.get("ANNOLAKE_BENCH_BASELINE")
_SERVE = """
import pathlib, sys, time
from infra.local.emulator import Emulator
from infra.local.state.blobs import BlobStore
blobs = BlobStore(pathlib.Path(sys.argv[2]) / "blobs")
emulator = Emulator(port=int(sys.argv[1]), blob_store=blobs)
emulator.start()
print("ready", flush=True)
while True:
    time.sleep(60)
"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


#: the rest of a workflow task's item (as the platform's task items carry them)
TASK_ATTRIBUTES = {
    **{name: {"S": f"{name} value"} for name in ("project_id", "job_id", "task_id", "file_id", "task_kind")},
    **{name: {"N": "0"} for name in ("slot", "round", "claim_seq")},
    "status": {"S": "available"},
    "created_at": {"S": "2026-12-06T08:00:00.000000+0000"},
    "excluded": {"S": "[]"},
    "authors": {"S": "[]"},
    "distinct_annotators": {"BOOL": False},
    "task_token": {"S": "t" * 600},
}


def _calls(endpoint: str) -> dict[str, Callable[[], object]]:
    import boto3

    options = {
        "endpoint_url": endpoint,
        "region_name": "us-east-1",
        "aws_access_key_id": "test",
        "aws_secret_access_key": "test",
    }
    dynamodb, s3 = boto3.client("dynamodb", **options), boto3.client("s3", **options)
    dynamodb.create_table(
        TableName="bench",
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": name, "AttributeType": "S"} for name in ("PK", "SK", "Q", "QS")],
        KeySchema=[{"AttributeName": "PK", "KeyType": "HASH"}, {"AttributeName": "SK", "KeyType": "RANGE"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "queue",
                "KeySchema": [{"AttributeName": "Q", "KeyType": "HASH"}, {"AttributeName": "QS", "KeyType": "RANGE"}],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
    )
    item = {"PK": {"S": "job#1"}, "SK": {"S": "item"}, "seq": {"N": "0"}}
    item |= {f"a{i}": {"S": f"value {i} " * 3} for i in range(7)}
    dynamodb.put_item(TableName="bench", Item=item)
    for start in range(0, 600, 25):
        tasks = [
            {"PK": {"S": "job#1"}, "SK": {"S": f"task#{n:04d}"}, "Q": {"S": "q"}, "QS": {"S": f"{n % 60:02d}#{n}"}}
            | TASK_ATTRIBUTES
            for n in range(start, start + 25)
        ]
        dynamodb.batch_write_item(RequestItems={"bench": [{"PutRequest": {"Item": t}} for t in tasks]})
    s3.create_bucket(Bucket="bench")
    s3.put_object(Bucket="bench", Key="object", Body=os.urandom(64 * 1024))
    photo = os.urandom(227 * 1024)  # a 640x480 photo's size
    s3.put_object(Bucket="bench", Key="photo", Body=photo)
    sequence = iter(range(10**9))
    copies, bodies = iter(range(10**9)), iter(range(10**9))

    def update() -> None:
        seq = next(sequence)
        dynamodb.update_item(
            TableName="bench",
            Key={"PK": {"S": "job#1"}, "SK": {"S": "item"}},
            UpdateExpression="SET seq = :next, a0 = :v",
            ConditionExpression="seq = :seq",
            ExpressionAttributeValues={":seq": {"N": str(seq)}, ":next": {"N": str(seq + 1)}, ":v": {"S": "x"}},
        )

    return {
        "GetItem": lambda: dynamodb.get_item(TableName="bench", Key={"PK": {"S": "job#1"}, "SK": {"S": "item"}}),
        "UpdateItem (conditional)": update,
        "Query, index page of 20 (600 in the partition)": lambda: dynamodb.query(
            TableName="bench",
            IndexName="queue",
            KeyConditionExpression="Q = :q AND QS < :upto",
            ExpressionAttributeValues={":q": {"S": "q"}, ":upto": {"S": "99"}},
            Limit=20,
        ),
        "Query, the same page, three attributes projected": lambda: dynamodb.query(
            TableName="bench",
            IndexName="queue",
            KeyConditionExpression="Q = :q AND QS < :upto",
            ExpressionAttributeValues={":q": {"S": "q"}, ":upto": {"S": "99"}},
            ProjectionExpression="PK, SK, QS",
            Limit=20,
        ),
        "S3 GetObject, 64 KB": lambda: s3.get_object(Bucket="bench", Key="object")["Body"].read(),
        "S3 PutObject, 227 KB (a new body each time)": lambda: s3.put_object(
            Bucket="bench", Key="put", Body=photo[:-8] + next(bodies).to_bytes(8, "big")
        ),
        "S3 CopyObject, 227 KB (a new key each time)": lambda: s3.copy_object(
            Bucket="bench", Key=f"copy/{next(copies)}", CopySource={"Bucket": "bench", "Key": "photo"}
        ),
    }


@contextlib.contextmanager
def emulator_of(repo: Path) -> Iterator[tuple[str, int]]:
    """``repo``'s emulator in a process of its own: (its endpoint URL, its process id)."""
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(repo)}
    with tempfile.TemporaryDirectory(prefix="emulator-requests-") as scratch:
        server = subprocess.Popen(  # noqa: S603 - this interpreter, a fixed script
            [sys.executable, "-c", _SERVE, str(port), scratch], cwd=repo, env=env, stdout=subprocess.PIPE, text=True
        )
        try:
            assert server.stdout is not None  # noqa: S101
            server.stdout.readline()
            yield f"http://127.0.0.1:{port}", server.pid
        finally:
            server.kill()
            server.wait()


def per_checkout(measure: Callable[[Path], _Measured]) -> dict[str, _Measured]:
    """``measure`` of this checkout, and of ``ANNOLAKE_BENCH_BASELINE``'s when it is set."""
    checkouts = {"this": REPO, **({"baseline": Path(BASELINE)} if BASELINE else {})}
    return {name: measure(repo) for name, repo in checkouts.items()}


def _measure(repo: Path) -> dict[str, tuple[float, float, float]]:
    """{call: (emulator CPU ms, client CPU ms, wall ms) per call}."""
    with emulator_of(repo) as (endpoint, pid):
        calls = _calls(endpoint)
        results: dict[str, tuple[float, float, float]] = {}
        for name, call in calls.items():
            for _ in range(50):  # warm: caches, the connection pool
                call()
            emulator, client, wall = cpu_seconds(pid), time.process_time(), time.perf_counter()
            for _ in range(REQUESTS):
                call()
            results[name] = (
                (cpu_seconds(pid) - emulator) * 1000 / REQUESTS,
                (time.process_time() - client) * 1000 / REQUESTS,
                (time.perf_counter() - wall) * 1000 / REQUESTS,
            )
        return results


def run() -> list[tuple[str, str, str]]:
    measured = per_checkout(_measure)
    rows = []
    for call, (emulator, client, wall) in measured["this"].items():
        note = f"client CPU {client:.2f} ms, wall {wall:.2f} ms a call ({REQUESTS} calls, one boto3 client)"
        if BASELINE:
            old = measured["baseline"][call]
            note += f"; baseline: emulator {old[0]:.2f} ms ({emulator / old[0]:.2f}x), client {old[1]:.2f} ms, "
            note += f"wall {old[2]:.2f} ms ({wall / old[2]:.2f}x)"
        rows.append((f"emulator CPU per call over HTTP: {call}", f"{emulator:.2f} ms", note))
    return rows
