"""Reading the emulator's data into a manifest: table items, bucket objects (bodies to blobs), pool users."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError

from infra.local.state.aws import Clients, error_code, naming, object_headers
from infra.local.state.dynamodb_json import encode_item
from infra.local.state.files import StateFiles
from infra.local.state.model import Inventory, Tally
from infra.local.state.moto_backends import moto_user_pool

log = logging.getLogger("local-runtime.state")


def snapshot_table(clients: Clients, logical_id: str, table: str, tally: Tally) -> dict[str, Any]:
    items: list[dict[str, Any]] = []
    with naming(f"snapshot of table {logical_id} ({table})"):
        for page in clients.dynamodb.get_paginator("scan").paginate(TableName=table, ConsistentRead=True):
            items.extend(encode_item(item) for item in page.get("Items", []))
    tally.items += len(items)
    return {"physical_name": table, "items": items}


class BucketReader:
    """Bucket snapshots that download only what changed since the previous manifest.

    ``previous_started``: wall-clock start of this process's last completed snapshot, or None (see ``_object``).
    """

    def __init__(self, files: StateFiles, clients: Clients, previous_started: float | None, tally: Tally) -> None:
        self._files = files
        self._s3 = clients.s3
        self._previous_started = previous_started
        self._tally = tally

    def snapshot(self, logical_id: str, bucket: str, cached_objects: list[dict[str, Any]]) -> dict[str, Any]:
        cache = {entry["key"]: entry for entry in cached_objects}
        objects: list[dict[str, Any]] = []
        with naming(f"snapshot of bucket {logical_id} ({bucket})"):
            for page in self._s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
                for listed in page.get("Contents", []):
                    entry = self._object(bucket, listed, cache.get(listed["Key"]))
                    if entry is not None:
                        objects.append(entry)
        self._tally.objects += len(objects)
        return {"physical_name": bucket, "objects": objects}

    def _object(
        self, bucket: str, listed: Mapping[str, Any], cached: Mapping[str, Any] | None
    ) -> dict[str, Any] | None:
        key, etag, size = listed["Key"], listed["ETag"], listed["Size"]
        last_modified = listed["LastModified"].isoformat()
        if (
            cached is not None
            and cached["etag"] == etag
            and cached["size"] == size
            and self._files.has_blob(cached["sha256"])
        ):
            entry = dict(cached)
            # Same content. Its headers may still have changed (a copy onto itself with new metadata keeps the
            # ETag), and LastModified only has whole seconds: the saved headers are trusted only when the
            # object is unchanged since a second before the previous snapshot of this process began.
            # Otherwise (and on the first snapshot after a start) they are read again; the body is not.
            previous = self._previous_started
            if (
                cached.get("last_modified") != last_modified
                or previous is None
                or listed["LastModified"].timestamp() >= previous - 1.0
            ):
                try:
                    head = self._s3.head_object(Bucket=bucket, Key=key)
                except ClientError as error:
                    if error_code(error) in ("404", "NoSuchKey", "NotFound"):
                        return None  # deleted since it was listed
                    raise
                entry.update(object_headers(head), last_modified=last_modified)
            return entry
        try:
            response = self._s3.get_object(Bucket=bucket, Key=key)
        except ClientError as error:
            if error_code(error) in ("404", "NoSuchKey", "NotFound"):
                return None
            raise
        digest, stored_size, written = self._files.store_blob(response["Body"])
        if written:
            self._tally.blobs_written += 1
            self._tally.bytes_written += stored_size
        # The object may have changed between the listing and the read: describe what was read.
        return {
            "key": key,
            "etag": response.get("ETag", etag),
            "size": stored_size,
            "last_modified": last_modified,  # the listing's (milliseconds; GetObject's header has seconds)
            "sha256": digest,
            **object_headers(response),
        }


def snapshot_user_pool(clients: Clients, logical_id: str, pool_id: str, tally: Tally) -> dict[str, Any]:
    cognito = clients.cognito
    with naming(f"snapshot of user pool {logical_id} ({pool_id})"):
        groups: list[dict[str, Any]] = []
        memberships: dict[str, list[str]] = {}
        for page in cognito.get_paginator("list_groups").paginate(UserPoolId=pool_id):
            for group in page.get("Groups", []):
                kept = ("GroupName", "Description", "Precedence", "RoleArn")
                groups.append({k: group[k] for k in kept if k in group})
                for members in cognito.get_paginator("list_users_in_group").paginate(
                    UserPoolId=pool_id, GroupName=group["GroupName"]
                ):
                    for member in members.get("Users", []):
                        memberships.setdefault(member["Username"], []).append(group["GroupName"])
        backend_pool = moto_user_pool(pool_id)
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
    tally.users += len(users)
    return {"physical_id": pool_id, "groups": groups, "users": users}


def carry_over(previous: dict[str, Any], manifest: dict[str, Any], inventory: Inventory) -> None:
    """Keep the saved data of resources the template no longer has, so reverting the template gets it back."""
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
