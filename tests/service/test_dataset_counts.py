"""A dataset's file count (``GET /datasets/{name}``'s ``file_count``) is kept by counters moved in the same
transaction as each membership write: exact after every write path, and on the repeats of at-least-once
writers (a redelivered S3 event, a retried step), and read without reading the dataset's memberships.

Service code over a moto of this module's own that applies DynamoDB's operations one at a time, as the local
emulator does (``serialize_dynamodb_operations``), so concurrent conditional writes behave as DynamoDB's.
"""

from __future__ import annotations

import base64
import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from starlette.testclient import TestClient

from infra.local.moto_patches import serialize_dynamodb_operations
from tests.support import slice_data
from tests.support.auth import create_single_table, point_service_at, reset_service_caches

PROJECT = "counted"
_images = iter(range(70_000, 80_000))  # each test its own images: the same bytes in a project are one file


@dataclass
class World:
    client: TestClient
    headers: dict[str, str]
    s3: Any
    dynamodb: Any
    drop: str
    table: str


@pytest.fixture(scope="module")
def world(serve_wsgi: Callable[..., Any], new_moto_app: Callable[[], Any]) -> Iterator[World]:
    moto = new_moto_app()
    serialize_dynamodb_operations()
    with serve_wsgi(moto) as endpoint, pytest.MonkeyPatch.context() as env:
        session = boto3.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1")
        suffix = uuid.uuid4().hex[:8]
        table, media, drop = f"annolake-count-{suffix}", f"media-count-{suffix}", f"drop-count-{suffix}"
        dynamodb = session.client("dynamodb", endpoint_url=endpoint)
        create_single_table(dynamodb, table)
        s3 = session.client("s3", endpoint_url=endpoint)
        s3.create_bucket(Bucket=media)
        s3.create_bucket(Bucket=drop)
        point_service_at(
            env, endpoint, {"TABLE_NAME": table, "MEDIA_BUCKET": media, "DROP_BUCKET": drop}, unset=["EVENT_BUS_NAME"]
        )
        reset_service_caches()
        from annolake_service.api.app import create_app
        from annolake_service.domain.roles import Role
        from annolake_service.services import projects

        projects.create_project(PROJECT, "Counted", creator="user:owner")
        key = projects.issue_api_key(PROJECT, role=Role.ADMIN, name="admin")
        token = base64.b64encode(f"{key.client_id}:{key.client_secret}".encode()).decode()
        try:
            yield World(TestClient(create_app()), {"Authorization": f"Basic {token}"}, s3, dynamodb, drop, table)
        finally:
            reset_service_caches()


def _dataset(name: str) -> Any:
    from annolake_service.services import projects

    return projects.ensure_dataset(PROJECT, f"{name}-{uuid.uuid4().hex[:6]}")


def _file_count(world: World, dataset: str) -> int:
    answer = world.client.get(f"/api/v1/projects/{PROJECT}/datasets/{dataset}", headers=world.headers)
    assert answer.status_code == 200, answer.text
    return answer.json()["file_count"]


def _listed(world: World, dataset: str) -> set[str]:
    """The dataset's files as its listing pages them (what the count must agree with)."""
    ids: set[str] = set()
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 500, **({"cursor": cursor} if cursor else {})}
        page = world.client.get(
            f"/api/v1/projects/{PROJECT}/datasets/{dataset}/files", params=params, headers=world.headers
        )
        assert page.status_code == 200, page.text
        ids |= {f["file_id"] for f in page.json()["files"]}
        if not (cursor := page.json()["cursor"]):
            return ids


def _counted_the_old_way(dataset_id: str) -> int:
    """Every membership of the dataset read and counted (what the count was before the counters)."""
    from annolake_service.adapters.dynamo import keys
    from annolake_service.adapters.dynamo.items import DatasetMemberItem

    return sum(
        DatasetMemberItem.count(
            keys.shard_pk(PROJECT, dataset_id, shard),
            filter_condition=DatasetMemberItem.status != "deleted",
            consistent_read=True,
        )
        for shard in range(keys.DATASET_SHARDS)
    )


def _agrees(world: World, dataset: Any, expected: int) -> None:
    assert _file_count(world, dataset.name) == expected
    assert len(_listed(world, dataset.name)) == expected == _counted_the_old_way(dataset.dataset_id)


