"""Which data each emulator request changed, and its new state as journal entries.

``Recorder`` wraps moto's WSGI application, inside the presign guard and fault injection, so it sees every
request that reaches moto: outside clients (API workers, the SDK, aws-cli, browsers' presigned POSTs) over the
socket and this process's own calls (handlers, the Step Functions engine) through ``in_process``. While a
request runs, hooks on moto's backends note what it touched in a per-thread frame:

- S3: ``put_object`` (PUT, copy, POST form upload, multipart completion) and ``delete_object`` (DELETE and
  DeleteObjects), by bucket and key;
- DynamoDB: ``put_item``, ``update_item``, ``delete_item`` (also what BatchWriteItem and TransactWriteItems
  call), by table and key;
- Cognito: any action other than a read, by user pool (the ``UserPoolId`` of the request; every kept pool
  for actions authorised by an access token).

When moto has answered, and before the answer is handed back, the new state of everything touched is read
from moto's models (an item, an object's digest and headers, a pool's users and groups) and appended to the
journal as one record, then committed. State, not requests, is journaled: replay needs no request ids,
upload ids, signatures or clocks, and its order is the order the states were read in, under one lock, so
the last entry for a key is never older than the last acknowledged write to it. A nested request (a handler
run by a notification inside a PUT) has a frame of its own. A write made outside any request (none today)
is journaled at once by the hook itself.
"""

from __future__ import annotations

import io
import json
import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from infra.local.state.blobs import BlobBuffer, BlobStore
from infra.local.state.dynamodb_json import encode_model_item
from infra.local.state.journal import Journal
from infra.local.state.model import Inventory

log = logging.getLogger("local-runtime.state")
WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
COGNITO_TARGET = "AWSCognitoIdentityProviderService."
_COGNITO_READS = ("Describe", "List", "Get", "AdminGet", "InitiateAuth", "AdminInitiateAuth")


@dataclass
class Frame:
    objects: set[tuple[str, str]] = field(default_factory=set)  # (bucket, key)
    items: dict[tuple[str, str], tuple[Any, dict[str, Any]]] = field(default_factory=dict)  # (table, key) -> ...
    pools: set[str] = field(default_factory=set)
    all_pools: bool = False

    def __bool__(self) -> bool:
        return bool(self.objects or self.items or self.pools or self.all_pools)


_frames = threading.local()


def _stack() -> list[Frame]:
    stack = getattr(_frames, "stack", None)
    if stack is None:
        stack = _frames.stack = []
    return stack


def cognito_action(environ: dict[str, Any]) -> str | None:
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    return target[len(COGNITO_TARGET) :] if target.startswith(COGNITO_TARGET) else None


class Recorder:
    """The WSGI layer that journals what each request changed (see the module docstring)."""

    def __init__(self, app: WSGIApp) -> None:
        self.app = app
        self.capture: Capture | None = None  # set while journaling; None: requests pass untouched

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        capture = self.capture
        if capture is None:
            return self.app(environ, start_response)
        frame = Frame()
        action = cognito_action(environ)
        if action is not None and not action.startswith(_COGNITO_READS):
            pool = _user_pool_of(environ)
            if pool:
                frame.pools.add(pool)
            else:
                frame.all_pools = True
        stack = _stack()
        stack.append(frame)
        try:
            answer = self.app(environ, start_response)
        finally:
            stack.pop()
            if frame:
                capture.record(frame)  # before the answer's first byte leaves (werkzeug writes on iteration)
        return answer


