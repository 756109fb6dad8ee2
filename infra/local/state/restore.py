"""Writing the checkpoint's data back into freshly provisioned (empty) resources, triggers and notifications off."""

from __future__ import annotations

import contextlib
import datetime
import itertools
import logging
import time
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from infra.local.state.aws import OBJECT_HEADERS, Clients, naming
from infra.local.state.blobs import BlobBuffer, BlobStore
from infra.local.state.dynamodb_json import decode_item
from infra.local.state.model import StateStoreError, Tally
from infra.local.state.moto_backends import moto_table, moto_user_pool, pin_identity, stream_triggers_detached

log = logging.getLogger("local-runtime.state")

_BATCH_WRITE_LIMIT = 25


def target(kind: str, logical_id: str, current: Mapping[str, str], tally: Tally) -> str | None:
    """The physical resource that receives the saved data of ``logical_id``, or None (skipped, with a warning)."""
    if logical_id in current:
        return current[logical_id]
    log.warning("saved %s %s is not in the template any more: its data is not restored", kind, logical_id)
    tally.skipped.append(f"{kind} {logical_id}")
    return None


def restore_table(clients: Clients, logical_id: str, table: str, items: Iterable[dict[str, Any]], tally: Tally) -> None:
    dynamodb = clients.dynamodb
    with naming(f"restore of table {logical_id} ({table})"), stream_triggers_detached(clients.region, table):
        for batch in _batched(items):
            requests = [{"PutRequest": {"Item": decode_item(item)}} for item in batch]
            pending: dict[str, Any] = {table: requests}
            for attempt in range(8):
                pending = dynamodb.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
                if not pending:
                    break
                time.sleep(min(0.05 * 2**attempt, 2.0))
            else:
                raise StateStoreError(
                    f"restore of table {logical_id} ({table}): the emulator kept refusing "
                    f"{len(pending.get(table, []))} items (UnprocessedItems)"
                )
            tally.items += len(batch)


def _batched(items: Iterable[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    iterator = iter(items)
    while batch := list(itertools.islice(iterator, _BATCH_WRITE_LIMIT)):
        yield batch


def restore_table_in_process(
    region: str, logical_id: str, table: str, items: Iterable[dict[str, Any]], tally: Tally
) -> bool:
    """Put the saved items straight into moto's table (no request per batch, no checks they passed when they
    were first written); False when moto is not in this process.

    The items are as moto's API takes them (``encode_model_item`` wrote them: binary values in base64), so the
    table holds what ``BatchWriteItem`` would have put there. An item's attributes go in as one dict update:
    moto's size-checked dict re-measures the whole item per attribute set, which made restoring cost seconds
    per ten thousand items."""
    found = moto_table(region, table)
    if found is None:
        return False
    from infra.local.moto_patches.dynamodb_compact import put_straight

    def counted() -> Iterator[dict[str, Any]]:
        for item in items:
            tally.items += 1
            yield item

    with naming(f"restore of table {logical_id} ({table})"), stream_triggers_detached(region, table):
        put_straight(found, counted())
    return True


def restore_bucket(
    blobs: BlobStore, clients: Clients, logical_id: str, bucket: str, objects: Iterable[dict[str, Any]], tally: Tally
) -> None:
    s3 = clients.s3
    with naming(f"restore of bucket {logical_id} ({bucket})"), _notifications_off(s3, bucket):
        for entry in objects:
            blob = blobs.file(entry["sha256"])
            if not blob.is_file():
                log.error("restore of s3://%s/%s: its saved body %s is missing; skipped", bucket, entry["key"], blob)
                tally.skipped.append(f"object {logical_id}/{entry['key']}")
                continue
            extra: dict[str, Any] = {"Metadata": entry.get("metadata", {})}
            if entry.get("content_type"):
                extra["ContentType"] = entry["content_type"]
            extra.update({name: entry[name] for name in OBJECT_HEADERS if entry.get(name)})
            with blob.open("rb") as body:
                s3.put_object(Bucket=bucket, Key=entry["key"], Body=body, **extra)
            tally.objects += 1
            tally.bytes_written += blob.stat().st_size


def restore_user_pool(clients: Clients, logical_id: str, pool_id: str, saved: Mapping[str, Any], tally: Tally) -> None:
    cognito = clients.cognito
    with naming(f"restore of user pool {logical_id} ({pool_id})"):
        described = cognito.describe_user_pool(UserPoolId=pool_id)["UserPool"]
        username_attributes = described.get("UsernameAttributes") or []
        for group in saved.get("groups", []):
            with contextlib.suppress(cognito.exceptions.GroupExistsException):
                cognito.create_group(UserPoolId=pool_id, **group)
        backend_pool = moto_user_pool(pool_id)
        if backend_pool is None:
            log.warning(
                "user pool %s (%s) is not in this process's moto backend: users keep new subs", logical_id, pool_id
            )
        for user in saved.get("users", []):
            _restore_user(cognito, pool_id, user, username_attributes, backend_pool)
            tally.users += 1


def _restore_user(
    cognito: Any, pool_id: str, user: Mapping[str, Any], username_attributes: list[str], backend_pool: Any
) -> None:
    username: str = user["username"]
    sign_in_name = username
    if username_attributes:  # the username is generated; users are created by email or phone number
        sign_in_name = next(
            (user["attributes"][name] for name in username_attributes if user["attributes"].get(name)), username
        )
    attributes = [{"Name": name, "Value": value} for name, value in user["attributes"].items()]
    try:
        created = cognito.admin_create_user(
            UserPoolId=pool_id, Username=sign_in_name, UserAttributes=attributes, MessageAction="SUPPRESS"
        )["User"]["Username"]
    except cognito.exceptions.UsernameExistsException:
        log.warning(
            "user %s already exists in %s: its password and state are set from the checkpoint", username, pool_id
        )
        created = cognito.admin_get_user(UserPoolId=pool_id, Username=sign_in_name)["Username"]
    if backend_pool is not None:
        pin_identity(backend_pool, created, username, user.get("sub"))
        created = username
    password = user.get("password")
    if password:
        permanent = user.get("status") != "FORCE_CHANGE_PASSWORD"
        cognito.admin_set_user_password(UserPoolId=pool_id, Username=created, Password=password, Permanent=permanent)
    else:
        log.warning("user %s of %s was saved without a password: it has none now", username, pool_id)
    if backend_pool is not None and user.get("status") in ("UNCONFIRMED", "RESET_REQUIRED", "EXTERNAL_PROVIDER"):
        backend_pool.users[created].status = user["status"]
    if not user.get("enabled", True):
        cognito.admin_disable_user(UserPoolId=pool_id, Username=created)
    for group in user.get("groups", []):
        cognito.admin_add_user_to_group(UserPoolId=pool_id, Username=created, GroupName=group)


@contextlib.contextmanager
def _notifications_off(s3: Any, bucket: str) -> Iterator[None]:
    """The bucket's notifications switched off meanwhile, so restored objects do not start ingests again."""
    configuration = s3.get_bucket_notification_configuration(Bucket=bucket)
    configuration.pop("ResponseMetadata", None)
    if not configuration:
        yield
        return
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={})
    try:
        yield
    finally:
        s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=configuration)


