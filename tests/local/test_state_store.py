"""StateStore against a real moto server: snapshot, reset the emulator, re-provision under new names, restore.

These tests reset the whole in-process moto (POST /moto-api/reset, the ``reset_moto`` fixture) before
provisioning; the session's provisioned template is provisioned again after them.
"""

from __future__ import annotations

import gc
import hashlib
import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from unittest import mock

import boto3
import pytest
import urllib3
from boto3.dynamodb.types import Binary

from infra.local import stream_sources
from infra.local.state import (
    Inventory,
    SnapshotStats,
    StateStore,
    StateStoreError,
    capture,
    files,
    moto_backends,
    snapshot,
)
from infra.local.state import blobs as blob_bodies
from infra.local.state import journal as journal_module
from infra.local.state.capture import Recorder

TABLE = "Data/ItemsTable"
BUCKET = "Data/MediaBucket"
EXTRA_BUCKET = "Data/ExportsBucket"
POOL = "Auth/UserPool"
EMAIL_POOL = "Auth/EmailSignInPool"

PASSWORD = "Correct-Horse-9"  # noqa: S105
TEMPORARY_PASSWORD = "Temporary-Pass-1"  # noqa: S105
EMAIL_PASSWORD = "Email-Sign-In-2"  # noqa: S105

SPACED_KEY = "projects/demo/a b+c ü 東京.jpg"
OBJECTS: dict[str, dict[str, Any]] = {
    "hello.txt": {"Body": b"hello", "ContentType": "text/plain; charset=utf-8", "Metadata": {"origin": "test"}},
    "bin/all-bytes.bin": {"Body": bytes(range(256)) * 40, "ContentType": "application/octet-stream"},
    SPACED_KEY: {
        "Body": b"\xff\xd8\xff\xe0 not really a jpeg \x00\x01",
        "ContentType": "image/jpeg",
        "Metadata": {"width": "640", "labels": "cat,dog"},
        "CacheControl": "max-age=60",
        "ContentDisposition": 'inline; filename="a.jpg"',
    },
    "empty/": {"Body": b"", "ContentType": "application/x-directory"},
    "copy-of-hello.txt": {"Body": b"hello", "ContentType": "text/plain; charset=utf-8"},  # same blob as hello.txt
}


@dataclass
class Env:
    endpoint: str
    session: boto3.Session
    reset: Callable[[], None]  # empties moto

    def client(self, service: str) -> Any:
        return self.session.client(service, endpoint_url=self.endpoint)


@pytest.fixture
def env(moto_endpoint: str, aws_session: boto3.Session, reset_moto: Callable[[], None]) -> Env:
    reset_moto()
    return Env(moto_endpoint, aws_session, reset_moto)


@pytest.fixture
def store(tmp_path: Path) -> StateStore:
    return StateStore(tmp_path / "state")


# -- provisioning (what the runtime's provisioner does from the template, under per-start names) --------------


