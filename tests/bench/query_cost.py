"""What the query path costs in AWS calls: counted on the emulator, priced in ``docs/cost.md``.

The synthesized template runs on moto in this process (as the service tests run it: the stream mapping feeds
the index updater, the API is served by uvicorn in a thread). Every AWS call any of them makes is counted by
botocore hooks installed before any client exists: S3 requests by price class, DynamoDB requests with the read
and write units DynamoDB would charge (worked out from the items' sizes by DynamoDB's rules: reads per 4 KB, half
for eventually consistent ones, writes per 1 KB, one more write per GSI the item is in, transactions twice),
Lambda invocations. Measured:

- an ingest of ``INGEST`` files through the service's ingest code (media stored, files recorded; not the
  trigger and state machine), with the index updater's share (the upkeep per write) apart;
- on ``ANNOLAKE_BENCH_COST_FILES`` (10,000) files written straight into the table (no media, the stream held
  so the index is built once, counted): count + first page, label chart and freeze of a slice on the index
  (cold: the Parquet fetched; warm: cached by the container) and on the table engine (``QUERY_ENGINE=table``);
- a scheduled compaction run folding a few delta files of that dataset.

Figures are per operation; a projection (``attributes_to_get``) is counted at the returned size, which
under-counts a query that DynamoDB charges at the full item size (only the compaction's manifest listing does).
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import secrets
import shutil
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.handlers import BUILTIN_HANDLERS

from tests.bench.in_process import restored_env

FILES = int(os.environ.get("ANNOLAKE_BENCH_COST_FILES", "10000"))
INGEST = 100
QUERY = "labels.car >= 2 and labels.pedestrian >= 1"
S3_PUT_CLASS = ("Put", "Copy", "Post", "List", "CreateMultipart", "UploadPart", "CompleteMultipart")
S3_FREE = ("DeleteObject", "DeleteObjects", "AbortMultipartUpload")


# --- DynamoDB capacity from item sizes ------------------------------------------------------------


def _value_size(value: dict[str, Any]) -> int:
    (kind, inner), *_ = value.items()
    if kind == "S":
        return len(inner.encode())
    if kind == "N":
        return len(inner.lstrip("-").replace(".", "")) // 2 + 1
    if kind == "B":
        return len(inner) if isinstance(inner, bytes) else len(inner) * 3 // 4
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "L":
        return 3 + sum(1 + _value_size(v) for v in inner)
    if kind == "M":
        return 3 + sum(len(k.encode()) + 1 + _value_size(v) for k, v in inner.items())
    return sum(len(str(v)) for v in inner)  # sets


def item_size(item: dict[str, Any]) -> int:
    """An item's size by DynamoDB's rules (attribute names plus values), from its low-level JSON."""
    return sum(len(name.encode()) + _value_size(value) for name, value in item.items())


def _gsis(item: dict[str, Any]) -> int:
    return sum(1 for key in ("GSI1PK", "GSI2PK") if key in item)


def _stored_item(table: str, key: dict[str, Any]) -> dict[str, Any] | None:
    """The item as stored now (moto's backend in this process), for the size an update or delete is charged."""
    from moto.dynamodb.models import dynamodb_backends

    for account in list(dynamodb_backends.keys()):
        backend = dynamodb_backends[account]["us-east-1"]
        with contextlib.suppress(Exception):
            found = backend.get_item(table, key)
            if found is not None:
                return found.to_json()["Attributes"]
    return None


def _write_units(table: str, item: dict[str, Any] | None) -> float:
    if item is None:
        return 1.0
    return math.ceil(max(item_size(item), 1) / 1024) * (1 + _gsis(item))


def _scanned_bytes(params: dict[str, Any], parsed: dict[str, Any]) -> int:
    """What a query is charged for: every item it read (before its filter, at full size), not what it returned.

    Worked out on moto's copy of the partition for key queries on the table that filter or project; other
    queries (GSI, no filter) are charged at the size of what they returned.
    """
    returned = sum(item_size(i) for i in parsed.get("Items", []))
    narrowed = any(k in params for k in ("FilterExpression", "ProjectionExpression", "AttributesToGet", "Select"))
    if not narrowed or "IndexName" in params or "KeyConditionExpression" not in params:
        return returned
    names = {v: k for k, v in params.get("ExpressionAttributeNames", {}).items()}
    values = params.get("ExpressionAttributeValues", {})
    condition = params["KeyConditionExpression"]
    hash_value = re.search(rf"{re.escape(names.get('PK', 'PK'))} = (:\w+)", condition)
    prefix = re.search(rf"begins_with \({re.escape(names.get('SK', 'SK'))}, (:\w+)\)", condition)
    if hash_value is None:
        return returned
    from moto.dynamodb.models import dynamodb_backends
    from moto.dynamodb.models.dynamo_type import DynamoType

    pk = DynamoType(values[hash_value.group(1)])
    for account in list(dynamodb_backends.keys()):
        table = dynamodb_backends[account]["us-east-1"].tables.get(params["TableName"])
        if table is None or pk not in table.items:
            continue
        partition = sorted(
            table.items[pk].items(), key=lambda kv: kv[0].value, reverse=not params.get("ScanIndexForward", True)
        )
        start = params.get("ExclusiveStartKey", {}).get("SK", {}).get("S")
        wanted = values[prefix.group(1)]["S"] if prefix else ""
        read = [
            item
            for sort_key, item in partition
            if sort_key.value.startswith(wanted)
            and (
                start is None
                or (sort_key.value > start if params.get("ScanIndexForward", True) else sort_key.value < start)
            )
        ][: parsed.get("ScannedCount", 0)]
        return sum(item_size(item.to_json()["Attributes"]) for item in read)
    return returned


def read_units(operation: str, params: dict[str, Any], parsed: dict[str, Any]) -> float:
    factor = 1.0 if params.get("ConsistentRead") else 0.5
    if operation == "GetItem":
        return math.ceil(max(item_size(parsed.get("Item", {})), 1) / 4096) * factor
    if operation in ("Query", "Scan"):
        return math.ceil(max(_scanned_bytes(params, parsed), 1) / 4096) * factor
    if operation == "BatchGetItem":
        units = 0.0
        for table, items in parsed.get("Responses", {}).items():
            strong = params["RequestItems"].get(table, {}).get("ConsistentRead")
            units += sum(math.ceil(max(item_size(i), 1) / 4096) * (1.0 if strong else 0.5) for i in items)
        return units
    if operation == "TransactGetItems":
        return sum(2 * math.ceil(max(item_size(r.get("Item", {})), 1) / 4096) for r in parsed.get("Responses", []))
    return 0.0


def write_units(operation: str, params: dict[str, Any]) -> float:
    if operation == "PutItem":
        return _write_units(params["TableName"], params["Item"])
    if operation in ("UpdateItem", "DeleteItem"):
        return _write_units(params["TableName"], _stored_item(params["TableName"], params["Key"]))
    if operation == "BatchWriteItem":
        return sum(
            _write_units(table, request.get("PutRequest", {}).get("Item"))
            for table, requests in params["RequestItems"].items()
            for request in requests
        )
    if operation == "TransactWriteItems":
        units = 0.0
        for entry in params["TransactItems"]:
            (kind, body), *_ = entry.items()
            item = body.get("Item") if kind == "Put" else _stored_item(body["TableName"], body["Key"])
            units += 2 * (_write_units(body["TableName"], item) if kind != "ConditionCheck" else 1)
        return units
    return 0.0


# --- the call log ------------------------------------------------------------------------------------


@dataclass
class Tally:
    calls: Counter[str] = field(default_factory=Counter)  # "service:Operation" -> calls
    rcu: float = 0.0
    wcu: float = 0.0
    seconds: float = 0.0
    invocations: Counter[str] = field(default_factory=Counter)

    @property
    def s3_put_class(self) -> int:
        return sum(n for k, n in self.calls.items() if k.startswith("s3:") and k[3:].startswith(S3_PUT_CLASS))

    @property
    def s3_get_class(self) -> int:
        return sum(
            n
            for k, n in self.calls.items()
            if k.startswith("s3:") and not k[3:].startswith(S3_PUT_CLASS) and k[3:] not in S3_FREE
        )

    def scaled(self, by: float) -> dict[str, float]:
        return {
            "s3_put": self.s3_put_class * by,
            "s3_get": self.s3_get_class * by,
            "rcu": self.rcu * by,
            "wcu": self.wcu * by,
            "lambda": sum(self.invocations.values()) * by,
        }

    def describe(self) -> str:
        dynamo = sum(n for k, n in self.calls.items() if k.startswith("dynamodb:"))
        return (
            f"S3 {self.s3_put_class} PUT/LIST + {self.s3_get_class} GET; DynamoDB {dynamo} requests, "
            f"{self.rcu:g} RCU, {self.wcu:g} WCU; {sum(self.invocations.values())} Lambda invocations"
        )


class CallLog:
    """Counts the AWS calls of every botocore session made after ``install``, into the open tallies."""

    def __init__(self) -> None:
        self._open: list[Tally] = []
        self._lock = threading.Lock()
        self.by_principal: dict[str, Tally] = {}

    def install(self) -> None:
        BUILTIN_HANDLERS.append(("before-parameter-build", self._params))
        BUILTIN_HANDLERS.append(("after-call", self._after))
        boto3.DEFAULT_SESSION = None

    def _params(self, params: dict[str, Any], model: Any, context: Any = None, **_: Any) -> None:
        if context is not None:
            context["_cost_params"] = dict(params)

    def _after(self, http_response: Any, parsed: dict[str, Any], model: Any, context: Any = None, **_: Any) -> None:
        from infra.local.iam_audit.recorder import current_principal

        service, operation = model.service_model.signing_name, model.name
        params = (context or {}).get("_cost_params", {})
        rcu = wcu = 0.0
        if service == "dynamodb":
            rcu, wcu = read_units(operation, params, parsed), write_units(operation, params)
        principal = (current_principal() or "").rsplit("/", 1)[-1]
        with self._lock:
            tallies = [*self._open]
            if principal and tallies:
                tallies.append(self.by_principal.setdefault(principal, Tally()))
            for tally in tallies:
                tally.calls[f"{service}:{operation}"] += 1
                tally.rcu += rcu
                tally.wcu += wcu

    @contextlib.contextmanager
    def measure(self) -> Iterator[Tally]:
        from infra.local import lambda_runtime

        tally = Tally()
        before = Counter(lambda_runtime.invocations)
        with self._lock:
            self._open.append(tally)
            self.by_principal.clear()
        started = time.perf_counter()
        try:
            yield tally
        finally:
            tally.seconds = time.perf_counter() - started
            with self._lock:
                self._open.remove(tally)
            tally.invocations = Counter(lambda_runtime.invocations) - before


# --- the platform and the data -----------------------------------------------------------------------


def _seed_table_only(project_id: str, dataset: str, count: int, *, straight: bool = False) -> str:
    """``count`` labelled files recorded by the service's ingest code, without media (keys point nowhere).

    ``straight``: the batches of items the ingest code writes go straight into the emulator's table
    (``_batches_straight_into_moto``), not through the DynamoDB API: the same items, without a request per 25."""
    from annolake_service.services import ingest, projects

    from tests.support import slice_data

    target = projects.ensure_dataset(project_id, dataset)
    writes = _batches_straight_into_moto() if straight else contextlib.nullcontext()
    with writes:
        for start in range(0, count, 500):
            _seed_batch(project_id, target.dataset_id, start, min(count, start + 500), slice_data, ingest)
    return target.dataset_id


def _seed_batch(project_id: str, dataset_id: str, start: int, stop: int, slice_data: Any, ingest: Any) -> None:
    rows = []
    for i in range(start, stop):
        file_id = secrets.token_hex(16)
        facts = {
            "file_id": file_id,
            "mime_type": "image/jpeg",
            "width": 64,
            "height": 48,
            "size_bytes": 2000,
            "content_hash": secrets.token_hex(32),
            "original_key": f"projects/{project_id}/files/{file_id}/original.jpg",
            "thumbnail_key": f"projects/{project_id}/files/{file_id}/thumb.jpg",
        }
        instances = slice_data.boxes(i, 64, 48)
        rows.append({"name": f"img_{i:06d}.jpg", "facts": facts, "instance_list": instances, "metadata": {"i": i}})
    ingest.record_new_files(project_id, dataset_id, rows, author="seed")


@contextlib.contextmanager
def _batches_straight_into_moto() -> Iterator[None]:
    """PynamoDB's batch writes (puts only) put their items straight into moto's table in this process
    (``dynamodb_compact.put_straight``): no stream records, so an index is built afterwards."""
    from pynamodb.connection.table import TableConnection

    from infra.local.moto_patches.dynamodb_compact import put_straight
    from infra.local.state.moto_backends import moto_table

    through_api = TableConnection.batch_write_item

    def straight(self: TableConnection, put_items: Any = None, delete_items: Any = None, **kwargs: Any) -> Any:
        table = moto_table(self.connection.region, self.table_name)
        if delete_items or table is None:
            return through_api(self, put_items=put_items, delete_items=delete_items, **kwargs)
        put_straight(table, put_items or [])
        return None

    TableConnection.batch_write_item = straight  # type: ignore[method-assign]
    try:
        yield
    finally:
        TableConnection.batch_write_item = through_api  # type: ignore[method-assign]


@contextlib.contextmanager
def _stream_held() -> Iterator[None]:
    """Stream batches are dropped meanwhile (the index of the bulk-written dataset is then built once)."""
    from infra.local import stream_sources

    deliver = stream_sources._Delivery._deliver
    stream_sources._Delivery._deliver = lambda *_, **__: None  # type: ignore[method-assign]
    try:
        yield
    finally:
        for delivery in list(stream_sources._deliveries.values()):  # the records written meanwhile, not taken yet
            with delivery.ready:
                delivery.pending.clear()
        stream_sources._Delivery._deliver = deliver  # type: ignore[method-assign]


def _engine(name: str) -> None:
    from tests.support.auth import reset_service_caches

    os.environ["QUERY_ENGINE"] = name
    reset_service_caches()


def _forget_cached_index() -> None:
    from annolake_service.services.query_index import CACHE_DIR, forget_opened

    shutil.rmtree(CACHE_DIR, ignore_errors=True)
    forget_opened()


def _wait(condition: Any, what: str, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout} s")
        time.sleep(0.3)


def measure_all() -> dict[str, Any]:
    """Every operation's tally, plus sizes (bytes per file in the table and in the index)."""
    with restored_env(["INDEX_COMPACT_AFTER", "QUERY_ENGINE"]):
        return _measure_all()


def _measure_all() -> dict[str, Any]:
    log = CallLog()
    log.install()
    from tests.conftest import LocalStack, moto_wsgi_app, serving
    from tests.support.model_platform import GREEN, RED, model_platform, unique_project

    session = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1")
    results: dict[str, Any] = {}
    with serving(moto_wsgi_app()) as endpoint:
        stack = LocalStack(endpoint, session)
        stack.provision()
        os.environ["INDEX_COMPACT_AFTER"] = "1000"  # compaction only when measured
        with model_platform(stack, endpoint, unique_project("cost")) as platform:
            from annolake_service.adapters import storage
            from annolake_service.adapters.dynamo import query_indexes
            from annolake_service.services import query_index

            project = platform.project()
            client = project.client

            def engine_of(dataset: str) -> dict[str, Any]:
                return client.get(f"{project._path}/datasets/{dataset}/query", q=QUERY, limit=1)

            # an ingest through the service's code, with the updater's upkeep
            colours = [RED if i % 2 else GREEN for i in range(INGEST)]
            platform.seed("warmup", colours[:4], start=10_000)  # first index build of a dataset, not counted
            _wait(lambda: engine_of("warmup")["engine"]["name"] == "index", "the warm-up index")
            with log.measure() as ingest:
                platform.seed("warmup", colours, start=0)
                _wait(lambda: _indexed(client, project, INGEST + 4), "the index taking the new files")
            results["ingest"] = ingest
            results["upkeep"] = next(
                (t for name, t in log.by_principal.items() if "queryindexupdater" in name.lower()), Tally()
            )

            # the bulk dataset, straight into the table
            with _stream_held():
                dataset_id = _seed_table_only(platform.project_id, "bulk", FILES)
            with log.measure() as build:
                query_index.build(platform.project_id, dataset_id)
            results["build"] = build
            path = f"{project._path}/datasets/bulk"
            operations = {
                "count + first page": lambda: client.get(f"{path}/query", q=QUERY, limit=100),
                "label chart": lambda: client.get(f"{path}/label-counts"),
                "freeze": lambda: client.post(f"{path}/slices", {"query": QUERY}),
            }
            for engine in ("index", "table"):
                _engine("table" if engine == "table" else "auto")
                for name, operation in operations.items():
                    for temperature in ("cold", "warm") if engine == "index" else ("",):
                        if temperature == "cold":
                            _forget_cached_index()
                        operation()  # the API's own caches (key, schema) are warm, as in a busy container
                        if temperature == "cold":
                            _forget_cached_index()
                        with log.measure() as tally:
                            answer = operation()
                        if engine == "index":
                            assert answer.get("engine", {"name": "index"})["name"] == "index", answer
                        results[f"{engine} {name} {temperature}".strip()] = tally
            _engine("auto")

            # deltas, then a scheduled compaction run
            manifest = query_indexes.get_manifest(platform.project_id, dataset_id)
            assert manifest is not None
            base_bytes = _object_size(storage, manifest.base_key)
            platform.seed("bulk", [RED, GREEN, RED], start=FILES + 1)
            _wait(lambda: engine_of("bulk")["engine"]["deltas"] >= 1, "deltas of the bulk dataset")
            with log.measure() as compaction:
                compacted = query_index.compact_all()
            assert (platform.project_id, dataset_id) in compacted, compacted
            results["compaction"] = compaction
            results["index bytes per file"] = base_bytes / FILES
            results["table bytes per file"] = _table_bytes(platform.project_id, dataset_id) / FILES
    return results


def _indexed(client: Any, project: Any, count: int) -> bool:
    answer = client.get(f"{project._path}/datasets/warmup/query", q="labels.car >= 0", limit=1)
    return answer["engine"]["name"] == "index" and answer["count"] == count


def _object_size(storage: Any, key: str) -> int:
    from annolake_service.shared.settings import get_settings

    client = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"])
    return int(client.head_object(Bucket=get_settings().media_bucket, Key=key)["ContentLength"])


def _table_bytes(project_id: str, dataset_id: str) -> int:
    """Bytes DynamoDB stores for the dataset's files: file items, memberships (with their GSI copy), versions."""
    from moto.dynamodb.models import dynamodb_backends

    total = 0
    for account in list(dynamodb_backends.keys()):
        for table in dynamodb_backends[account]["us-east-1"].tables.values():
            for item in table.all_items():
                pk = item.hash_key.value
                if pk.startswith(f"P#{project_id}#F#") or pk.startswith(f"P#{project_id}#D#{dataset_id}#"):
                    attributes = item.to_json()["Attributes"]
                    total += (item_size(attributes) + 100) * (1 + _gsis(attributes))  # 100 B overhead per item
    return total


# us-east-1 on-demand list prices in USD (DynamoDB on-demand as cut on 2024-11-01), as used in docs/cost.md.
PRICES = {
    "rcu": 0.125 / 1e6,  # DynamoDB read request unit
    "wcu": 0.625 / 1e6,  # DynamoDB write request unit
    "s3_put": 0.005 / 1000,  # S3 Standard PUT, COPY, POST, LIST
    "s3_get": 0.0004 / 1000,  # S3 Standard GET and all other requests
    "lambda": 0.20 / 1e6,  # Lambda request
}
LAMBDA_GB_SECOND = 0.0000133334  # arm64
API_REQUEST = 1.00 / 1e6  # API Gateway HTTP API, first 300M a month
DYNAMO_GB_MONTH = 0.25
S3_GB_MONTH = 0.023


def request_dollars(tally: Tally, by: float = 1.0, *, api_calls: int = 0) -> float:
    """The requests' price (DynamoDB, S3, Lambda; ``api_calls`` HTTP API requests, each one Lambda request)."""
    counted = tally.scaled(by)
    return sum(counted[k] * PRICES[k] for k in PRICES) + api_calls * by * (API_REQUEST + PRICES["lambda"])


def run() -> list[tuple[str, str, str]]:
    results = measure_all()
    rows: list[tuple[str, str, str]] = []
    for name, value in results.items():
        if not isinstance(value, Tally):
            rows.append((name, f"{value:.0f} B", ""))
            continue
        if name in ("ingest", "upkeep"):
            dollars = request_dollars(value, 1e6 / INGEST)
            rows.append((f"{name} of {INGEST} files", value.describe(), f"${dollars:,.2f} per million files"))
        elif name in ("build", "compaction"):
            compute = value.seconds * LAMBDA_GB_SECOND  # 1 GB function; local wall time (an upper bound)
            dollars = request_dollars(value) + compute
            rows.append((f"{name}, {FILES:,} files", value.describe(), f"${dollars:.6f} each (compute ${compute:.6f})"))
        else:
            compute = value.seconds * LAMBDA_GB_SECOND
            dollars = request_dollars(value, 1000, api_calls=1) + compute * 1000
            rows.append(
                (
                    f"{name}, {FILES:,} files",
                    value.describe(),
                    f"${dollars:.4f} per 1,000 (compute ${compute * 1000:.4f})",
                )
            )
    index_b, table_b = results["index bytes per file"], results["table bytes per file"]
    rows.append(
        (
            "stored per million files a month",
            f"table ${table_b * 1e6 / 1e9 * DYNAMO_GB_MONTH:.2f}, index ${index_b * 1e6 / 1e9 * S3_GB_MONTH:.4f}",
            "DynamoDB at $0.25/GB-month, S3 Standard at $0.023/GB-month; media not included",
        )
    )
    return rows


if __name__ == "__main__":
    for row in run():
        print(*row, sep="  |  ")