def _drop_and_ingest(world: World, dataset: str, name: str, body: bytes) -> tuple[str, dict[str, Any]]:
    """Put an object in the drop bucket and run the ingest's two steps on it (what the state machine runs);
    returns the key and the facts, to run the register step again with."""
    from annolake_service.services import ingest

    key = f"{PROJECT}/{dataset}/{name}"
    world.s3.put_object(Bucket=world.drop, Key=key, Body=body)
    facts = ingest.process_media(world.drop, key)
    ingest.register_file(world.drop, key, facts)
    return key, facts


def test_uploads_and_their_repeats_count_each_file_once(world):
    from annolake_service.services import ingest

    dataset = _dataset("uploads")
    first = slice_data.jpeg(next(_images))
    key, facts = _drop_and_ingest(world, dataset.name, "a.jpg", first)
    _drop_and_ingest(world, dataset.name, "b.jpg", slice_data.jpeg(next(_images)))
    _agrees(world, dataset, 2)

    ingest.register_file(world.drop, key, facts)  # the register step retried, or its event redelivered
    _drop_and_ingest(world, dataset.name, "a-again.jpg", first)  # the same bytes dropped again: the same file
    _agrees(world, dataset, 2)

    elsewhere = _dataset("elsewhere")
    _drop_and_ingest(world, elsewhere.name, "a.jpg", first)  # the same file listed in a second dataset
    _agrees(world, elsewhere, 1)
    _agrees(world, dataset, 2)


def test_an_import_item_recorded_again_counts_once(world):
    from annolake_service.services import ingest

    dataset = _dataset("imported")
    facts = ingest.store_media(PROJECT, slice_data.jpeg(next(_images)))
    labels = ingest.first_labels([], {}, width=facts["width"], height=facts["height"], author="import", source="x")
    for _ in range(3):  # the import's item step re-run by its retries or a redrive
        ingest.record_ready_file(PROJECT, dataset.dataset_id, name="x.jpg", facts=facts, labels=labels)
    _agrees(world, dataset, 1)


def test_delete_move_mirror_and_copy_keep_the_counts_exact(world):
    from annolake_service.adapters.dynamo import datasets as dataset_repo
    from annolake_service.adapters.dynamo import files as file_repo
    from annolake_service.services import files

    source, target = _dataset("source"), _dataset("target")
    ids = slice_data.seed_dataset(PROJECT, source.name, 6, start=next(_images) * 10, threads=2)
    _agrees(world, source, 6)

    files.delete_file(PROJECT, ids[0])
    dataset_repo.mark_deleted(PROJECT, ids[0])  # the memberships' half of a delete run again
    assert not file_repo.soft_delete_file(PROJECT, ids[0], datetime.now(UTC))
    _agrees(world, source, 5)

    files.transfer(PROJECT, ids[1:3], mode="mirror", target_dataset=target.name, source_dataset=None, author="t")
    files.transfer(PROJECT, ids[1:3], mode="mirror", target_dataset=target.name, source_dataset=None, author="t")
    _agrees(world, source, 5)
    _agrees(world, target, 2)

    for _ in range(2):  # a move retried after it committed
        files.transfer(
            PROJECT, ids[3:5], mode="move", target_dataset=target.name, source_dataset=source.name, author="t"
        )
    _agrees(world, source, 3)
    _agrees(world, target, 4)

    copies = files.transfer(PROJECT, ids[5:6], mode="copy", target_dataset=target.name, source_dataset=None, author="t")
    _agrees(world, target, 5)

    files.delete_file(PROJECT, ids[1])  # listed in both: leaves both counts
    files.delete_file(PROJECT, copies[0])
    _agrees(world, source, 2)
    _agrees(world, target, 3)

    # A deleted file taken out of a dataset: its membership goes, the count (which no longer held it) stays.
    assert dataset_repo.remove_file(PROJECT, ids[0], source.dataset_id)
    assert not dataset_repo.remove_file(PROJECT, ids[0], source.dataset_id)
    _agrees(world, source, 2)