def provision(env: Env, suffix: str) -> Inventory:
    dynamodb, s3, cognito, sqs = env.client("dynamodb"), env.client("s3"), env.client("cognito-idp"), env.client("sqs")
    table = f"items-{suffix}"
    dynamodb.create_table(
        TableName=table,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": "PK", "AttributeType": "S"},
            {"AttributeName": "SK", "AttributeType": "S"},
            {"AttributeName": "GSI1PK", "AttributeType": "S"},
        ],
        KeySchema=[{"AttributeName": "PK", "KeyType": "HASH"}, {"AttributeName": "SK", "KeyType": "RANGE"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "GSI1",
                "KeySchema": [
                    {"AttributeName": "GSI1PK", "KeyType": "HASH"},
                    {"AttributeName": "SK", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    media, exports = f"media-{suffix}", f"exports-{suffix}"
    s3.create_bucket(Bucket=media)
    s3.create_bucket(Bucket=exports)
    queue_url = sqs.create_queue(QueueName=f"ingest-{suffix}")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    s3.put_bucket_notification_configuration(
        Bucket=media,
        NotificationConfiguration={"QueueConfigurations": [{"QueueArn": queue_arn, "Events": ["s3:ObjectCreated:*"]}]},
    )
    pool = cognito.create_user_pool(PoolName=f"users-{suffix}")["UserPool"]["Id"]
    email_pool = cognito.create_user_pool(PoolName=f"email-users-{suffix}", UsernameAttributes=["email"])["UserPool"][
        "Id"
    ]
    return Inventory(
        tables={TABLE: table},
        buckets={BUCKET: media, EXTRA_BUCKET: exports},
        user_pools={POOL: pool, EMAIL_POOL: email_pool},
    )


def queue_events(env: Env, inventory: Inventory) -> list[str]:
    """The S3 event names the media bucket's queue received (s3:TestEvent aside), draining it."""
    sqs = env.client("sqs")
    suffix = inventory.buckets[BUCKET].removeprefix("media-")
    queue_url = sqs.get_queue_url(QueueName=f"ingest-{suffix}")["QueueUrl"]
    names: list[str] = []
    while True:
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            return names
        for message in messages:
            body = json.loads(message["Body"])
            names.extend(record["eventName"] for record in body.get("Records", []))
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


# -- data ---------------------------------------------------------------------------------------------------


def sample_items() -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = [
        {
            "PK": "PROJECT#demo",
            "SK": "META",
            "GSI1PK": "PROJECTS",
            "name": "Demo ü",
            "count": Decimal("42"),
            "ratio": Decimal("0.125"),
            "active": True,
            "nothing": None,
            "thumbnail": Binary(b"\x00\x01\xfe\xff"),
            "tags": {"a", "b"},
            "sizes": {Decimal(1), Decimal(2)},
            "blobs": {Binary(b"\x01"), Binary(b"\x02")},
            "nested": {"list": [Decimal(1), "two", {"bytes": Binary(b"\x10")}], "empty": {}},
        }
    ]
    padding = "x" * 20_000  # 60 x 20 kB: more than one 1 MB scan page and more than one 25-item batch
    for n in range(60):
        items.append(
            {"PK": f"PROJECT#demo#ITEM#{n:03d}", "SK": "ITEM", "GSI1PK": "ITEMS", "n": Decimal(n), "pad": padding}
        )
    return items


def write_data(env: Env, inventory: Inventory) -> dict[str, Any]:
    table = env.session.resource("dynamodb", endpoint_url=env.endpoint).Table(inventory.tables[TABLE])
    with table.batch_writer() as batch:
        for item in sample_items():
            batch.put_item(Item=item)
    s3 = env.client("s3")
    for key, spec in OBJECTS.items():
        s3.put_object(Bucket=inventory.buckets[BUCKET], Key=key, **spec)
    s3.put_object(Bucket=inventory.buckets[EXTRA_BUCKET], Key="export.json", Body=b"{}", ContentType="application/json")

    cognito = env.client("cognito-idp")
    pool = inventory.user_pools[POOL]
    cognito.create_group(UserPoolId=pool, GroupName="admins", Description="Administrators", Precedence=1)
    for username in ("alice", "bob", "carol"):
        temporary = {"TemporaryPassword": TEMPORARY_PASSWORD} if username == "carol" else {}
        cognito.admin_create_user(
            UserPoolId=pool,
            Username=username,
            MessageAction="SUPPRESS",
            UserAttributes=[
                {"Name": "email", "Value": f"{username}@example.com"},
                {"Name": "email_verified", "Value": "true"},
            ],
            **temporary,
        )
    cognito.admin_set_user_password(UserPoolId=pool, Username="alice", Password=PASSWORD, Permanent=True)
    cognito.admin_set_user_password(UserPoolId=pool, Username="bob", Password=PASSWORD, Permanent=True)
    cognito.admin_disable_user(UserPoolId=pool, Username="bob")
    cognito.admin_add_user_to_group(UserPoolId=pool, Username="alice", GroupName="admins")

    email_pool = inventory.user_pools[EMAIL_POOL]
    dana = cognito.admin_create_user(UserPoolId=email_pool, Username="dana@example.com", MessageAction="SUPPRESS")
    cognito.admin_set_user_password(
        UserPoolId=email_pool, Username="dana@example.com", Password=EMAIL_PASSWORD, Permanent=True
    )
    return {
        "subs": {u: sub_of(cognito, pool, u) for u in ("alice", "bob", "carol")},
        "dana": (dana["User"]["Username"], sub_of(cognito, email_pool, "dana@example.com")),
    }


def sub_of(cognito: Any, pool: str, username: str) -> str:
    attributes = cognito.admin_get_user(UserPoolId=pool, Username=username)["UserAttributes"]
    return next(a["Value"] for a in attributes if a["Name"] == "sub")


def scan_all(env: Env, table: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for page in env.client("dynamodb").get_paginator("scan").paginate(TableName=table):
        items.extend(page["Items"])
    return sorted(items, key=lambda item: (item["PK"]["S"], item["SK"]["S"]))


def sign_in(env: Env, pool: str, username: str, password: str) -> dict[str, Any]:
    cognito = env.client("cognito-idp")
    client_id = cognito.create_user_pool_client(
        UserPoolId=pool, ClientName=f"c-{uuid.uuid4().hex[:6]}", ExplicitAuthFlows=["ADMIN_USER_PASSWORD_AUTH"]
    )["UserPoolClient"]["ClientId"]
    return cognito.admin_initiate_auth(
        UserPoolId=pool,
        ClientId=client_id,
        AuthFlow="ADMIN_USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": username, "PASSWORD": password},
    )


def blobs(store: StateStore) -> dict[str, float]:
    return {p.name: p.stat().st_mtime_ns for p in store.blobs_path.iterdir()}


@pytest.fixture
def count_calls(env: Env) -> Iterator[dict[str, int]]:
    counts: dict[str, int] = {}

    def record(event_name: str, **_: Any) -> None:
        operation = event_name.split(".")[-1]
        counts[operation] = counts.get(operation, 0) + 1

    env.session.events.register("before-call", record)
    yield counts
    env.session.events.unregister("before-call", record)


# -- the round trip -----------------------------------------------------------------------------------------


def test_snapshot_reset_reprovision_restore(env: Env, store: StateStore, count_calls: dict[str, int]) -> None:
    first = provision(env, "first")
    written = write_data(env, first)
    before_items = scan_all(env, first.tables[TABLE])
    assert queue_events(env, first) == ["ObjectCreated:Put"] * len(OBJECTS)
    assert not store.exists()

    stats = store.snapshot(env.session, env.endpoint, first)
    assert (stats.items, stats.objects, stats.users) == (61, len(OBJECTS) + 1, 4)
    assert stats.blobs_written == len(OBJECTS)  # hello.txt and its copy share one blob
    assert stats.manifest_written and stats.bytes_written > 60 * 20_000
    assert count_calls["Scan"] >= 2  # the 1.2 MB table took more than one page
    assert store.exists() and (store.home / "state.json").stat().st_mode & 0o777 == 0o600

    env.reset()
    assert env.client("dynamodb").list_tables()["TableNames"] == []

    second = provision(env, "second")
    assert set(second.tables.values()).isdisjoint(first.tables.values())
    restored = store.restore(env.session, env.endpoint, second)
    assert (restored.items, restored.objects, restored.users) == (61, len(OBJECTS) + 1, 4)
    assert restored.skipped == ()

    # DynamoDB: every item, every type, and the GSI
    after_items = scan_all(env, second.tables[TABLE])
    assert after_items == before_items
    gsi = env.client("dynamodb").query(
        TableName=second.tables[TABLE],
        IndexName="GSI1",
        KeyConditionExpression="GSI1PK = :p",
        ExpressionAttributeValues={":p": {"S": "PROJECTS"}},
    )["Items"]
    assert gsi[0]["thumbnail"] == {"B": b"\x00\x01\xfe\xff"}
    assert gsi[0]["nested"]["M"]["list"]["L"][2]["M"]["bytes"] == {"B": b"\x10"}

    # S3: bodies, content types, metadata and headers; restoring fired no bucket notification
    s3 = env.client("s3")
    for key, spec in OBJECTS.items():
        got = s3.get_object(Bucket=second.buckets[BUCKET], Key=key)
        assert got["Body"].read() == spec["Body"], key
        assert got["ContentType"] == spec["ContentType"], key
        assert got["Metadata"] == spec.get("Metadata", {}), key
        for header in ("CacheControl", "ContentDisposition"):
            assert got.get(header) == spec.get(header), (key, header)
    assert s3.get_object(Bucket=second.buckets[EXTRA_BUCKET], Key="export.json")["Body"].read() == b"{}"
    assert queue_events(env, second) == []
    assert s3.get_bucket_notification_configuration(Bucket=second.buckets[BUCKET])["QueueConfigurations"]
    s3.put_object(Bucket=second.buckets[BUCKET], Key="after-restore.txt", Body=b"new")
    assert queue_events(env, second) == ["ObjectCreated:Put"]  # notifications are back on

    # Cognito: passwords, status, enabled flag, groups, subs
    pool = second.user_pools[POOL]
    cognito = env.client("cognito-idp")
    assert "AccessToken" in sign_in(env, pool, "alice", PASSWORD)["AuthenticationResult"]
    with pytest.raises(cognito.exceptions.NotAuthorizedException):
        sign_in(env, pool, "alice", "Wrong-Password-1")
    bob = cognito.admin_get_user(UserPoolId=pool, Username="bob")
    assert (bob["Enabled"], bob["UserStatus"]) == (False, "CONFIRMED")
    carol = cognito.admin_get_user(UserPoolId=pool, Username="carol")
    assert carol["UserStatus"] == "FORCE_CHANGE_PASSWORD"
    assert sign_in(env, pool, "carol", TEMPORARY_PASSWORD)["ChallengeName"] == "NEW_PASSWORD_REQUIRED"
    assert {u: sub_of(cognito, pool, u) for u in ("alice", "bob", "carol")} == written["subs"]
    assert {a["Name"]: a["Value"] for a in carol["UserAttributes"]}["email"] == "carol@example.com"
    groups = cognito.admin_list_groups_for_user(UserPoolId=pool, Username="alice")["Groups"]
    assert [(g["GroupName"], g["Description"], g["Precedence"]) for g in groups] == [("admins", "Administrators", 1)]

    email_pool = second.user_pools[EMAIL_POOL]
    dana_username, dana_sub = written["dana"]
    dana = cognito.admin_get_user(UserPoolId=email_pool, Username="dana@example.com")
    assert (dana["Username"], sub_of(cognito, email_pool, "dana@example.com")) == (dana_username, dana_sub)
    assert "AccessToken" in sign_in(env, email_pool, "dana@example.com", EMAIL_PASSWORD)["AuthenticationResult"]


def test_restore_does_not_fire_stream_triggers(env: Env, store: StateStore) -> None:
    inventory = provision(env, "streams")
    env.client("dynamodb").put_item(TableName=inventory.tables[TABLE], Item={"PK": {"S": "a"}, "SK": {"S": "b"}})
    store.snapshot(env.session, env.endpoint, inventory)
    env.reset()
    target = provision(env, "streams2")

    moto_table = moto_backends.moto_table("us-east-1", target.tables[TABLE])
    trigger = "arn:aws:lambda:us-east-1:123456789012:function:on-change"
    # what CreateEventSourceMapping leaves there (moto runs stream triggers without Docker only through this)
    moto_table.lambda_event_source_mappings[trigger] = SimpleNamespace(event_source_arn=moto_table.latest_stream_label)
    stream_sources.uninstall()  # moto's own stream trigger path; the emulator's delivery reads the same mappings
    try:
        with mock.patch("moto.awslambda.models.LambdaBackend.send_dynamodb_items", return_value="ok") as send:
            store.restore(env.session, env.endpoint, target)
            assert send.call_count == 0
            assert list(moto_table.lambda_event_source_mappings) == [trigger]  # re-attached
            item = {"PK": {"S": "new"}, "SK": {"S": "x"}}
            env.client("dynamodb").put_item(TableName=target.tables[TABLE], Item=item)
    finally:
        stream_sources.install()
    assert send.call_count == 1
    records = send.call_args.args[1]
    assert [r.to_json()["dynamodb"]["Keys"]["PK"]["S"] for r in records] == ["new"]  # not the restored item


# -- incremental snapshots and blob lifecycle -----------------------------------------------------------------


def test_unchanged_snapshot_writes_nothing(env: Env, store: StateStore, count_calls: dict[str, int]) -> None:
    inventory = provision(env, "incr")
    write_data(env, inventory)
    store.snapshot(env.session, env.endpoint, inventory)
    manifest = (store.home / "state.json").read_bytes()
    blob_files = blobs(store)
    gets = count_calls.get("GetObject", 0)

    again = store.snapshot(env.session, env.endpoint, inventory)
    assert (again.blobs_written, again.blobs_deleted, again.bytes_written, again.manifest_written) == (0, 0, 0, False)
    assert (again.items, again.objects, again.users) == (61, len(OBJECTS) + 1, 4)
    assert count_calls.get("GetObject", 0) == gets  # no object downloaded again
    assert blobs(store) == blob_files
    assert (store.home / "state.json").read_bytes() == manifest

    # metadata changed in place (same content, same ETag): picked up without a new blob
    s3 = env.client("s3")
    bucket = inventory.buckets[BUCKET]
    s3.copy_object(
        Bucket=bucket,
        Key="hello.txt",
        CopySource={"Bucket": bucket, "Key": "hello.txt"},
        Metadata={"origin": "edited"},
        MetadataDirective="REPLACE",
        ContentType="text/markdown",
    )
    time.sleep(0.002)
    edited = store.snapshot(env.session, env.endpoint, inventory)
    assert edited.blobs_written == 0 and edited.manifest_written
    saved = json.loads((store.home / "state.json").read_text())["buckets"][BUCKET]["objects"]
    hello = next(o for o in saved if o["key"] == "hello.txt")
    assert (hello["metadata"], hello["content_type"]) == ({"origin": "edited"}, "text/markdown")


def test_deleted_object_blob_is_removed_by_the_next_snapshot(env: Env, store: StateStore) -> None:
    inventory = provision(env, "gc")
    s3 = env.client("s3")
    bucket = inventory.buckets[BUCKET]
    s3.put_object(Bucket=bucket, Key="keep.txt", Body=b"keep me")
    s3.put_object(Bucket=bucket, Key="drop.txt", Body=b"drop me")
    s3.put_object(Bucket=bucket, Key="drop-copy.txt", Body=b"keep me")  # shares keep.txt's blob
    store.snapshot(env.session, env.endpoint, inventory)
    assert len(blobs(store)) == 2

    s3.delete_object(Bucket=bucket, Key="drop.txt")
    s3.delete_object(Bucket=bucket, Key="drop-copy.txt")
    stats = store.snapshot(env.session, env.endpoint, inventory)
    assert stats.blobs_deleted == 1 and stats.objects == 1
    remaining = list(blobs(store))
    assert len(remaining) == 1
    assert (store.blobs_path / remaining[0]).read_bytes() == b"keep me"

    # an overwritten object: new blob in, old blob out
    s3.put_object(Bucket=bucket, Key="keep.txt", Body=b"kept, but changed")
    stats = store.snapshot(env.session, env.endpoint, inventory)
    assert (stats.blobs_written, stats.blobs_deleted) == (1, 1)
    assert [p.read_bytes() for p in store.blobs_path.iterdir()] == [b"kept, but changed"]


# -- crashes and errors -------------------------------------------------------------------------------------


def test_crash_mid_write_keeps_the_previous_state(env: Env, store: StateStore) -> None:
    inventory = provision(env, "crash")
    s3 = env.client("s3")
    bucket = inventory.buckets[BUCKET]
    s3.put_object(Bucket=bucket, Key="v.txt", Body=b"version 1")
    store.snapshot(env.session, env.endpoint, inventory)
    manifest = (store.home / "state.json").read_bytes()

    # 1. a crash that left a torn temporary manifest behind
    (store.home / "state.json.tmp").write_bytes(b'{"format": "annolake-local-st')
    assert store.exists()

    # 2. a crash after the new manifest was written, before it replaced the old one
    s3.delete_object(Bucket=bucket, Key="v.txt")
    s3.put_object(Bucket=bucket, Key="v2.txt", Body=b"version 2")
    real_replace = os.replace

    def crash_on_manifest(src: Any, dst: Any) -> None:
        if Path(dst).name == "state.json":
            raise OSError("simulated crash")
        real_replace(src, dst)

    with mock.patch.object(files.os, "replace", crash_on_manifest), pytest.raises(OSError, match="simulated"):
        store.snapshot(env.session, env.endpoint, inventory)
    assert (store.home / "state.json").read_bytes() == manifest  # untouched
    assert len(blobs(store)) == 2  # the old blob was not collected; the new one is an orphan for now

    env.reset()
    target = provision(env, "crash2")
    assert store.restore(env.session, env.endpoint, target).objects == 1
    assert s3.get_object(Bucket=target.buckets[BUCKET], Key="v.txt")["Body"].read() == b"version 1"
    assert "Contents" not in s3.list_objects_v2(Bucket=target.buckets[BUCKET], Prefix="v2")

    # the next snapshot completes, replaces the leftover, and collects the orphan
    stats = store.snapshot(env.session, env.endpoint, target)
    assert stats.manifest_written and stats.blobs_deleted == 1
    assert not (store.home / "state.json.tmp").exists()
    assert (store.home / "state.json").stat().st_mode & 0o777 == 0o600  # not the leftover's mode
    assert json.loads((store.home / "state.json").read_text())["buckets"][BUCKET]["objects"][0]["key"] == "v.txt"


def test_missing_or_unreadable_state_is_a_clear_error(tmp_path: Path, aws_session: boto3.Session) -> None:
    store = StateStore(tmp_path / "nothing-here")
    assert not store.exists()
    empty = Inventory(tables={}, buckets={}, user_pools={})
    with pytest.raises(StateStoreError, match="no saved state"):
        store.restore(aws_session, "http://127.0.0.1:9", empty)
    store.home.mkdir()
    (store.home / "state.json").write_text("{not json")
    with pytest.raises(StateStoreError, match="unreadable.*start afresh"):
        store.restore(aws_session, "http://127.0.0.1:9", empty)
    (store.home / "state.json").write_text(json.dumps({"format": "annolake-local-state", "version": 99}))
    with pytest.raises(StateStoreError, match="version 99"):
        store.restore(aws_session, "http://127.0.0.1:9", empty)


def test_missing_resource_names_it(env: Env, store: StateStore) -> None:
    inventory = Inventory(tables={TABLE: "no-such-table"}, buckets={}, user_pools={})
    with pytest.raises(StateStoreError, match=f"table {TABLE} \\(no-such-table\\)"):
        store.snapshot(env.session, env.endpoint, inventory)
    assert not store.exists()


def test_resources_missing_from_the_inventory_are_skipped_and_kept(
    env: Env, store: StateStore, caplog: pytest.LogCaptureFixture
) -> None:
    inventory = provision(env, "template-v1")
    env.client("s3").put_object(Bucket=inventory.buckets[EXTRA_BUCKET], Key="old.txt", Body=b"old data")
    store.snapshot(env.session, env.endpoint, inventory)

    env.reset()
    full = provision(env, "template-v2")
    without_exports = Inventory(tables=full.tables, buckets={BUCKET: full.buckets[BUCKET]}, user_pools=full.user_pools)
    with caplog.at_level(logging.WARNING, logger="annolake.local.state"):
        stats = store.restore(env.session, env.endpoint, without_exports)
    assert stats.skipped == (f"bucket {EXTRA_BUCKET}",)
    assert f"bucket {EXTRA_BUCKET} is not in the template any more" in caplog.text

    # a snapshot under the edited template carries the missing bucket's data over, blobs included
    store.snapshot(env.session, env.endpoint, without_exports)
    env.reset()
    reverted = provision(env, "template-v3")
    store.restore(env.session, env.endpoint, reverted)
    body = env.client("s3").get_object(Bucket=reverted.buckets[EXTRA_BUCKET], Key="old.txt")["Body"].read()
    assert body == b"old data"


def test_snapshots_never_interleave(env: Env, store: StateStore) -> None:
    inventory = provision(env, "lock")
    active, overlaps = [0], []
    real = snapshot.snapshot_table

    def slow(*args: Any) -> Any:
        active[0] += 1
        overlaps.append(active[0])
        time.sleep(0.05)
        try:
            return real(*args)
        finally:
            active[0] -= 1

    results: list[SnapshotStats] = []
    with mock.patch.object(snapshot, "snapshot_table", slow):
        threads = [
            threading.Thread(target=lambda: results.append(store.snapshot(env.session, env.endpoint, inventory)))
            for _ in range(3)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
    assert len(results) == 3 and max(overlaps) == 1
    assert str(results[0]).startswith("0 items, 0 objects, 0 users")


# -- the journal: every acknowledged change, replayed over the last checkpoint ---------------------------------


@dataclass
class Journaled:
    env: Env  # its endpoint is moto behind the recorder
    store: StateStore
    recorder: Recorder

    def arm(self, inventory: Inventory) -> None:
        recording = self.store.start_journal(inventory)
        capture.install_hooks(recording)
        self.recorder.capture = recording

    def crash(self) -> None:
        """What ``kill -9`` leaves: the journal as written, nothing closed or checkpointed."""
        self.recorder.capture = None
        capture.uninstall_hooks()
        assert self.store.journal is not None
        self.store.journal = None  # its descriptor dies with the "process"


@pytest.fixture
def journaled(env: Env, tmp_path: Path, serve_wsgi: Any, new_moto_app: Any) -> Iterator[Journaled]:
    store = StateStore(tmp_path / "state")
    recorder = Recorder(new_moto_app())
    blob_bodies.install(store.blobs)
    try:
        with serve_wsgi(recorder) as endpoint:
            yield Journaled(Env(endpoint, env.session, env.reset), store, recorder)
    finally:
        recorder.capture = None
        capture.uninstall_hooks()
        blob_bodies.uninstall()


def other_writes(env: Env, inventory: Inventory) -> None:
    """Every other way the platform changes data: updates, deletes, transactions, copies, multipart, POST."""
    dynamodb, s3 = env.client("dynamodb"), env.client("s3")
    table, bucket = inventory.tables[TABLE], inventory.buckets[BUCKET]
    key = {"PK": {"S": "PROJECT#demo#ITEM#000"}, "SK": {"S": "ITEM"}}
    dynamodb.update_item(
        TableName=table, Key=key, UpdateExpression="SET n = n + :one", ExpressionAttributeValues={":one": {"N": "1"}}
    )
    dynamodb.delete_item(TableName=table, Key={"PK": {"S": "PROJECT#demo#ITEM#001"}, "SK": {"S": "ITEM"}})
    dynamodb.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": table, "Item": {"PK": {"S": "TX#1"}, "SK": {"S": "A"}, "v": {"N": "1"}}}},
            {"Delete": {"TableName": table, "Key": {"PK": {"S": "PROJECT#demo#ITEM#002"}, "SK": {"S": "ITEM"}}}},
            {
                "Update": {
                    "TableName": table,
                    "Key": {"PK": {"S": "PROJECT#demo#ITEM#003"}, "SK": {"S": "ITEM"}},
                    "UpdateExpression": "REMOVE #pad",
                    "ExpressionAttributeNames": {"#pad": "pad"},
                }
            },
        ]
    )
    with pytest.raises(dynamodb.exceptions.TransactionCanceledException):  # refused: changes nothing
        dynamodb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": table, "Item": {"PK": {"S": "TX#2"}, "SK": {"S": "A"}}}},
                {
                    "ConditionCheck": {
                        "TableName": table,
                        "Key": key,
                        "ConditionExpression": "attribute_not_exists(PK)",
                    }
                },
            ]
        )
    s3.copy_object(Bucket=bucket, Key="copied/hello.txt", CopySource={"Bucket": bucket, "Key": "hello.txt"})
    s3.delete_object(Bucket=bucket, Key="bin/all-bytes.bin")
    s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "empty/"}, {"Key": "copy-of-hello.txt"}]})
    upload = s3.create_multipart_upload(Bucket=bucket, Key="multi/part.bin", ContentType="application/x-parts")
    parts = []
    for number, fill in ((1, b"a"), (2, b"b")):
        body = fill * (5 * 1024 * 1024 if number == 1 else 1000)
        etag = s3.upload_part(
            Bucket=bucket, Key="multi/part.bin", UploadId=upload["UploadId"], PartNumber=number, Body=body
        )["ETag"]
        parts.append({"PartNumber": number, "ETag": etag})
    s3.complete_multipart_upload(
        Bucket=bucket, Key="multi/part.bin", UploadId=upload["UploadId"], MultipartUpload={"Parts": parts}
    )
    post = s3.generate_presigned_post(Bucket=bucket, Key="posted/${filename}", ExpiresIn=60)
    answer = urllib3.request(
        "POST", post["url"], fields={**post["fields"], "file": ("form.jpg", b"posted bytes", "image/jpeg")}
    )
    assert answer.status in (200, 201, 204), answer.data
    cognito = env.client("cognito-idp")
    cognito.admin_update_user_attributes(
        UserPoolId=inventory.user_pools[POOL], Username="carol", UserAttributes=[{"Name": "name", "Value": "Carol"}]
    )
    cognito.admin_delete_user(UserPoolId=inventory.user_pools[POOL], Username="bob")


