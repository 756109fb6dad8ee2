"""Keep the local emulator's data across restarts of ``make up``.

Every start provisions the synthesized template afresh on an empty emulator, so physical names (tables,
buckets, user pool ids) may differ from one start to the next; logical ids (``Stack/LogicalId``) do not. This
module snapshots the *data* of the provisioned resources, keyed by logical id, into ``home`` and writes it back
into the newly provisioned resources on the next start.

What is kept
  - DynamoDB: every item of every table in the inventory (full paginated scan, typed DynamoDB JSON; binary
    values base64-encoded).
  - S3: every current object version of every bucket in the inventory: key, body, Content-Type, user
    metadata and the Cache-Control / Content-Disposition / Content-Encoding / Content-Language headers.
  - Cognito: every user of every user pool in the inventory: username, attributes, enabled flag, status,
    password, and ``sub``; and the pools' groups and memberships.

What is not kept
  - Step Functions executions and their history, including executions in flight when the process stops;
    Lambda invocations in flight; SQS messages; CloudWatch logs and metrics; EventBridge events.
  - S3 object versions other than the current one, object tags and ACLs, multipart uploads in progress;
    original ETags and LastModified dates (restored objects get new ones).
  - Cognito tokens and sessions (everybody signs in again), MFA settings, refresh tokens.
  - Anything about the resources themselves: they come from the template on every start.

Durability and the crash window
  A snapshot is taken periodically and on a clean shutdown (``runtime.LocalPlatform``). Changes made since the
  last completed snapshot are lost if the process is killed (SIGKILL, power loss, a crash). A snapshot is not a
  point-in-time copy: tables, buckets and pools are read one after the other while the platform keeps serving,
  so a snapshot taken during writes can hold an item written after an object it refers to was read (the next
  snapshot catches up). A snapshot that fails half-way leaves the previous one intact:

  - object bodies are stored content-addressed in ``home/blobs/<sha256>``, each written once (temporary file,
    fsync, rename) and never rewritten; an unchanged object (same logical bucket, key, ETag and size as in the
    previous manifest) is not downloaded again;
  - the manifest ``home/state.json`` is written to ``state.json.tmp``, fsynced and renamed over the old one
    (``os.replace``), then the directory is fsynced; a leftover ``state.json.tmp`` from a crash is ignored;
  - blobs that the new manifest no longer references are deleted only after it is in place.

Passwords
  Cognito does not return passwords through its API. The local runtime runs moto in this same process, so
  they are read from moto's in-process backend
  (``moto.cognitoidp.models.cognitoidp_backends[account][region].user_pools[pool_id].users[username].password``)
  and written back with ``AdminSetUserPassword``. ``state.json`` therefore holds passwords in clear text (the
  emulator's users are local test users; the file is created with mode 0600). When the emulator is *not* in
  this process, users are saved without passwords and restored with none set (a warning says so).

Other in-process hooks (restore only; skipped with a warning when moto is not in this process)
  - A restored user keeps its ``sub`` (and, in pools whose users sign in with an email or phone number, its
    generated username), so ids stored in tables keep pointing at the same user.
  - DynamoDB stream triggers are detached from the tables while their items are written back (moto 5.2.5
    invokes stream-triggered functions synchronously and ignores ``Enabled=False`` on the mapping), so
    restoring does not re-run the side effects that produced the data. S3 bucket notifications are switched
    off through the API while objects are written back, for the same reason.

Resources present in the snapshot but missing from the inventory (the template changed) are skipped with a
warning on restore, and carried over unchanged by later snapshots, so that data is not lost by a template edit
that is later reverted.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

log = logging.getLogger("local-runtime.state")

FORMAT = "annolake-local-state"
VERSION = 1
MANIFEST_NAME = "state.json"
BLOBS_NAME = "blobs"

_CLIENT_CONFIG = Config(retries={"max_attempts": 5, "mode": "standard"}, connect_timeout=10, read_timeout=120)
_OBJECT_HEADERS = ("CacheControl", "ContentDisposition", "ContentEncoding", "ContentLanguage")
_BATCH_WRITE_LIMIT = 25
_CHUNK = 1 << 20


class StateStoreError(RuntimeError):
    """A snapshot or restore that cannot go on (unreadable state, a resource the emulator does not have...)."""


@dataclass(frozen=True)
class Inventory:
    """The provisioned resources whose data is kept, by logical id (``Stack/LogicalId``)."""

    tables: dict[str, str]  # logical id -> physical table name
    buckets: dict[str, str]  # logical id -> physical bucket name
    user_pools: dict[str, str]  # logical id -> user pool id


@dataclass(frozen=True)
class SnapshotStats:
    """What a snapshot or restore did. ``bytes_written``: to disk (snapshot) or to the emulator (restore)."""

    items: int = 0
    objects: int = 0
    users: int = 0
    bytes_written: int = 0
    seconds: float = 0.0
    blobs_written: int = 0
    blobs_deleted: int = 0
    manifest_written: bool = False
    skipped: tuple[str, ...] = field(default=())

    def __str__(self) -> str:
        text = (
            f"{self.items} items, {self.objects} objects, {self.users} users, "
            f"{self.bytes_written} bytes written in {self.seconds:.2f} s"
        )
        if self.blobs_written or self.blobs_deleted:
            text += f" ({self.blobs_written} new blobs, {self.blobs_deleted} deleted)"
        if self.skipped:
            text += f"; skipped: {', '.join(self.skipped)}"
        return text


@dataclass
class _Counter:
    items: int = 0
    objects: int = 0
    users: int = 0
    bytes_written: int = 0
    blobs_written: int = 0
    blobs_deleted: int = 0
    manifest_written: bool = False
    skipped: list[str] = field(default_factory=list)

    def stats(self, started: float) -> SnapshotStats:
        return SnapshotStats(
            items=self.items,
            objects=self.objects,
            users=self.users,
            bytes_written=self.bytes_written,
            seconds=time.monotonic() - started,
            blobs_written=self.blobs_written,
            blobs_deleted=self.blobs_deleted,
            manifest_written=self.manifest_written,
            skipped=tuple(self.skipped),
        )


class StateStore:
    """Snapshots of the emulator's data in ``home`` (``state.json`` + ``blobs/``); see the module docstring."""

    def __init__(self, home: Path) -> None:
        self.home = Path(home)
        self.manifest_path = self.home / MANIFEST_NAME
        self.blobs_path = self.home / BLOBS_NAME
        # One snapshot or restore at a time: a periodic snapshot never interleaves with the shutdown one.
        self._lock = threading.Lock()
        # Wall-clock start of this process's last completed snapshot; see _snapshot_object.
        self._previous_snapshot_started: float | None = None

    def exists(self) -> bool:
        """Whether a completed snapshot is there to restore (a leftover ``state.json.tmp`` does not count)."""
        return self.manifest_path.is_file()

    # -- snapshot -------------------------------------------------------------------------------------------

    def snapshot(self, session: boto3.Session, endpoint_url: str, inventory: Inventory) -> SnapshotStats:
        """Save the data of every resource in ``inventory``; returns what was saved."""
        with self._lock:
            started = time.monotonic()
            started_wall = time.time()
            counter = _Counter()
            self.home.mkdir(parents=True, exist_ok=True, mode=0o700)
            self.blobs_path.mkdir(exist_ok=True, mode=0o700)
            previous = self._load() if self.exists() else _empty_manifest()
            clients = _Clients(session, endpoint_url)

            manifest = _empty_manifest()
            for logical_id, table in sorted(inventory.tables.items()):
                manifest["tables"][logical_id] = self._snapshot_table(clients, logical_id, table, counter)
            for logical_id, bucket in sorted(inventory.buckets.items()):
                cached = previous["buckets"].get(logical_id, {}).get("objects", [])
                manifest["buckets"][logical_id] = self._snapshot_bucket(clients, logical_id, bucket, cached, counter)
            for logical_id, pool_id in sorted(inventory.user_pools.items()):
                manifest["user_pools"][logical_id] = self._snapshot_user_pool(clients, logical_id, pool_id, counter)
            self._carry_over(previous, manifest, inventory)

            payload = json.dumps(manifest, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()
            if not self.exists() or self.manifest_path.read_bytes() != payload:
                self._write_manifest(payload)
                counter.bytes_written += len(payload)
                counter.manifest_written = True
            counter.blobs_deleted = self._collect_garbage(manifest)
            self._previous_snapshot_started = started_wall
            stats = counter.stats(started)
            log.debug("snapshot: %s", stats)
            return stats

    def _snapshot_table(self, clients: _Clients, logical_id: str, table: str, counter: _Counter) -> dict[str, Any]:
        items: list[dict[str, Any]] = []
        with _context(f"snapshot of table {logical_id} ({table})"):
            for page in clients.dynamodb.get_paginator("scan").paginate(TableName=table, ConsistentRead=True):
                items.extend(_encode_item(item) for item in page.get("Items", []))
        counter.items += len(items)
        return {"physical_name": table, "items": items}

    def _snapshot_bucket(
        self,
        clients: _Clients,
        logical_id: str,
        bucket: str,
        cached_objects: list[dict[str, Any]],
        counter: _Counter,
    ) -> dict[str, Any]:
        cache = {entry["key"]: entry for entry in cached_objects}
        objects: list[dict[str, Any]] = []
        s3 = clients.s3
        with _context(f"snapshot of bucket {logical_id} ({bucket})"):
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
                for listed in page.get("Contents", []):
                    entry = self._snapshot_object(s3, bucket, listed, cache.get(listed["Key"]), counter)
                    if entry is not None:
                        objects.append(entry)
        counter.objects += len(objects)
        return {"physical_name": bucket, "objects": objects}

    def _snapshot_object(
        self, s3: Any, bucket: str, listed: Mapping[str, Any], cached: Mapping[str, Any] | None, counter: _Counter
    ) -> dict[str, Any] | None:
        key, etag, size = listed["Key"], listed["ETag"], listed["Size"]
        last_modified = listed["LastModified"].isoformat()
        if (
            cached is not None
            and cached["etag"] == etag
            and cached["size"] == size
            and (self.blobs_path / cached["sha256"]).is_file()
        ):
            entry = dict(cached)
            # Same content. Its headers may still have changed (a copy onto itself with new metadata keeps the
            # ETag), and LastModified only has whole seconds: the saved headers are trusted only when the
            # object is unchanged since a second before the previous snapshot of this process began.
            # Otherwise (and on the first snapshot after a start) they are read again; the body is not.
            previous = self._previous_snapshot_started
            if (
                cached.get("last_modified") != last_modified
                or previous is None
                or listed["LastModified"].timestamp() >= previous - 1.0
            ):
                try:
                    head = s3.head_object(Bucket=bucket, Key=key)
                except ClientError as error:
                    if _error_code(error) in ("404", "NoSuchKey", "NotFound"):
                        return None  # deleted since it was listed
                    raise
                entry.update(_object_headers(head), last_modified=last_modified)
            return entry
        try:
            response = s3.get_object(Bucket=bucket, Key=key)
        except ClientError as error:
            if _error_code(error) in ("404", "NoSuchKey", "NotFound"):
                return None
            raise
        digest, stored_size, written = self._store_blob(response["Body"])
        if written:
            counter.blobs_written += 1
            counter.bytes_written += stored_size
        # The object may have changed between the listing and the read: describe what was read.
        return {
            "key": key,
            "etag": response.get("ETag", etag),
            "size": stored_size,
            "last_modified": last_modified,  # the listing's (milliseconds; GetObject's header has seconds)
            "sha256": digest,
            **_object_headers(response),
        }

    def _store_blob(self, body: Any) -> tuple[str, int, bool]:
        """Stream ``body`` into ``blobs/<sha256>``; returns (sha256, size, whether a new blob was written)."""
        tmp = self.blobs_path / f".incoming-{uuid.uuid4().hex}.tmp"
        digest = hashlib.sha256()
        size = 0
        try:
            with tmp.open("wb") as handle:
                for chunk in body.iter_chunks(_CHUNK):
                    digest.update(chunk)
                    handle.write(chunk)
                    size += len(chunk)
                handle.flush()
                os.fsync(handle.fileno())
            final = self.blobs_path / digest.hexdigest()
            if final.exists():  # content-addressed: never rewritten
                tmp.unlink()
                return digest.hexdigest(), size, False
            os.replace(tmp, final)
            return digest.hexdigest(), size, True
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()

    def _snapshot_user_pool(
        self, clients: _Clients, logical_id: str, pool_id: str, counter: _Counter
    ) -> dict[str, Any]:
        cognito = clients.cognito
        with _context(f"snapshot of user pool {logical_id} ({pool_id})"):
            groups: list[dict[str, Any]] = []
            memberships: dict[str, list[str]] = {}
            for page in cognito.get_paginator("list_groups").paginate(UserPoolId=pool_id):
                for group in page.get("Groups", []):
                    groups.append(
                        {k: group[k] for k in ("GroupName", "Description", "Precedence", "RoleArn") if k in group}
                    )
                    for members in cognito.get_paginator("list_users_in_group").paginate(
                        UserPoolId=pool_id, GroupName=group["GroupName"]
                    ):
                        for member in members.get("Users", []):
                            memberships.setdefault(member["Username"], []).append(group["GroupName"])
            backend_pool = _moto_user_pool(pool_id)
            if backend_pool is None:
                log.warning(
                    "user pool %s (%s) is not in this process's moto backend: users are saved without passwords",
                    logical_id,
                    pool_id,
                )
            users: list[dict[str, Any]] = []
            for page in cognito.get_paginator("list_users").paginate(UserPoolId=pool_id):
                for user in page.get("Users", []):
                    attributes = {a["Name"]: a.get("Value", "") for a in user.get("Attributes", [])}
                    backend_user = backend_pool.users.get(user["Username"]) if backend_pool is not None else None
                    users.append(
                        {
                            "username": user["Username"],
                            "sub": attributes.pop("sub", None),
                            "attributes": attributes,
                            "enabled": user.get("Enabled", True),
                            "status": user.get("UserStatus"),
                            "password": getattr(backend_user, "password", None),
                            "groups": sorted(memberships.get(user["Username"], [])),
                        }
                    )
        counter.users += len(users)
        return {"physical_id": pool_id, "groups": groups, "users": users}

    def _carry_over(self, previous: dict[str, Any], manifest: dict[str, Any], inventory: Inventory) -> None:
        for kind, current in (
            ("tables", inventory.tables),
            ("buckets", inventory.buckets),
            ("user_pools", inventory.user_pools),
        ):
            for logical_id, saved in previous[kind].items():
                if logical_id not in current:
                    log.warning(
                        "saved %s %s is not in the template any more: its saved data is kept as it was",
                        kind[:-1].replace("_", " "),
                        logical_id,
                    )
                    manifest[kind][logical_id] = saved

    def _write_manifest(self, payload: bytes) -> None:
        tmp = self.manifest_path.with_name(self.manifest_path.name + ".tmp")
        descriptor = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            os.fchmod(handle.fileno(), 0o600)  # it holds passwords, and a leftover .tmp may have other modes
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        # Blobs first: the manifest must never reference a blob that is not on disk.
        _fsync_directory(self.blobs_path)
        os.replace(tmp, self.manifest_path)
        _fsync_directory(self.home)

    def _collect_garbage(self, manifest: Mapping[str, Any]) -> int:
        referenced = {obj["sha256"] for bucket in manifest["buckets"].values() for obj in bucket["objects"]}
        deleted = 0
        for path in self.blobs_path.iterdir():
            if path.name not in referenced:
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
                    deleted += 1
        return deleted

    # -- restore --------------------------------------------------------------------------------------------

    def restore(self, session: boto3.Session, endpoint_url: str, inventory: Inventory) -> SnapshotStats:
        """Write the saved data into the resources of ``inventory`` (freshly provisioned, empty)."""
        with self._lock:
            started = time.monotonic()
            counter = _Counter()
            manifest = self._load()
            clients = _Clients(session, endpoint_url)
            for logical_id, saved in sorted(manifest["tables"].items()):
                table = self._target("table", logical_id, inventory.tables, counter)
                if table is not None:
                    self._restore_table(clients, logical_id, table, saved["items"], counter)
            for logical_id, saved in sorted(manifest["buckets"].items()):
                bucket = self._target("bucket", logical_id, inventory.buckets, counter)
                if bucket is not None:
                    self._restore_bucket(clients, logical_id, bucket, saved["objects"], counter)
            for logical_id, saved in sorted(manifest["user_pools"].items()):
                pool_id = self._target("user pool", logical_id, inventory.user_pools, counter)
                if pool_id is not None:
                    self._restore_user_pool(clients, logical_id, pool_id, saved, counter)
            stats = counter.stats(started)
            log.debug("restore: %s", stats)
            return stats

    @staticmethod
    def _target(kind: str, logical_id: str, current: Mapping[str, str], counter: _Counter) -> str | None:
        if logical_id in current:
            return current[logical_id]
        log.warning("saved %s %s is not in the template any more: its data is not restored", kind, logical_id)
        counter.skipped.append(f"{kind} {logical_id}")
        return None

    def _restore_table(
        self, clients: _Clients, logical_id: str, table: str, items: list[dict[str, Any]], counter: _Counter
    ) -> None:
        dynamodb = clients.dynamodb
        with _context(f"restore of table {logical_id} ({table})"), _stream_triggers_detached(clients.region, table):
            for start in range(0, len(items), _BATCH_WRITE_LIMIT):
                requests = [
                    {"PutRequest": {"Item": _decode_item(item)}} for item in items[start : start + _BATCH_WRITE_LIMIT]
                ]
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
        counter.items += len(items)

    def _restore_bucket(
        self, clients: _Clients, logical_id: str, bucket: str, objects: list[dict[str, Any]], counter: _Counter
    ) -> None:
        s3 = clients.s3
        with _context(f"restore of bucket {logical_id} ({bucket})"), _notifications_off(s3, bucket):
            for entry in objects:
                blob = self.blobs_path / entry["sha256"]
                if not blob.is_file():
                    log.error(
                        "restore of s3://%s/%s: its saved body %s is missing; skipped", bucket, entry["key"], blob
                    )
                    counter.skipped.append(f"object {logical_id}/{entry['key']}")
                    continue
                extra: dict[str, Any] = {"Metadata": entry.get("metadata", {})}
                if entry.get("content_type"):
                    extra["ContentType"] = entry["content_type"]
                extra.update({name: entry[name] for name in _OBJECT_HEADERS if entry.get(name)})
                with blob.open("rb") as body:
                    s3.put_object(Bucket=bucket, Key=entry["key"], Body=body, **extra)
                counter.objects += 1
                counter.bytes_written += blob.stat().st_size

    def _restore_user_pool(
        self, clients: _Clients, logical_id: str, pool_id: str, saved: Mapping[str, Any], counter: _Counter
    ) -> None:
        cognito = clients.cognito
        with _context(f"restore of user pool {logical_id} ({pool_id})"):
            described = cognito.describe_user_pool(UserPoolId=pool_id)["UserPool"]
            username_attributes = described.get("UsernameAttributes") or []
            for group in saved.get("groups", []):
                with contextlib.suppress(cognito.exceptions.GroupExistsException):
                    cognito.create_group(UserPoolId=pool_id, **group)
            backend_pool = _moto_user_pool(pool_id)
            if backend_pool is None:
                log.warning(
                    "user pool %s (%s) is not in this process's moto backend: users keep new subs", logical_id, pool_id
                )
            for user in saved.get("users", []):
                self._restore_user(cognito, pool_id, user, username_attributes, backend_pool)
                counter.users += 1

    @staticmethod
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
                "user %s already exists in %s: its password and state are set from the snapshot", username, pool_id
            )
            created = cognito.admin_get_user(UserPoolId=pool_id, Username=sign_in_name)["Username"]
        if backend_pool is not None:
            _pin_identity(backend_pool, created, username, user.get("sub"))
            created = username
        password = user.get("password")
        if password:
            permanent = user.get("status") != "FORCE_CHANGE_PASSWORD"
            cognito.admin_set_user_password(
                UserPoolId=pool_id, Username=created, Password=password, Permanent=permanent
            )
        else:
            log.warning("user %s of %s was saved without a password: it has none now", username, pool_id)
        if backend_pool is not None and user.get("status") in ("UNCONFIRMED", "RESET_REQUIRED", "EXTERNAL_PROVIDER"):
            backend_pool.users[created].status = user["status"]
        if not user.get("enabled", True):
            cognito.admin_disable_user(UserPoolId=pool_id, Username=created)
        for group in user.get("groups", []):
            cognito.admin_add_user_to_group(UserPoolId=pool_id, Username=created, GroupName=group)

    # -- manifest -------------------------------------------------------------------------------------------

    def _load(self) -> dict[str, Any]:
        try:
            manifest = json.loads(self.manifest_path.read_bytes())
        except FileNotFoundError:
            raise StateStoreError(f"no saved state at {self.manifest_path}") from None
        except (ValueError, UnicodeDecodeError) as error:
            raise StateStoreError(
                f"saved state {self.manifest_path} is unreadable ({error}); move {self.home} away to start afresh"
            ) from None
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise StateStoreError(f"{self.manifest_path} is not an Annolake local state file")
        if manifest.get("version") != VERSION:
            raise StateStoreError(
                f"{self.manifest_path} has state format version {manifest.get('version')}, this code reads "
                f"version {VERSION}; move {self.home} away to start afresh"
            )
        return manifest