def test_a_quarantine_recorded_again_or_revived_after_a_delete_counts_once(world):
    from annolake_service.services import files, ingest

    dataset = _dataset("refused")
    key = f"{PROJECT}/{dataset.name}/broken.jpg"
    error = {"Error": "InvalidMedia", "Cause": "not an image"}
    world.s3.put_object(Bucket=world.drop, Key=key, Body=b"not an image")
    refused = ingest.quarantine(world.drop, key, error)["file_id"]
    world.s3.put_object(Bucket=world.drop, Key=key, Body=b"not an image")
    ingest.quarantine(world.drop, key, error)  # the same path refused again
    _agrees(world, dataset, 1)
    assert files.count_files(PROJECT, dataset.name, status="quarantined") == 1
    assert files.count_files(PROJECT, dataset.name, status="ready") == 0

    files.delete_file(PROJECT, refused)
    _agrees(world, dataset, 0)
    world.s3.put_object(Bucket=world.drop, Key=key, Body=b"not an image")
    ingest.quarantine(world.drop, key, error)  # refused once more: listed (and counted) again
    _agrees(world, dataset, 1)

    # The path dropped again with a good image: ingested, and its refusal leaves the listing.
    _drop_and_ingest(world, dataset.name, "broken.jpg", slice_data.jpeg(next(_images)))
    _agrees(world, dataset, 1)
    assert files.count_files(PROJECT, dataset.name, status="ready") == 1
    assert files.count_files(PROJECT, dataset.name, status="quarantined") == 0


def test_concurrent_uploads_and_duplicates_count_each_file_once(world):
    from annolake_service.services import ingest

    dataset = _dataset("busy")
    bodies = [slice_data.jpeg(next(_images)) for _ in range(6)]
    drops = [(f"f{n}-{copy}.jpg", body) for n, body in enumerate(bodies) for copy in range(2)]  # each twice
    for name, body in drops:
        world.s3.put_object(Bucket=world.drop, Key=f"{PROJECT}/{dataset.name}/{name}", Body=body)
    facts = {name: ingest.process_media(world.drop, f"{PROJECT}/{dataset.name}/{name}") for name, _ in drops}
    start = threading.Barrier(len(drops))

    def register(name: str) -> None:
        start.wait()
        ingest.register_file(world.drop, f"{PROJECT}/{dataset.name}/{name}", facts[name])

    with ThreadPoolExecutor(len(drops)) as pool:
        list(pool.map(register, facts))
    _agrees(world, dataset, len(bodies))


def test_a_dataset_older_than_its_counters_is_counted_once_then_read_from_them(world):
    from annolake_service.adapters.dynamo import keys

    dataset = _dataset("legacy")
    slice_data.seed_dataset(PROJECT, dataset.name, 12, start=next(_images) * 10, threads=2)
    counters = keys.dataset_count_pk(PROJECT, dataset.dataset_id)
    for shard in range(keys.DATASET_SHARDS):  # as written before the counters existed
        world.dynamodb.delete_item(
            TableName=world.table, Key={"PK": {"S": counters}, "SK": {"S": keys.dataset_count_sk(shard)}}
        )
    # A write after the upgrade, before any read, moves a counter that was never set: it holds a change only.
    _drop_and_ingest(world, dataset.name, "late.jpg", slice_data.jpeg(next(_images)))
    with _dynamodb_calls() as recounting:
        assert _file_count(world, dataset.name) == 13
    assert _read_memberships(recounting, dataset.dataset_id)  # counted once, the old way
    with _dynamodb_calls() as calls:
        assert _file_count(world, dataset.name) == 13
    assert not _read_memberships(calls, dataset.dataset_id)  # then read from the counters it stored
    _agrees(world, dataset, 13)


def test_the_detail_reads_no_membership_and_the_same_requests_at_any_size(world):
    from annolake_service.services import projects

    made = {}
    for files in (3, 60):
        dataset = _dataset(f"sized{files}")
        slice_data.seed_dataset(PROJECT, dataset.name, files, start=next(_images) * 100, threads=2, image_work=False)
        projects.forget_api_keys()  # each measured request reads its caller's key
        with _dynamodb_calls() as calls:
            assert _file_count(world, dataset.name) == files
        assert not _read_memberships(calls, dataset.dataset_id)
        made[files] = [operation for operation, _ in calls]
    assert made[3] == made[60] and len(made[3]) <= 5, made