def restore_bucket_in_process(
    blobs: BlobStore, logical_id: str, bucket: str, objects: Iterable[dict[str, Any]], tally: Tally
) -> bool:
    """Put the saved objects straight into moto's bucket, each pointing at its blob (nothing is read or
    copied, no notification is sent); False when moto is not in this process or keeps bodies in memory.

    Each object is made as moto's ``put_object`` makes it, with the bucket's defaults looked up once and
    the blobs on disk listed once, rather than one call and one ``stat`` per object."""
    try:
        from moto.moto_api._internal import mock_random
        from moto.s3.models import FakeKey, s3_backends
    except ImportError:
        return False
    backend = next(
        (s3_backends[a]["aws"] for a in list(s3_backends.keys()) if bucket in s3_backends[a]["aws"].buckets), None
    )
    if backend is None:
        return False
    model = backend.get_bucket(bucket)
    defaults = _object_defaults(model)
    present = blobs.present()
    for entry in objects:
        if entry["sha256"] not in present:
            log.error("restore of s3://%s/%s: its saved body is missing; skipped", bucket, entry["key"])
            tally.skipped.append(f"object {logical_id}/{entry['key']}")
            continue
        key = FakeKey(
            name=entry["key"],
            value=b"",
            account_id=backend.account_id,
            region_name=backend.region_name,
            bucket_name=bucket,
            is_versioned=model.is_versioned,
            version_id=str(mock_random.uuid4()) if model.is_versioned else "null",
            max_buffer_size=_BUFFER_SIZE,
            **defaults,
        )
        if not isinstance(key._value_buffer, BlobBuffer):
            return False
        key._value_buffer.adopt(entry["sha256"], entry["size"])
        key.contentsize = entry["size"]
        key._etag = (entry.get("etag") or "").strip('"') or None
        metadata = {f"x-amz-meta-{name}": value for name, value in entry.get("metadata", {}).items()}
        if entry.get("content_type"):
            metadata["Content-Type"] = entry["content_type"]
        metadata.update({_HEADER_NAMES[name]: entry[name] for name in OBJECT_HEADERS if entry.get(name)})
        key.set_metadata(metadata)
        if entry.get("last_modified"):
            with contextlib.suppress(ValueError):
                key.last_modified = datetime.datetime.fromisoformat(entry["last_modified"]).replace(tzinfo=None)
        versions = model.keys.getlist(entry["key"], []) if model.is_versioned else []
        model.keys.setlist(entry["key"], [*versions, key])
        tally.objects += 1
    return True


_BUFFER_SIZE = 5 * 1024 * 1024  # moto's default; a ``BlobBuffer`` keeps nothing in memory whatever it is


def _object_defaults(bucket: Any) -> dict[str, Any]:
    """The encryption settings ``put_object`` gives a new object of ``bucket`` (its defaults)."""
    if not bucket.encryption:
        return {}
    rule = bucket.encryption["Rule"]
    default = rule["ApplyServerSideEncryptionByDefault"]
    return {
        "encryption": default["SSEAlgorithm"],
        "kms_key_id": default.get("KMSMasterKeyID"),
        "bucket_key_enabled": rule.get("BucketKeyEnabled", False),
    }


_HEADER_NAMES = {
    "CacheControl": "Cache-Control",
    "ContentDisposition": "Content-Disposition",
    "ContentEncoding": "Content-Encoding",
    "ContentLanguage": "Content-Language",
}