# -- helpers ----------------------------------------------------------------------------------------------------


class _Clients:
    def __init__(self, session: boto3.Session, endpoint_url: str) -> None:
        self._session = session
        self._endpoint_url = endpoint_url
        self._clients: dict[str, Any] = {}
        self.region: str = session.region_name or "us-east-1"

    def _client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self._session.client(
                service, endpoint_url=self._endpoint_url, region_name=self.region, config=_CLIENT_CONFIG
            )
        return self._clients[service]

    @property
    def dynamodb(self) -> Any:
        return self._client("dynamodb")

    @property
    def s3(self) -> Any:
        return self._client("s3")

    @property
    def cognito(self) -> Any:
        return self._client("cognito-idp")


def _empty_manifest() -> dict[str, Any]:
    return {"format": FORMAT, "version": VERSION, "tables": {}, "buckets": {}, "user_pools": {}}


@contextlib.contextmanager
def _context(what: str) -> Iterator[None]:
    """Name the resource in the error of a failed call (botocore's messages do not say which one)."""
    try:
        yield
    except ClientError as error:
        raise StateStoreError(f"{what} failed: {error}") from error


def _error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _object_headers(response: Mapping[str, Any]) -> dict[str, Any]:
    headers: dict[str, Any] = {
        "content_type": response.get("ContentType"),
        "metadata": dict(response.get("Metadata", {})),
    }
    headers.update({name: response[name] for name in _OBJECT_HEADERS if response.get(name)})
    return headers


