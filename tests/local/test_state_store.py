"""StateStore against a real moto: journal, checkpoint, reset the emulator, re-provision under new names, recover.

These tests reset the whole in-process moto (POST /moto-api/reset, the ``reset_moto`` fixture) before
provisioning; the session's provisioned template is provisioned again after them.
"""

from __future__ import annotations

import gc
import hashlib
import json
import logging
import os
import sqlite3
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
from infra.local.state import Inventory, StateStore, StateStoreError, capture, moto_backends
from infra.local.state import blobs as blob_bodies
from infra.local.state import journal as journal_module
from infra.local.state.capture import Recorder
from infra.local.state.checkpoint import Checkpoint

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


def age_blobs(store: StateStore, seconds: float = 120) -> None:
    """Every blob made as if ``seconds`` ago (a released blob is deleted only once a minute old)."""
    then = time.time() - seconds
    for path in store.blobs_path.iterdir():
        os.utime(path, (then, then))


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

    def stop(self) -> None:
        """What Ctrl-C does: a last checkpoint, the journal closed."""
        self.recorder.capture = None
        capture.uninstall_hooks()
        self.store.close()

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
    assert again.saved.journal_through >= 1


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


# -- recovery: the checkpoint with the journal after it, written into resources provisioned anew --------------


def test_a_stop_then_a_start_under_new_names_restores_everything(journaled: Journaled) -> None:
    env, store = journaled.env, journaled.store
    first = provision(env, "first")
    journaled.arm(first)
    written = write_data(env, first)
    before_items = scan_all(env, first.tables[TABLE])
    assert queue_events(env, first) == ["ObjectCreated:Put"] * len(OBJECTS)
    journaled.stop()
    assert store.exists() and store.checkpoint_path.stat().st_mode & 0o777 == 0o600  # it holds passwords

    env.reset()
    assert env.client("dynamodb").list_tables()["TableNames"] == []
    second = provision(env, "second")
    assert set(second.tables.values()).isdisjoint(first.tables.values())
    restored = StateStore(store.home).recover(env.session, env.endpoint, second)
    assert (restored.items, restored.objects, restored.users) == (61, len(OBJECTS) + 1, 4)
    assert restored.skipped == ()

    # DynamoDB: every item, every type, and the GSI
    assert scan_all(env, second.tables[TABLE]) == before_items
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


def test_recovery_does_not_fire_stream_triggers(journaled: Journaled) -> None:
    env, store = journaled.env, journaled.store
    inventory = provision(env, "streams")
    journaled.arm(inventory)
    env.client("dynamodb").put_item(TableName=inventory.tables[TABLE], Item={"PK": {"S": "a"}, "SK": {"S": "b"}})
    journaled.stop()
    env.reset()
    target = provision(env, "streams2")

    moto_table = moto_backends.moto_table("us-east-1", target.tables[TABLE])
    trigger = "arn:aws:lambda:us-east-1:123456789012:function:on-change"
    # what CreateEventSourceMapping leaves there (moto runs stream triggers without Docker only through this)
    moto_table.lambda_event_source_mappings[trigger] = SimpleNamespace(event_source_arn=moto_table.latest_stream_label)
    stream_sources.uninstall()  # moto's own stream trigger path; the emulator's delivery reads the same mappings
    try:
        with mock.patch("moto.awslambda.models.LambdaBackend.send_dynamodb_items", return_value="ok") as send:
            StateStore(store.home).recover(env.session, env.endpoint, target)
            assert send.call_count == 0
            assert list(moto_table.lambda_event_source_mappings) == [trigger]  # re-attached
            item = {"PK": {"S": "new"}, "SK": {"S": "x"}}
            env.client("dynamodb").put_item(TableName=target.tables[TABLE], Item=item)
    finally:
        stream_sources.install()
    assert send.call_count == 1
    records = send.call_args.args[1]
    assert [r.to_json()["dynamodb"]["Keys"]["PK"]["S"] for r in records] == ["new"]  # not the restored item


def test_resources_missing_from_the_template_are_skipped_and_kept(
    journaled: Journaled, caplog: pytest.LogCaptureFixture
) -> None:
    env, store = journaled.env, journaled.store
    inventory = provision(env, "template-v1")
    journaled.arm(inventory)
    env.client("s3").put_object(Bucket=inventory.buckets[EXTRA_BUCKET], Key="old.txt", Body=b"old data")
    journaled.stop()

    env.reset()
    full = provision(env, "template-v2")
    without_exports = Inventory(tables=full.tables, buckets={BUCKET: full.buckets[BUCKET]}, user_pools=full.user_pools)
    journaled.store = edited = StateStore(store.home)
    with caplog.at_level(logging.WARNING, logger="local-runtime.state"):
        stats = edited.recover(env.session, env.endpoint, without_exports)
    assert stats.skipped == (f"bucket {EXTRA_BUCKET}",)
    assert f"bucket {EXTRA_BUCKET} is not in the template any more" in caplog.text

    # the edited template's checkpoints keep the missing bucket's data, and its blob
    journaled.arm(without_exports)
    env.client("s3").put_object(Bucket=full.buckets[BUCKET], Key="new.txt", Body=b"new data")
    age_blobs(edited)
    assert edited.checkpoint() == 1
    journaled.stop()
    env.reset()
    reverted = provision(env, "template-v3")
    StateStore(store.home).recover(env.session, env.endpoint, reverted)
    body = env.client("s3").get_object(Bucket=reverted.buckets[EXTRA_BUCKET], Key="old.txt")["Body"].read()
    assert body == b"old data"