def _read_memberships(calls: list[tuple[str, dict[str, Any]]], dataset_id: str) -> list[tuple[str, dict]]:
    from annolake_service.adapters.dynamo import keys

    shards = [keys.shard_pk(PROJECT, dataset_id, shard) for shard in range(keys.DATASET_SHARDS)]
    return [(op, params) for op, params in calls if any(pk in repr(params) for pk in shards)]


class _dynamodb_calls:  # noqa: N801 - used as a context manager, named for what it yields
    """The DynamoDB calls (operation, parameters) the service's clients make meanwhile, in order."""

    def __enter__(self) -> list[tuple[str, dict[str, Any]]]:
        from annolake_service.adapters.aws_clients import client
        from annolake_service.adapters.dynamo.table import connection

        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.emitters = {id(c): c.meta.events for c in (connection().client, client("dynamodb"))}.values()
        for events in self.emitters:
            events.register("provide-client-params.dynamodb", self._seen)
        return self.calls

    def _seen(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        self.calls.append((model.name, dict(params)))

    def __exit__(self, *_: object) -> None:
        for events in self.emitters:
            events.unregister("provide-client-params.dynamodb", self._seen)


def test_a_transaction_cancelled_by_a_conflict_on_a_counter_is_retried_and_counts_once(world):
    """DynamoDB cancels a transaction that meets another on the same item (``TransactionConflict``: uploads to
    one shard at once, both moving its counter); no SDK retries that. The emulator applies writes one at a time
    and never conflicts, so the first two tries of the upload's transaction are answered with that
    cancellation here, at the client, before they reach the table."""
    from annolake_service.adapters.dynamo.table import connection
    from botocore.awsrequest import AWSResponse

    dataset = _dataset("conflicted")
    cancelled: list[int] = []

    def conflict(model: Any, **_: Any) -> Any:
        if model.name != "TransactWriteItems" or len(cancelled) == 2:
            return None
        cancelled.append(1)
        reasons = [{"Code": "None"}, {"Code": "TransactionConflict"}, {"Code": "None"}]
        error = {"Code": "TransactionCanceledException", "Message": "Transaction cancelled"}
        parsed = {"Error": error, "CancellationReasons": reasons, "ResponseMetadata": {"HTTPStatusCode": 400}}
        return AWSResponse("http://dynamodb", 400, {}, None), parsed

    events = connection().client.meta.events
    events.register_first("before-call.dynamodb.TransactWriteItems", conflict)
    try:
        _drop_and_ingest(world, dataset.name, "a.jpg", slice_data.jpeg(next(_images)))
    finally:
        events.unregister("before-call.dynamodb.TransactWriteItems", conflict)
    assert len(cancelled) == 2
    _agrees(world, dataset, 1)


def test_a_listing_page_reads_about_its_own_memberships_from_the_shards_and_pages_as_before(world):
    """A page of 100 files merges a query per membership shard: each asked for a share of the page (reading
    on where a shard holds more), not for 101 items each, eight times what the page shows; the pages are the
    newest-first listing of every file, each once."""
    dataset = _dataset("paged")
    seeded = slice_data.seed_dataset(PROJECT, dataset.name, 240, start=next(_images) * 100, threads=2, image_work=False)
    listed: list[str] = []
    cursor = None
    with _dynamodb_calls() as calls:
        while True:
            params: dict[str, Any] = {"limit": 100, **({"cursor": cursor} if cursor else {})}
            page = world.client.get(
                f"/api/v1/projects/{PROJECT}/datasets/{dataset.name}/files", params=params, headers=world.headers
            )
            assert page.status_code == 200, page.text
            listed += [f["file_id"] for f in page.json()["files"]]
            if not (cursor := page.json()["cursor"]):
                break
    assert sorted(listed) == sorted(seeded) and len(listed) == len(set(listed)) == 240
    created = {f: n for n, f in enumerate(seeded)}  # seeded in order: the newest last
    assert listed == sorted(listed, key=lambda f: created[f], reverse=True)
    queries = [params for operation, params in _read_memberships(calls, dataset.dataset_id) if operation == "Query"]
    assert queries and max(params["Limit"] for params in queries) <= 30, sorted(p["Limit"] for p in queries)