def _encode_value(value: Mapping[str, Any]) -> dict[str, Any]:
    """A typed DynamoDB attribute value as JSON: binary (B, BS) base64-encoded, M and L recursively."""
    ((kind, content),) = value.items()
    if kind == "B":
        return {"B": base64.b64encode(content).decode("ascii")}
    if kind == "BS":
        return {"BS": [base64.b64encode(b).decode("ascii") for b in content]}
    if kind == "M":
        return {"M": {k: _encode_value(v) for k, v in content.items()}}
    if kind == "L":
        return {"L": [_encode_value(v) for v in content]}
    return {kind: content}


def _decode_value(value: Mapping[str, Any]) -> dict[str, Any]:
    ((kind, content),) = value.items()
    if kind == "B":
        return {"B": base64.b64decode(content)}
    if kind == "BS":
        return {"BS": [base64.b64decode(b) for b in content]}
    if kind == "M":
        return {"M": {k: _decode_value(v) for k, v in content.items()}}
    if kind == "L":
        return {"L": [_decode_value(v) for v in content]}
    return {kind: content}


def _encode_item(item: Mapping[str, Any]) -> dict[str, Any]:
    return {name: _encode_value(value) for name, value in item.items()}


def _decode_item(item: Mapping[str, Any]) -> dict[str, Any]:
    return {name: _decode_value(value) for name, value in item.items()}