# -- checkpoints: what the journal holds folded in, at the cost of what it holds --------------------------------


def test_a_blob_no_object_names_goes_once_a_checkpoint_finds_it_old_enough(journaled: Journaled) -> None:
    env, store = journaled.env, journaled.store
    inventory = provision(env, "gc")
    journaled.arm(inventory)
    s3, bucket = env.client("s3"), inventory.buckets[BUCKET]
    s3.put_object(Bucket=bucket, Key="keep.txt", Body=b"keep me")
    s3.put_object(Bucket=bucket, Key="drop.txt", Body=b"drop me")
    s3.put_object(Bucket=bucket, Key="drop-copy.txt", Body=b"keep me")  # shares keep.txt's blob
    store.checkpoint()
    assert len(blobs(store)) == 2

    s3.delete_object(Bucket=bucket, Key="drop.txt")
    s3.delete_object(Bucket=bucket, Key="drop-copy.txt")
    gc.collect()
    store.checkpoint()
    assert len(blobs(store)) == 2  # released, but just made: a put of the same bytes may be naming it right now
    age_blobs(store)
    store.checkpoint(force=True)
    assert [p.read_bytes() for p in store.blobs_path.iterdir()] == [b"keep me"]

    # an overwritten object: new blob in, old blob out
    s3.put_object(Bucket=bucket, Key="keep.txt", Body=b"kept, but changed")
    gc.collect()
    age_blobs(store)
    store.checkpoint()
    assert [p.read_bytes() for p in store.blobs_path.iterdir()] == [b"kept, but changed"]

    # a body whose object never reached the journal (a crash right after it was stored) goes at the next start
    orphan = store.blobs.put(b"stored, never acknowledged")
    age_blobs(store)
    journaled.crash()
    env.reset()
    StateStore(store.home).recover(env.session, env.endpoint, provision(env, "gc2"))
    assert not store.blobs.file(orphan).exists()
    assert [p.read_bytes() for p in store.blobs_path.iterdir()] == [b"kept, but changed"]


def test_a_crash_mid_checkpoint_leaves_the_checkpoint_and_the_journal_as_they_were(
    journaled: Journaled, monkeypatch: pytest.MonkeyPatch
) -> None:
    env, store = journaled.env, journaled.store
    inventory = provision(env, "crash")
    journaled.arm(inventory)
    s3, bucket = env.client("s3"), inventory.buckets[BUCKET]
    s3.put_object(Bucket=bucket, Key="v.txt", Body=b"version 1")
    store.checkpoint()
    through = store.saved.journal_through
    s3.delete_object(Bucket=bucket, Key="v.txt")
    s3.put_object(Bucket=bucket, Key="v2.txt", Body=b"version 2")
    env.client("dynamodb").put_item(TableName=inventory.tables[TABLE], Item={"PK": {"S": "a"}, "SK": {"S": "b"}})

    applied: list[str] = []
    real = Checkpoint._apply

    def crash_on_the_second(self: Checkpoint, *args: Any) -> None:
        applied.append("entry")
        if len(applied) == 2:
            raise OSError("simulated crash")
        real(self, *args)

    monkeypatch.setattr(Checkpoint, "_apply", crash_on_the_second)
    with pytest.raises(OSError, match="simulated"):
        store.checkpoint()
    monkeypatch.undo()
    assert store.saved.journal_through == through  # the fold's transaction was rolled back, whole
    assert [n for n in journal_module.segment_numbers(store.journal_path) if n > through]  # and its journal kept
    journaled.crash()

    env.reset()
    target = provision(env, "crash2")
    stats = StateStore(store.home).recover(env.session, env.endpoint, target)
    assert (stats.items, stats.objects) == (1, 1)
    assert s3.get_object(Bucket=target.buckets[BUCKET], Key="v2.txt")["Body"].read() == b"version 2"
    assert "Contents" not in s3.list_objects_v2(Bucket=target.buckets[BUCKET], Prefix="v.txt")