def emulator_state(env: Env, inventory: Inventory) -> dict[str, Any]:
    s3, cognito = env.client("s3"), env.client("cognito-idp")
    objects = {}
    for logical, bucket in inventory.buckets.items():
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for listed in page.get("Contents", []):
                got = s3.get_object(Bucket=bucket, Key=listed["Key"])
                objects[(logical, listed["Key"])] = (got["Body"].read(), got["ContentType"], got["Metadata"])
    users = {}
    for logical, pool in inventory.user_pools.items():
        for user in cognito.list_users(UserPoolId=pool)["Users"]:
            attributes = {a["Name"]: a["Value"] for a in user["Attributes"]}
            users[(logical, user["Username"])] = (attributes, user["Enabled"], user["UserStatus"])
    return {"items": scan_all(env, inventory.tables[TABLE]), "objects": objects, "users": users}


def test_journal_replays_every_acknowledged_change_over_the_checkpoint(journaled: Journaled) -> None:
    env, store = journaled.env, journaled.store
    first = provision(env, "journal-first")
    journaled.arm(first)
    write_data(env, first)
    assert store.checkpoint() > 0  # half of the changes are in the checkpoint, the rest only in the journal
    other_writes(env, first)
    before = emulator_state(env, first)
    assert ("Data/MediaBucket", "posted/form.jpg") in before["objects"]
    assert before["objects"][("Data/MediaBucket", "multi/part.bin")][0][:1] == b"a"
    journaled.crash()
    journal = max(store.journal_path.iterdir())
    with journal.open("ab") as handle:  # the torn record of a request that was never answered
        handle.write(b'\x40\x00\x00\x00\x12\x34\x56\x78{"t": "item", "tab')

    env.reset()
    second = provision(env, "journal-second")
    again = StateStore(store.home)
    stats = again.recover(env.session, env.endpoint, second)
    assert stats.skipped == ()
    assert emulator_state(env, second) == before
    assert "AccessToken" in sign_in(env, second.user_pools[POOL], "alice", PASSWORD)["AuthenticationResult"]
    # the recovered state is the checkpoint now: the journal it came from is gone
    assert not list(again.journal_path.iterdir())
    assert json.loads(again.manifest_path.read_text())["journal_through"] >= 1