def _fsync_directory(path: Path) -> None:
    """Make a rename in ``path`` durable (POSIX; a no-op where directories cannot be opened)."""
    try:
        descriptor = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


# -- moto's in-process backends (see the module docstring) ------------------------------------------------------


def _in_process_backends(backends: Any, region: str) -> Iterator[Any]:
    for account_id in list(backends.keys()):
        try:
            yield backends[account_id][region]
        except KeyError:
            continue


def _moto_user_pool(pool_id: str) -> Any | None:
    """moto's in-process model of a user pool, or None when the emulator runs elsewhere."""
    try:
        from moto.cognitoidp.models import cognitoidp_backends
    except ImportError:
        return None
    region = pool_id.split("_", 1)[0]
    for backend in _in_process_backends(cognitoidp_backends, region):
        pool = backend.user_pools.get(pool_id)
        if pool is not None:
            return pool
    return None


def _moto_table(region: str, table: str) -> Any | None:
    try:
        from moto.dynamodb.models import dynamodb_backends
    except ImportError:
        return None
    for backend in _in_process_backends(dynamodb_backends, region):
        found = backend.tables.get(table)
        if found is not None:
            return found
    return None


def _pin_identity(pool: Any, created: str, username: str, sub: str | None) -> None:
    """Give the re-created user its old ``sub`` and username (a generated one, in email-sign-in pools)."""
    user = pool.users[created]
    if created != username:
        if username in pool.users:
            raise StateStoreError(f"cannot restore user {username}: another user of {pool.id} has that name")
        del pool.users[created]
        user.username = username
        pool.users[username] = user
    if sub:
        user.id = sub
        user.update_attributes([{"Name": "sub", "Value": sub}])


@contextlib.contextmanager
def _stream_triggers_detached(region: str, table: str) -> Iterator[None]:
    moto_table = _moto_table(region, table)
    mappings = getattr(moto_table, "lambda_event_source_mappings", None)
    if not mappings:
        if moto_table is None:
            log.debug("table %s is not in this process's moto backend; stream triggers stay attached", table)
        yield
        return
    saved = dict(mappings)
    mappings.clear()
    try:
        yield
    finally:
        mappings.update(saved)
        stream = getattr(moto_table, "stream_shard", None)
        if stream is not None:
            stream.items.clear()  # the restored records must not reach the triggers with the next change either


@contextlib.contextmanager
def _notifications_off(s3: Any, bucket: str) -> Iterator[None]:
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