def test_checkpoints_never_interleave(journaled: Journaled, monkeypatch: pytest.MonkeyPatch) -> None:
    env, store = journaled.env, journaled.store
    journaled.arm(provision(env, "lock"))
    active, overlaps = [0], []
    real = Checkpoint.fold

    def slow(self: Checkpoint, *args: Any, **kwargs: Any) -> Any:
        active[0] += 1
        overlaps.append(active[0])
        time.sleep(0.05)
        try:
            return real(self, *args, **kwargs)
        finally:
            active[0] -= 1

    monkeypatch.setattr(Checkpoint, "fold", slow)
    threads = [threading.Thread(target=lambda: store.checkpoint(force=True)) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert overlaps == [1, 1, 1]


# -- the checkpoint's file ------------------------------------------------------------------------------------


def test_an_unreadable_or_unknown_checkpoint_is_a_clear_error(tmp_path: Path, aws_session: boto3.Session) -> None:
    home, empty = tmp_path / "state", Inventory(tables={}, buckets={}, user_pools={})
    home.mkdir()

    def recover() -> None:
        StateStore(home).recover(aws_session, "http://127.0.0.1:9", empty)

    (home / "state.db").write_bytes(b"not a database at all" * 200)
    with pytest.raises(StateStoreError, match="state.db is unreadable.*move .* away to start afresh"):
        recover()
    (home / "state.db").unlink()
    other = sqlite3.connect(home / "state.db")
    other.executescript(
        "CREATE TABLE meta (name TEXT, value TEXT);"
        "INSERT INTO meta VALUES ('format', 'annolake-local-state'), ('version', '99');"
    )
    other.close()
    with pytest.raises(StateStoreError, match="version 99, this code reads version 2"):
        recover()
    (home / "state.db").unlink()

    (home / "state.json").write_text("{not json")
    with pytest.raises(StateStoreError, match="state.json is unreadable.*start afresh"):
        recover()
    (home / "state.json").write_text(json.dumps({"format": "annolake-local-state", "version": 99}))
    with pytest.raises(StateStoreError, match="version 99"):
        recover()
    assert not (home / "state.db").exists()  # nothing half made


def test_a_format_1_state_json_is_imported_once_and_its_items_then_change_in_place(journaled: Journaled) -> None:
    """The checkpoint of earlier versions (one ``state.json``, without the tables' key names) becomes the
    database on the first start; the journal segments after it are replayed over it and the ones it held are
    not; later changes to its items replace them rather than adding second copies."""
    env, store = journaled.env, journaled.store
    inventory = provision(env, "format-1")
    store.blobs.prepare()
    digest = store.blobs.put(b"an old body")

    def item(pk: str, v: int) -> dict[str, Any]:
        return {"PK": {"S": pk}, "SK": {"S": "1"}, "v": {"N": str(v)}}

    manifest = {
        "format": "annolake-local-state",
        "version": 1,
        "journal_through": 3,
        "tables": {TABLE: {"physical_name": "old", "items": [item("a", 1), item("b", 1), item("c", 1)]}},
        "buckets": {
            BUCKET: {
                "physical_name": "old",
                "objects": [
                    {"key": "old.txt", "sha256": digest, "etag": '"x"', "size": 11, "content_type": "text/plain"}
                ],
            }
        },
        "user_pools": {},
    }
    (store.home / "state.json").write_text(json.dumps(manifest))
    for number, entries in (
        (3, [{"t": "item", "table": TABLE, "key": {"PK": {"S": "c"}, "SK": {"S": "1"}}, "item": None}]),  # held
        (
            4,
            [
                {"t": "item", "table": TABLE, "key": {"PK": {"S": "a"}, "SK": {"S": "1"}}, "item": item("a", 2)},
                {"t": "item", "table": TABLE, "key": {"PK": {"S": "b"}, "SK": {"S": "1"}}, "item": None},
            ],
        ),
    ):
        segment = journal_module.Journal(store.journal_path, durable=False)
        segment.open(number)
        segment.commit(segment.append(entries))
        segment.close()

    stats = store.recover(env.session, env.endpoint, inventory)
    assert (stats.items, stats.objects) == (2, 1)
    assert scan_all(env, inventory.tables[TABLE]) == [item("a", 2), item("c", 1)]
    assert env.client("s3").get_object(Bucket=inventory.buckets[BUCKET], Key="old.txt")["Body"].read() == b"an old body"
    assert not (store.home / "state.json").exists() and (store.home / "state.json.format-1").is_file()

    journaled.arm(inventory)
    env.client("dynamodb").put_item(TableName=inventory.tables[TABLE], Item=item("c", 3))
    journaled.stop()
    env.reset()
    again = provision(env, "format-1-again")
    assert StateStore(store.home).recover(env.session, env.endpoint, again).items == 2
    assert scan_all(env, again.tables[TABLE]) == [item("a", 2), item("c", 3)]