def _user_pool_of(environ: dict[str, Any]) -> str | None:
    """The request's ``UserPoolId`` (its body is read here and handed on unchanged)."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    body = environ["wsgi.input"].read(length) if length > 0 else b""
    environ["wsgi.input"] = io.BytesIO(body)
    try:
        parsed = json.loads(body or b"{}")
    except ValueError:
        return None
    pool = parsed.get("UserPoolId") if isinstance(parsed, dict) else None
    return pool if isinstance(pool, str) else None


class Capture:
    """Turns frames into journal records: the logical names of ``inventory``, bodies in ``blobs``."""

    def __init__(self, journal: Journal, blobs: BlobStore, inventory: Inventory) -> None:
        self.journal = journal
        self.blobs = blobs
        self.tables = {physical: logical for logical, physical in inventory.tables.items()}
        self.buckets = {physical: logical for logical, physical in inventory.buckets.items()}
        self.pools = {physical: logical for logical, physical in inventory.user_pools.items()}
        self._order = threading.Lock()  # states are read and appended in one order
        self.records = 0

    def record(self, frame: Frame) -> None:
        with self._order:
            items = self._items(frame)
            others = [*self._objects(frame), *self._pools(frame)]
            if not items and not others:
                return
            # the items' JSON is made by the journal's writer, outside these locks
            sequence = self.journal.append(lambda: [*(_item_entry(*state) for state in items), *others])
            self.records += 1
        self.journal.commit(sequence)

    def _items(self, frame: Frame) -> list[tuple[str, dict[str, Any], Any]]:
        """(logical table, key, item or None) of each item the frame wrote, as of one moment (a transaction's
        items together). An item of a table kept encoded is one no write changes any more
        (``dynamodb_locking.frozen``), so it is turned into JSON later; any other is turned into it now."""
        if not frame.items:
            return []
        from infra.local.moto_patches.dynamodb_compact import Partitions
        from infra.local.moto_patches.dynamodb_locking import _dynamodb_lock

        states = []
        with _dynamodb_lock:
            for (table, _), (backend, key) in frame.items.items():
                logical = self.tables.get(table)
                if logical is None:
                    continue
                if table not in backend.tables:
                    continue  # the table went away: nothing to keep
                item = backend.get_item(table, key)
                if item is not None and not isinstance(backend.tables[table].items, Partitions):
                    item = item.to_json()["Attributes"]
                states.append((logical, key, item))
        return states

    def _objects(self, frame: Frame) -> list[dict[str, Any]]:
        from moto.s3.models import s3_backends

        entries = []
        for bucket_name, key_name in sorted(frame.objects):
            logical = self.buckets.get(bucket_name)
            if logical is None:
                continue
            found = None
            for account in list(s3_backends.keys()):
                bucket = s3_backends[account]["aws"].buckets.get(bucket_name)
                if bucket is not None:
                    found = bucket.keys.get(key_name)
                    break
            entries.append({"t": "object", "bucket": logical, "key": key_name, "object": self._object(found)})
        return entries

    def _object(self, key: Any) -> dict[str, Any] | None:
        if key is None or type(key).__name__ == "FakeDeleteMarker":
            return None
        buffer = key._value_buffer
        if isinstance(buffer, BlobBuffer) and buffer.digest is not None:
            digest, size = buffer.digest, buffer.size
        else:  # bodies in memory (blob bodies not installed): copy this one out
            body = key.value
            digest, size = self.blobs.put(body), len(body)
        metadata = dict(key.metadata)
        headers = {name.lower(): value for name, value in metadata.items()}
        return {
            "key": key.name,
            "etag": key.etag,
            "size": size,
            "sha256": digest,
            "last_modified": key.last_modified.isoformat(),
            "content_type": headers.get("content-type"),
            "metadata": {
                name[len("x-amz-meta-") :]: value
                for name, value in metadata.items()
                if name.lower().startswith("x-amz-meta-")
            },
            **{field: headers[header] for field, header in _OBJECT_HEADERS.items() if headers.get(header)},
        }

    def _pools(self, frame: Frame) -> list[dict[str, Any]]:
        from infra.local.state.moto_backends import moto_user_pool

        pools = set(self.pools) if frame.all_pools else frame.pools & set(self.pools)
        entries = []
        for pool_id in sorted(pools):
            pool = moto_user_pool(pool_id)
            if pool is not None:
                entries.append({"t": "pool", "pool": self.pools[pool_id], "state": pool_state(pool)})
        return entries


_OBJECT_HEADERS = {
    "CacheControl": "cache-control",
    "ContentDisposition": "content-disposition",
    "ContentEncoding": "content-encoding",
    "ContentLanguage": "content-language",
}


def pool_state(pool: Any) -> dict[str, Any]:
    """A user pool's groups and users as the checkpoint keeps them (what ``restore.restore_user_pool`` takes)."""
    groups = [
        {
            k: v
            for k, v in {
                "GroupName": g.group_name,
                "Description": g.description,
                "Precedence": g.precedence,
                "RoleArn": g.role_arn,
            }.items()
            if v is not None
        }
        for g in list(pool.groups.values())
    ]
    users = []
    for user in list(pool.users.values()):
        attributes = {a["Name"]: a.get("Value", "") for a in user.attributes}
        users.append(
            {
                "username": user.username,
                "sub": attributes.pop("sub", user.id),
                "attributes": attributes,
                "enabled": user.enabled,
                "status": user.status,
                "password": user.password,
                "groups": sorted(g.group_name for g in list(user.groups)),
            }
        )
    return {"physical_id": pool.id, "groups": groups, "users": users}