def test_group_commit_shares_fsyncs_between_concurrent_writers(tmp_path: Path) -> None:
    written = journal_module.Journal(tmp_path / "journal")
    written.open(0)
    barrier = threading.Barrier(16)

    def writer(n: int) -> None:
        barrier.wait()
        for i in range(20):
            written.commit(written.append([{"t": "item", "n": n, "i": i}]))

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    written.close()
    records = list(journal_module.read_segment(journal_module.segment_path(tmp_path / "journal", 0)))
    assert len(records) == 320
    assert written.fsyncs < 320  # each fsync covered every record written by then
    for n in range(16):  # each writer's records in its order
        assert [r[0]["i"] for r in records if r[0]["n"] == n] == list(range(20))


def test_records_queued_as_functions_are_written_in_queue_order_and_a_failing_one_fails_only_its_commit(
    tmp_path: Path,
) -> None:
    """A record's entries may be made later, by whichever commit writes the queue: the segment holds the records
    in the order they were queued, whoever wrote them; a record whose entries cannot be made fails its own commit
    (its request is not acknowledged) and no other; a rotation writes what was queued before it into the old
    segment."""
    written = journal_module.Journal(tmp_path / "journal", durable=False)
    written.open(0)
    made: list[int] = []

    def entries(n: int):
        def make() -> list[dict]:
            made.append(n)
            return [{"t": "item", "n": n}]

        return make

    def broken() -> list[dict]:
        raise ValueError("no such item")

    first = written.append(entries(1))
    second = written.append(broken)
    third = written.append(entries(3))
    written.commit(third)  # writes the whole queue, the records before its own included
    assert made == [1, 3]
    written.commit(first)
    with pytest.raises(RuntimeError, match="could not be made: no such item"):
        written.commit(second)
    queued_before_rotation = written.append(entries(4))
    assert written.rotate() == 0
    written.commit(written.append(entries(5)))
    written.commit(queued_before_rotation)
    written.close()
    old = list(journal_module.read_segment(journal_module.segment_path(tmp_path / "journal", 0)))
    new = list(journal_module.read_segment(journal_module.segment_path(tmp_path / "journal", 1)))
    assert [r[0]["n"] for r in old] == [1, 3, 4]
    assert [r[0]["n"] for r in new] == [5]


def test_a_deleted_or_overwritten_object_lets_its_blob_go(journaled: Journaled) -> None:
    """A body no object holds any more is not live, so the next checkpoint can collect its blob: moto disposes
    the keys a bucket drops, and nothing else (its instance lists included) may keep them open."""
    env, store = journaled.env, journaled.store
    inventory = provision(env, "blob-release")
    journaled.arm(inventory)
    s3, bucket = env.client("s3"), inventory.buckets[BUCKET]
    s3.put_object(Bucket=bucket, Key="drop.txt", Body=b"dropped body")
    s3.put_object(Bucket=bucket, Key="over.txt", Body=b"first body")
    before = store.blobs.live()
    s3.delete_object(Bucket=bucket, Key="drop.txt")
    s3.put_object(Bucket=bucket, Key="over.txt", Body=b"second body")
    gc.collect()
    gone = {hashlib.sha256(body).hexdigest() for body in (b"dropped body", b"first body")}
    assert gone <= before and not gone & store.blobs.live()
    assert s3.get_object(Bucket=bucket, Key="over.txt")["Body"].read() == b"second body"


def test_a_copy_shares_its_sources_blob_and_keeps_it_when_the_source_goes(
    journaled: Journaled, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ingest copies every dropped photo into the media bucket: the copy names the blob the drop wrote (no
    second hash and store of the bytes), answers the same ETag (the body's MD5), and holds the blob alone once
    the drop is deleted."""
    env, store = journaled.env, journaled.store
    inventory = provision(env, "blob-copy")
    journaled.arm(inventory)
    s3, bucket = env.client("s3"), inventory.buckets[BUCKET]
    body = os.urandom(200_000)
    digest = hashlib.sha256(body).hexdigest()
    put = s3.put_object(Bucket=bucket, Key="drop/photo.jpg", Body=body)
    stored: list[int] = []
    real_put = store.blobs.put
    monkeypatch.setattr(store.blobs, "put", lambda data: stored.append(len(data)) or real_put(data))

    copied = s3.copy_object(
        Bucket=bucket, Key="media/photo.jpg", CopySource={"Bucket": bucket, "Key": "drop/photo.jpg"}
    )

    assert stored == []  # the bytes were neither hashed nor written again
    assert copied["CopyObjectResult"]["ETag"] == put["ETag"] == f'"{hashlib.md5(body).hexdigest()}"'  # noqa: S324
    s3.delete_object(Bucket=bucket, Key="drop/photo.jpg")
    gc.collect()
    assert digest in store.blobs.live()
    assert s3.get_object(Bucket=bucket, Key="media/photo.jpg")["Body"].read() == body
    s3.delete_object(Bucket=bucket, Key="media/photo.jpg")
    gc.collect()
    assert digest not in store.blobs.live()