# -- hooks on moto's backends -------------------------------------------------------------------------------


_originals: dict[tuple[type, str], Any] = {}
_active: list[Capture] = []


def _note(add: Callable[[Frame], object]) -> None:
    stack = _stack()
    if stack:
        add(stack[-1])
        return
    if _active:  # a write outside any request: journal it now
        frame = Frame()
        add(frame)
        _active[-1].record(frame)


def install_hooks(capture: Capture) -> None:
    from moto.dynamodb.models import DynamoDBBackend
    from moto.s3.models import S3Backend

    _active[:] = [capture]
    if _originals:
        return

    def hook(owner: type, name: str, note: Callable[..., None]) -> None:
        original = getattr(owner, name)
        _originals[(owner, name)] = original

        def noted(self: Any, *args: Any, **kwargs: Any) -> Any:
            try:
                return original(self, *args, **kwargs)
            finally:
                if _active:
                    note(self, *args, **kwargs)

        setattr(owner, name, noted)

    def s3_key(_: Any, bucket_name: str, key_name: str, *__: Any, **___: Any) -> None:
        _note(lambda frame: frame.objects.add((bucket_name, key_name)))

    def dynamodb_key(backend: Any, table_name: str, key: dict[str, Any], *_: Any, **__: Any) -> None:
        _note(lambda frame: frame.items.setdefault((table_name, _identity(key)), (backend, dict(key))))

    def dynamodb_put(backend: Any, table_name: str, item_attrs: dict[str, Any], *_: Any, **__: Any) -> None:
        table = backend.tables.get(table_name)
        if table is None:
            return
        names = [n for n in (table.hash_key_attr, table.range_key_attr) if n]
        if all(n in item_attrs for n in names):
            dynamodb_key(backend, table_name, {n: item_attrs[n] for n in names})

    hook(S3Backend, "put_object", s3_key)
    hook(S3Backend, "delete_object", s3_key)
    hook(DynamoDBBackend, "put_item", dynamodb_put)
    hook(DynamoDBBackend, "update_item", dynamodb_key)
    hook(DynamoDBBackend, "delete_item", dynamodb_key)


def _identity(key: dict[str, Any]) -> str:
    return json.dumps(key, sort_keys=True, default=str)


def uninstall_hooks() -> None:
    _active.clear()
    for (owner, name), original in _originals.items():
        setattr(owner, name, original)
    _originals.clear()


def _item_entry(logical: str, key: dict[str, Any], item: Any) -> dict[str, Any]:
    attributes = item if item is None or isinstance(item, dict) else item.to_json()["Attributes"]
    state = encode_model_item(attributes) if attributes is not None else None
    return {"t": "item", "table": logical, "key": encode_model_item(key), "item": state}
