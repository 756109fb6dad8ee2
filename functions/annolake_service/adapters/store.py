"""Repositories over the single DynamoDB table. Keys are built only here.

Every key starts with the project (tenant isolation); every function takes the project id.

| item                 | PK                            | SK                       | GSI1PK / GSI1SK                  |
|----------------------|-------------------------------|--------------------------|----------------------------------|
| project              | P#<project>                   | PROJECT                  | PROJECTS / <project>             |
| member               | P#<project>                   | MEMBER#<principal>       | PRINCIPAL#<principal> / P#<proj> |
| api key              | KEY#<client id>               | KEY                      | P#<project>#KEYS / <created>     |
| dataset              | P#<project>                   | DATASET#<name>           |                                  |
| label schema         | P#<project>                   | SCHEMA                   |                                  |
| upload               | P#<project>                   | UPLOAD#<upload id>       |                                  |
| file                 | P#<project>#F#<file id>       | FILE                     |                                  |
| annotation version   | P#<project>#F#<file id>       | ANN#v<version:08d>       |                                  |
| dataset membership   | P#<project>#D#<dataset>#S<n>  | <created>#<file id>      | P#<project>#F#<file id> / D#<ds> |

Access patterns
- project settings, members, datasets, schema: one query/get on ``P#<project>``.
- projects of a user: GSI1 ``PRINCIPAL#user:<name>``; a project's API keys: GSI1 ``P#<p>#KEYS``.
- an API key by ``client_id``: one get (every API-key request).
- a dataset's files, newest first: a key query on each of ``DATASET_SHARDS`` partitions, merged
  by sort key (``<created>#<file id>``); the cursor holds the last sort key. Sharding by a hash of
  the file id spreads a bulk import's writes; a dataset listing is never a scan.
- a file's datasets: GSI1 ``P#<p>#F#<file>``; its annotation history: query ``ANN#`` on its PK.
- a page of files with their current annotations (stream pages): one batch get of the file items, which
  carry their current instances up to ``CARRIED_INSTANCE_BYTES`` (written in the same transaction as the
  version); only files with larger annotations need a second batch get of their version items.
"""

from __future__ import annotations

import base64
import contextlib
import heapq
import json
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel
from pynamodb.exceptions import PutError, TransactWriteError, UpdateError
from pynamodb.expressions.update import Action
from pynamodb.transactions import TransactWrite

from annolake_service.adapters.aws_clients import client
from annolake_service.adapters.models import (
    AnnotationVersionItem,
    ApiKeyItem,
    ArrivalItem,
    DatasetItem,
    DatasetMemberItem,
    FileItem,
    ImportJobItem,
    ImportOutcomeItem,
    MemberItem,
    ProjectItem,
    SchemaItem,
    UploadItem,
    bind,
    cancelled_by_condition,
    condition_failed,
)
from annolake_service.domain.entities import Dataset, FileRecord, Project
from annolake_service.domain.roles import Role
from annolake_service.shared.settings import get_settings

DATASET_SHARDS = 8


class AlreadyExists(Exception):
    pass


class ConditionFailed(Exception):
    """A conditional write found the item changed (someone else got there first)."""


@dataclass(frozen=True)
class TransactionUpdate:
    """A conditional update to make inside another repository call's transaction."""

    item: Any
    actions: list[Any]
    condition: Any


class VersionConflict(Exception):
    def __init__(self, current: int) -> None:
        super().__init__(current)
        self.current = current


def _now() -> datetime:
    return datetime.now(UTC)


def _project_pk(project_id: str) -> str:
    return f"P#{project_id}"


def _file_pk(project_id: str, file_id: str) -> str:
    return f"P#{project_id}#F#{file_id}"


def _shard_pk(project_id: str, dataset_id: str, shard: int) -> str:
    return f"P#{project_id}#D#{dataset_id}#S{shard}"


def _shard_of(file_id: str) -> int:
    return zlib.crc32(file_id.encode()) % DATASET_SHARDS


def _connection() -> Any:
    bind()
    return FileItem._get_connection().connection


# --- health -------------------------------------------------------------------------------


def table_answers() -> bool:
    try:
        client("dynamodb").describe_table(TableName=get_settings().table_name)
    except Exception:  # noqa: BLE001 - health reports any failure as "not answering"
        return False
    return True


# --- projects and members -----------------------------------------------------------------


def _project(item: ProjectItem) -> Project:
    return Project(project_id=item.project_id, name=item.name, created_at=item.created_at, created_by=item.created_by)


def _member_item(project_id: str, principal_id: str, role: Role) -> MemberItem:
    return MemberItem(
        PK=_project_pk(project_id),
        SK=f"MEMBER#{principal_id}",
        kind="member",
        GSI1PK=f"PRINCIPAL#{principal_id}",
        GSI1SK=_project_pk(project_id),
        project_id=project_id,
        principal_id=principal_id,
        role=role.value,
        added_at=_now(),
    )


def create_project(project: Project, *, admin_principal: str) -> None:
    """Create the project and its first admin in one transaction; fails if the id is taken."""
    item = ProjectItem(
        PK=_project_pk(project.project_id),
        SK="PROJECT",
        kind="project",
        GSI1PK="PROJECTS",
        GSI1SK=project.project_id,
        project_id=project.project_id,
        name=project.name,
        created_by=project.created_by,
        created_at=project.created_at,
    )
    try:
        with TransactWrite(connection=_connection()) as tx:
            tx.save(item, condition=ProjectItem.PK.does_not_exist())
            tx.save(_member_item(project.project_id, admin_principal, Role.ADMIN))
    except TransactWriteError as exc:
        if cancelled_by_condition(exc):
            raise AlreadyExists(project.project_id) from exc
        raise


def get_project(project_id: str) -> Project | None:
    bind()
    try:
        return _project(ProjectItem.get(_project_pk(project_id), "PROJECT"))
    except ProjectItem.DoesNotExist:
        return None


def rename_project(project_id: str, name: str) -> None:
    bind()
    ProjectItem(PK=_project_pk(project_id), SK="PROJECT").update(
        actions=[ProjectItem.name.set(name)], condition=ProjectItem.PK.exists()
    )


def projects_of(principal_id: str) -> list[tuple[Project, Role]]:
    bind()
    memberships = list(MemberItem.gsi1.query(f"PRINCIPAL#{principal_id}"))
    result = []
    for member in memberships:
        project = get_project(member.project_id)
        if project is not None:
            result.append((project, Role(member.role)))
    return result


def put_member(project_id: str, principal_id: str, role: Role) -> None:
    bind()
    _member_item(project_id, principal_id, role).save()


def list_members(project_id: str) -> list[tuple[str, Role]]:
    bind()
    return [
        (m.principal_id, Role(m.role))
        for m in MemberItem.query(_project_pk(project_id), MemberItem.SK.startswith("MEMBER#"))
    ]


def get_member_role(project_id: str, principal_id: str) -> Role | None:
    bind()
    try:
        return Role(MemberItem.get(_project_pk(project_id), f"MEMBER#{principal_id}").role)
    except MemberItem.DoesNotExist:
        return None


def remove_member(project_id: str, principal_id: str) -> bool:
    bind()
    try:
        MemberItem(PK=_project_pk(project_id), SK=f"MEMBER#{principal_id}").delete(condition=MemberItem.PK.exists())
    except Exception:  # noqa: BLE001 - pynamodb raises DeleteError on a failed condition
        return False
    return True


# --- API keys -----------------------------------------------------------------------------


class StoredApiKey(BaseModel):
    project_id: str
    client_id: str
    secret_hash: str
    role: Role
    name: str
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None


def _stored_key(item: ApiKeyItem) -> StoredApiKey:
    return StoredApiKey(
        project_id=item.project_id,
        client_id=item.client_id,
        secret_hash=item.secret_hash,
        role=Role(item.role),
        name=item.name,
        created_at=item.created_at,
        revoked_at=item.revoked_at,
        last_used_at=item.last_used_at,
    )


def save_api_key(project_id: str, client_id: str, secret_hash: str, role: Role, name: str) -> None:
    """Store the key (hash only) and its membership in one transaction."""
    created = _now()
    key = ApiKeyItem(
        PK=f"KEY#{client_id}",
        SK="KEY",
        kind="api_key",
        GSI1PK=f"P#{project_id}#KEYS",
        GSI1SK=created.isoformat(),
        project_id=project_id,
        client_id=client_id,
        secret_hash=secret_hash,
        role=role.value,
        name=name,
        created_at=created,
    )
    with TransactWrite(connection=_connection()) as tx:
        tx.save(key, condition=ApiKeyItem.PK.does_not_exist())
        tx.save(_member_item(project_id, f"key:{client_id}", role))


def get_api_key(client_id: str) -> StoredApiKey | None:
    bind()
    try:
        return _stored_key(ApiKeyItem.get(f"KEY#{client_id}", "KEY"))
    except ApiKeyItem.DoesNotExist:
        return None


def list_api_keys(project_id: str) -> list[StoredApiKey]:
    bind()
    return [_stored_key(i) for i in ApiKeyItem.gsi1.query(f"P#{project_id}#KEYS")]


def mark_api_key_used(client_id: str, when: datetime) -> None:
    """Record last use; conditional so a deleted key is not resurrected by a late write."""
    bind()
    with contextlib.suppress(UpdateError):
        ApiKeyItem(PK=f"KEY#{client_id}", SK="KEY").update(
            actions=[ApiKeyItem.last_used_at.set(when)], condition=ApiKeyItem.PK.exists()
        )


def revoke_api_key(project_id: str, client_id: str, when: datetime) -> bool:
    bind()
    try:
        ApiKeyItem(PK=f"KEY#{client_id}", SK="KEY").update(
            actions=[ApiKeyItem.revoked_at.set(when)],
            condition=ApiKeyItem.PK.exists() & (ApiKeyItem.project_id == project_id),
        )
    except UpdateError as exc:
        if not condition_failed(exc):
            raise
        return False
    remove_member(project_id, f"key:{client_id}")
    return True


# --- datasets and schema ------------------------------------------------------------------


def _dataset(item: DatasetItem) -> Dataset:
    return Dataset(
        project_id=item.project_id,
        dataset_id=item.dataset_id,
        name=item.name,
        description=item.description,
        created_at=item.created_at,
    )


def create_dataset(dataset: Dataset) -> None:
    bind()
    try:
        DatasetItem(
            PK=_project_pk(dataset.project_id),
            SK=f"DATASET#{dataset.name}",
            kind="dataset",
            project_id=dataset.project_id,
            dataset_id=dataset.dataset_id,
            name=dataset.name,
            description=dataset.description,
            created_at=dataset.created_at,
        ).save(condition=DatasetItem.PK.does_not_exist())
    except PutError as exc:
        if not condition_failed(exc):
            raise
        raise AlreadyExists(dataset.name) from exc


def get_dataset(project_id: str, name: str) -> Dataset | None:
    bind()
    try:
        return _dataset(DatasetItem.get(_project_pk(project_id), f"DATASET#{name}"))
    except DatasetItem.DoesNotExist:
        return None


def list_datasets(project_id: str) -> list[Dataset]:
    bind()
    return [_dataset(i) for i in DatasetItem.query(_project_pk(project_id), DatasetItem.SK.startswith("DATASET#"))]


def get_schema(project_id: str) -> tuple[dict[str, Any], int]:
    """The schema document and its version (0 when never saved)."""
    bind()
    try:
        item = SchemaItem.get(_project_pk(project_id), "SCHEMA")
    except SchemaItem.DoesNotExist:
        return {"labels": [], "attribute_groups": []}, 0
    return item.document, int(item.version)


def save_schema(project_id: str, document: dict[str, Any], *, expected_version: int) -> int:
    """Replace the schema if it is still at ``expected_version``; raise VersionConflict if not."""
    bind()
    item = SchemaItem(PK=_project_pk(project_id), SK="SCHEMA", kind="schema", project_id=project_id, document=document)
    if expected_version:
        item.version = expected_version
    try:
        item.save()
    except PutError as exc:
        if not condition_failed(exc):
            raise
        _, current = get_schema(project_id)
        raise VersionConflict(current) from exc
    return int(item.version)


# --- files --------------------------------------------------------------------------------


def _as_dict(value: Any) -> dict[str, Any]:
    """A raw ``MapAttribute`` read back from the table is not a dict; written ones are."""
    if value is None:
        return {}
    return value.as_dict() if hasattr(value, "as_dict") else dict(value)


def _file_record(item: FileItem) -> FileRecord:
    return FileRecord(
        project_id=item.project_id,
        file_id=item.file_id,
        original_name=item.original_name,
        media_type=item.media_type,
        mime_type=item.mime_type,
        status=item.status,  # type: ignore[arg-type]
        status_reason=item.status_reason,
        width=int(item.width) if item.width is not None else None,
        height=int(item.height) if item.height is not None else None,
        size_bytes=int(item.size_bytes) if item.size_bytes is not None else None,
        content_hash=item.content_hash,
        original_key=item.original_key,
        thumbnail_key=item.thumbnail_key,
        metadata=item.file_metadata or {},
        label_counts={k: int(v) for k, v in _as_dict(item.label_counts).items()},
        attribute_values=_as_dict(item.attribute_summary),
        annotation_version=int(item.annotation_version or 0),
        created_at=item.created_at,
        deleted_at=item.deleted_at,
    )


# A file item carries its current instances up to this size as JSON; larger ones stay in their version item
# alone (the file item must also fit DynamoDB's 400 KB with the file's metadata).
CARRIED_INSTANCE_BYTES = 64 * 1024


def _carried(instances: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
    return instances if len(json.dumps(instances)) <= CARRIED_INSTANCE_BYTES else None


def _file_item(record: FileRecord, instances: list[dict[str, Any]]) -> FileItem:
    """A new file's item; ``instances`` are its version 1 (none: version 0)."""
    return FileItem(
        PK=_file_pk(record.project_id, record.file_id),
        SK="FILE",
        kind="file",
        project_id=record.project_id,
        file_id=record.file_id,
        original_name=record.original_name,
        media_type=record.media_type,
        mime_type=record.mime_type,
        status=record.status,
        status_reason=record.status_reason,
        width=record.width,
        height=record.height,
        size_bytes=record.size_bytes,
        content_hash=record.content_hash,
        original_key=record.original_key,
        thumbnail_key=record.thumbnail_key,
        file_metadata=record.metadata,
        label_counts=record.label_counts,
        attribute_summary=record.attribute_values,
        annotation_version=1 if instances else 0,
        current_instances=_carried(instances) if instances else None,
        created_at=record.created_at,
    )


def _membership_item(record: FileRecord, dataset_id: str) -> DatasetMemberItem:
    return DatasetMemberItem(
        PK=_shard_pk(record.project_id, dataset_id, _shard_of(record.file_id)),
        SK=f"{record.created_at.isoformat()}#{record.file_id}",
        kind="dataset_member",
        GSI1PK=_file_pk(record.project_id, record.file_id),
        GSI1SK=f"D#{dataset_id}",
        project_id=record.project_id,
        dataset_id=dataset_id,
        file_id=record.file_id,
        status=record.status,
        original_name=record.original_name,
        media_type=record.media_type,
        width=record.width,
        height=record.height,
        created_at=record.created_at,
        label_counts=record.label_counts,
        attribute_summary=record.attribute_values,
    )


def _version_item(
    project_id: str,
    file_id: str,
    version: int,
    instances: list,
    deleted: list,
    author: str,
    source: str,
    when: datetime,
) -> AnnotationVersionItem:
    return AnnotationVersionItem(
        PK=_file_pk(project_id, file_id),
        SK=f"ANN#v{version:08d}",
        kind="annotation_version",
        project_id=project_id,
        file_id=file_id,
        version=version,
        instance_list=json.loads(json.dumps(instances)),
        deleted=json.loads(json.dumps(deleted)),
        created_by=author,
        source=source,
        created_at=when,
    )


def get_file(project_id: str, file_id: str) -> FileRecord | None:
    bind()
    try:
        return _file_record(FileItem.get(_file_pk(project_id, file_id), "FILE"))
    except FileItem.DoesNotExist:
        return None


def get_files(project_id: str, file_ids: list[str]) -> dict[str, FileRecord]:
    bind()
    keys = [(_file_pk(project_id, fid), "FILE") for fid in dict.fromkeys(file_ids)]
    return {item.file_id: _file_record(item) for item in FileItem.batch_get(keys)}


def register_file(record: FileRecord, *, dataset_id: str, instance_list: list[dict[str, Any]], created_by: str) -> bool:
    """Write a ready file, its dataset membership and its first annotation version atomically.

    Conditional on the file not existing yet (natural key: project + content hash), so a
    redelivered event or the same content dropped again writes nothing. Returns False then.
    """
    membership = _membership_item(record, dataset_id)
    try:
        with TransactWrite(connection=_connection()) as tx:
            tx.save(_file_item(record, instance_list), condition=FileItem.PK.does_not_exist())
            tx.save(membership)
            if instance_list:
                tx.save(
                    _version_item(
                        record.project_id, record.file_id, 1, instance_list, [], created_by, "import", record.created_at
                    ),
                    condition=AnnotationVersionItem.PK.does_not_exist(),
                )
    except TransactWriteError as exc:
        if not cancelled_by_condition(exc):
            raise
        add_to_dataset(record.project_id, record.file_id, dataset_id)
        return False
    return True


def put_new_files(entries: list[tuple[FileRecord, str, list[dict[str, Any]], str]]) -> None:
    """Batch-write ``(record, dataset id, instance list, author)`` of files known to be new.

    For seeding and benchmarks at scale: no transaction and no duplicate check per file (what
    ``register_file`` guarantees), so the caller must know the content hashes are new to the project.
    """
    bind()
    for model in (FileItem, DatasetMemberItem, AnnotationVersionItem):
        with model.batch_write() as batch:
            for record, dataset_id, instances, author in entries:
                if model is FileItem:
                    batch.save(_file_item(record, instances))
                elif model is DatasetMemberItem:
                    batch.save(_membership_item(record, dataset_id))
                elif instances:
                    batch.save(
                        _version_item(
                            record.project_id, record.file_id, 1, instances, [], author, "import", record.created_at
                        )
                    )


def record_quarantine(record: FileRecord, *, dataset_id: str) -> None:
    """Store a quarantined file with its reason (a redelivery rewrites the same item)."""
    bind()
    item = _file_item(record, [])
    item.save(condition=FileItem.PK.does_not_exist() | (FileItem.status == "quarantined"))
    _membership_item(record, dataset_id).save()


def _memberships_of(project_id: str, file_id: str) -> list[DatasetMemberItem]:
    bind()
    return list(DatasetMemberItem.gsi1.query(_file_pk(project_id, file_id), DatasetMemberItem.GSI1SK.startswith("D#")))


def add_to_dataset(project_id: str, file_id: str, dataset_id: str) -> None:
    """Mirror: the same file (same annotations) listed in another dataset. Idempotent."""
    record = get_file(project_id, file_id)
    if record is None:
        raise LookupError(file_id)
    if any(m.dataset_id == dataset_id for m in _memberships_of(project_id, file_id)):
        return
    _membership_item(record, dataset_id).save()


def remove_from_dataset(project_id: str, file_id: str, dataset_id: str) -> bool:
    removed = False
    for membership in _memberships_of(project_id, file_id):
        if membership.dataset_id == dataset_id:
            membership.delete()
            removed = True
    return removed


def datasets_of_file(project_id: str, file_id: str) -> list[str]:
    return [m.dataset_id for m in _memberships_of(project_id, file_id)]


def soft_delete_file(project_id: str, file_id: str, when: datetime) -> bool:
    """Hide the file everywhere; its item, media and annotation history are kept."""
    bind()
    try:
        FileItem(PK=_file_pk(project_id, file_id), SK="FILE").update(
            actions=[FileItem.deleted_at.set(when)],
            condition=FileItem.PK.exists() & FileItem.deleted_at.does_not_exist(),
        )
    except UpdateError as exc:
        if not condition_failed(exc):
            raise
        return False
    for membership in _memberships_of(project_id, file_id):
        membership.update(actions=[DatasetMemberItem.status.set("deleted")])
    return True


def update_file_metadata(project_id: str, file_id: str, metadata: dict[str, Any]) -> bool:
    return _update_live_file(project_id, file_id, [FileItem.file_metadata.set(metadata)])


def _update_live_file(project_id: str, file_id: str, actions: list) -> bool:
    """False when the file does not exist or was deleted."""
    bind()
    try:
        FileItem(PK=_file_pk(project_id, file_id), SK="FILE").update(
            actions=actions, condition=FileItem.PK.exists() & FileItem.deleted_at.does_not_exist()
        )
    except UpdateError as exc:
        if not condition_failed(exc):
            raise
        return False
    return True


def set_file_status_reason(project_id: str, file_id: str, reason: str) -> bool:
    """A note on a live file (for a ready one: what went wrong around it, e.g. a sidecar that was refused)."""
    return _update_live_file(project_id, file_id, [FileItem.status_reason.set(reason)])


def _encode_cursor(sort_key: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"after": sort_key}).encode()).decode()


class InvalidCursor(ValueError):
    pass


def _decode_cursor(cursor: str) -> str:
    try:
        decoded = json.loads(base64.b64decode(cursor.encode(), altchars=b"-_", validate=True))
        return str(decoded["after"])
    except (ValueError, KeyError, TypeError):
        raise InvalidCursor("the cursor is not one this API returned; start again without a cursor") from None


def _shard_stream(
    project_id: str, dataset_id: str, shard: int, after: str | None, status: str | None, page_size: int
) -> Iterator:
    condition = after > DatasetMemberItem.SK if after else None
    filter_condition = DatasetMemberItem.status == status if status else DatasetMemberItem.status != "deleted"
    return DatasetMemberItem.query(
        _shard_pk(project_id, dataset_id, shard),
        range_key_condition=condition,
        filter_condition=filter_condition,
        scan_index_forward=False,
        page_size=page_size,
        attributes_to_get=["SK", "file_id"],  # the summary copy stays in the table
    )


def list_dataset_file_ids(
    project_id: str, dataset_id: str, *, limit: int, cursor: str | None = None, status: str | None = None
) -> tuple[list[str], str | None]:
    """A page of the dataset's file ids, newest first, and the cursor of the next page (or None)."""
    bind()
    after = _decode_cursor(cursor) if cursor else None
    page_size = min(limit + 1, 100)  # a shard never has to give more than the page holds
    streams = [_shard_stream(project_id, dataset_id, s, after, status, page_size) for s in range(DATASET_SHARDS)]
    merged = heapq.merge(*streams, key=lambda m: m.SK, reverse=True)
    page = []
    for membership in merged:
        page.append(membership)
        if len(page) == limit + 1:
            break
    next_cursor = _encode_cursor(page[limit - 1].SK) if len(page) > limit else None
    return [m.file_id for m in page[:limit]], next_cursor


def _live_members(
    project_id: str,
    dataset_id: str,
    shard: int,
    *,
    after: str | None,
    dynamo_filter: dict[str, Any] | None,
    projection: dict[str, str],
) -> Iterator[dict[str, Any]]:
    """Raw membership items of one shard (newest first) that are live and pass ``dynamo_filter``.

    ``projection`` maps expression names to the attributes to read (``{"#lc": "label_counts"}``).
    """
    names = {"#pk": "PK", "#st": "status", **projection}
    values: dict[str, Any] = {":pk": {"S": _shard_pk(project_id, dataset_id, shard)}, ":deleted": {"S": "deleted"}}
    key_condition = "#pk = :pk"
    if after:
        names["#sk"], values[":after"] = "SK", {"S": after}
        key_condition += " AND #sk < :after"
    expression = "NOT (#st = :deleted)"
    if dynamo_filter:
        expression = f"{_grouped(dynamo_filter['FilterExpression'])} AND {expression}"
        names.update(dynamo_filter.get("ExpressionAttributeNames", {}))
        values.update(dynamo_filter.get("ExpressionAttributeValues", {}))
    pages = (
        client("dynamodb")
        .get_paginator("query")
        .paginate(
            TableName=get_settings().table_name,
            KeyConditionExpression=key_condition,
            FilterExpression=expression,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
            ScanIndexForward=False,
            ProjectionExpression=", ".join(projection),
        )
    )
    for page in pages:
        yield from page["Items"]


def iter_dataset_members(
    project_id: str, dataset_id: str, *, after: str | None, dynamo_filter: dict[str, Any] | None
) -> Iterator[tuple[str, str]]:
    """(sort key, file id) of the dataset's live files, newest first, filtered in DynamoDB.

    ``dynamo_filter`` is a query plan's ``FilterExpression``/names/values over the summary copy on
    the membership items. Shards are read lazily and merged, so a caller can stop at any point.
    """
    bind()
    projection = {"#sortkey": "SK", "#fid": "file_id"}

    def shard(number: int) -> Iterator[tuple[str, str]]:
        for item in _live_members(
            project_id, dataset_id, number, after=after, dynamo_filter=dynamo_filter, projection=projection
        ):
            yield item["SK"]["S"], item["file_id"]["S"]

    yield from heapq.merge(*(shard(n) for n in range(DATASET_SHARDS)), key=lambda pair: pair[0], reverse=True)


def _grouped(expression: str) -> str:
    """``expression`` in parentheses, unless it already is one group (DynamoDB refuses redundant ones)."""
    depth = 0
    for position, char in enumerate(expression):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth == 0 and position < len(expression) - 1:
            return f"({expression})"
    return expression if expression.startswith("(") else f"({expression})"


def decode_cursor(cursor: str) -> str:
    return _decode_cursor(cursor)


def encode_cursor(sort_key: str) -> str:
    return _encode_cursor(sort_key)


def count_dataset_files(project_id: str, dataset_id: str, status: str | None = None) -> int:
    bind()
    total = 0
    for shard in range(DATASET_SHARDS):
        filter_condition = DatasetMemberItem.status == status if status else DatasetMemberItem.status != "deleted"
        total += DatasetMemberItem.count(_shard_pk(project_id, dataset_id, shard), filter_condition=filter_condition)
    return total


def iter_dataset_label_counts(
    project_id: str, dataset_id: str, *, dynamo_filter: dict[str, Any] | None
) -> Iterator[dict[str, int]]:
    """The label counts of each live file of the dataset that passes ``dynamo_filter`` (a query plan's filter).

    Reads only the summary copies on the membership items (``label_counts``), shard by shard, unordered.
    """
    bind()
    for shard in range(DATASET_SHARDS):
        for item in _live_members(
            project_id, dataset_id, shard, after=None, dynamo_filter=dynamo_filter, projection={"#lc": "label_counts"}
        ):
            counts = item.get("label_counts", {}).get("M", {})
            yield {name: int(value["N"]) for name, value in counts.items()}


# --- annotations --------------------------------------------------------------------------


def get_file_with_instances(project_id: str, file_id: str) -> tuple[FileRecord, list[dict[str, Any]]] | None:
    """A file with the live instances of its current annotation version (one read when its item carries them)."""
    return get_files_with_instances(project_id, [file_id]).get(file_id)


def get_files_with_instances(
    project_id: str, file_ids: list[str]
) -> dict[str, tuple[FileRecord, list[dict[str, Any]]]]:
    """Files with the live instances of their current annotation version: one batch read, plus one for the
    files whose instances are too large to be carried on their item."""
    bind()
    keys = [(_file_pk(project_id, fid), "FILE") for fid in dict.fromkeys(file_ids)]
    items = {item.file_id: item for item in FileItem.batch_get(keys)}
    uncarried = {
        fid: int(item.annotation_version)
        for fid, item in items.items()
        if item.current_instances is None and item.annotation_version and item.deleted_at is None
    }
    read = _current_instance_lists(project_id, uncarried) if uncarried else {}
    return {fid: (_file_record(item), read.get(fid, item.current_instances or [])) for fid, item in items.items()}


def _current_instance_lists(project_id: str, versions: dict[str, int]) -> dict[str, list[dict[str, Any]]]:
    """The instance list of each file at the given annotation version (one batch read for a page of files)."""
    bind()
    lists: dict[str, list[dict[str, Any]]] = {file_id: [] for file_id in versions}
    keys = [(_file_pk(project_id, fid), f"ANN#v{v:08d}") for fid, v in versions.items() if v > 0]
    for item in AnnotationVersionItem.batch_get(keys):
        lists[item.file_id] = item.instance_list
    return lists


def _carried_action(instances: list[dict[str, Any]]) -> Action:
    carried = _carried(instances)
    return FileItem.current_instances.remove() if carried is None else FileItem.current_instances.set(carried)


def save_annotation_version(
    project_id: str,
    file_id: str,
    *,
    expected_version: int,
    instances: list[dict[str, Any]],
    deleted: list[dict[str, Any]],
    label_counts: dict[str, int],
    attribute_values: dict[str, list[Any]],
    author: str,
    source: str,
    task_id: str | None = None,
    alongside: TransactionUpdate | None = None,
) -> int:
    """Append version ``expected_version + 1``; VersionConflict if the file moved on meanwhile.

    ``alongside`` is one more conditional update in the same transaction (a workflow task marked submitted
    with the version it produced): both happen or neither; ConditionFailed if only its condition failed.
    """
    version = expected_version + 1
    file_key = FileItem(PK=_file_pk(project_id, file_id), SK="FILE")
    try:
        with TransactWrite(connection=_connection()) as tx:
            tx.update(
                file_key,
                actions=[
                    FileItem.annotation_version.set(version),
                    FileItem.label_counts.set(label_counts),
                    FileItem.attribute_summary.set(attribute_values),
                    _carried_action(instances),
                ],
                condition=(FileItem.annotation_version == expected_version) & FileItem.deleted_at.does_not_exist(),
            )
            version_item = _version_item(project_id, file_id, version, instances, deleted, author, source, _now())
            version_item.task_id = task_id
            tx.save(version_item, condition=AnnotationVersionItem.PK.does_not_exist())
            if alongside is not None:
                tx.update(alongside.item, actions=alongside.actions, condition=alongside.condition)
    except TransactWriteError as exc:
        if not cancelled_by_condition(exc):
            raise
        reasons = exc.cancellation_reasons or []
        if (
            alongside is not None
            and len(reasons) > 2
            and reasons[2] is not None
            and reasons[2].code == ("ConditionalCheckFailed")
        ):
            raise ConditionFailed("the update made alongside the annotations no longer holds") from exc
        current = get_file(project_id, file_id)
        raise VersionConflict(current.annotation_version if current else 0) from exc
    for membership in _memberships_of(project_id, file_id):  # the copies slice queries filter on
        membership.update(
            actions=[
                DatasetMemberItem.label_counts.set(label_counts),
                DatasetMemberItem.attribute_summary.set(attribute_values),
            ]
        )
    return version


def annotation_history(project_id: str, file_id: str) -> list[dict[str, Any]]:
    bind()
    return [
        {
            "version": int(item.version),
            "created_by": item.created_by,
            "created_at": item.created_at.isoformat(),
            "source": item.source,
            "task_id": item.task_id,
            "instance_list": item.instance_list,
            "deleted": item.deleted,
        }
        for item in AnnotationVersionItem.query(
            _file_pk(project_id, file_id), AnnotationVersionItem.SK.startswith("ANN#")
        )
    ]


# --- uploads ------------------------------------------------------------------------------


def create_upload(
    project_id: str, upload_id: str, dataset_name: str, file_name: str, created_by: str, ttl: int
) -> None:
    bind()
    UploadItem(
        PK=_project_pk(project_id),
        SK=f"UPLOAD#{upload_id}",
        kind="upload",
        project_id=project_id,
        upload_id=upload_id,
        dataset_name=dataset_name,
        file_name=file_name,
        created_by=created_by,
        created_at=_now(),
        ttl=ttl,
    ).save(condition=UploadItem.PK.does_not_exist())


def finish_upload(project_id: str, upload_id: str, *, status: str, file_id: str, reason: str | None = None) -> None:
    """Record the upload's outcome; one whose record has expired (TTL) is left alone. Any other failure is raised,
    so the step is retried rather than leaving the upload "pending" beside its ready file."""
    bind()
    try:
        UploadItem(PK=_project_pk(project_id), SK=f"UPLOAD#{upload_id}").update(
            actions=[
                UploadItem.status.set(status),
                UploadItem.file_id.set(file_id),
                UploadItem.status_reason.set(reason),
            ],
            condition=UploadItem.PK.exists(),
        )
    except UpdateError as exc:
        if not condition_failed(exc):
            raise


def get_upload(project_id: str, upload_id: str) -> dict[str, Any] | None:
    bind()
    try:
        item = UploadItem.get(_project_pk(project_id), f"UPLOAD#{upload_id}")
    except UploadItem.DoesNotExist:
        return None
    return {
        "upload_id": item.upload_id,
        "dataset": item.dataset_name,
        "file_name": item.file_name,
        "status": item.status,
        "status_reason": item.status_reason,
        "file_id": item.file_id,
        "created_at": item.created_at.isoformat(),
    }


# --- bulk imports -------------------------------------------------------------------------
#   import job: P#<project> / IMPORT#<id>;  its item outcomes: P#<project>#IMPORT#<id> / ITEM#<index:08d>


def _import_body(item: ImportJobItem) -> dict[str, Any]:
    return {
        "import_id": item.import_id,
        "format": item.format,
        "dataset": item.dataset_name,
        "create_labels": bool(item.create_labels),
        "status": item.status,
        "status_reason": item.status_reason,
        "total": int(item.total or 0),
        "done": int(item.done or 0),
        "failed": int(item.failed or 0),
        "created_by": item.created_by,
        "created_at": item.created_at.isoformat(),
        "finished_at": item.finished_at.isoformat() if item.finished_at else None,
    }


def create_import(
    project_id: str, import_id: str, fmt: str, dataset_name: str, create_labels: bool, author: str
) -> None:
    bind()
    ImportJobItem(
        PK=_project_pk(project_id),
        SK=f"IMPORT#{import_id}",
        kind="import",
        project_id=project_id,
        import_id=import_id,
        format=fmt,
        dataset_name=dataset_name,
        create_labels=create_labels,
        status="created",
        created_by=author,
        created_at=_now(),
    ).save(condition=ImportJobItem.PK.does_not_exist())


def get_import(project_id: str, import_id: str) -> dict[str, Any] | None:
    bind()
    try:
        return _import_body(ImportJobItem.get(_project_pk(project_id), f"IMPORT#{import_id}"))
    except ImportJobItem.DoesNotExist:
        return None


def list_imports(project_id: str, dataset_name: str | None = None) -> list[dict[str, Any]]:
    """The project's imports, newest first (optionally those into one dataset)."""
    bind()
    condition = ImportJobItem.dataset_name == dataset_name if dataset_name else None
    items = ImportJobItem.query(
        _project_pk(project_id), ImportJobItem.SK.startswith("IMPORT#"), filter_condition=condition
    )
    return sorted((_import_body(i) for i in items), key=lambda body: body["created_at"], reverse=True)


def mark_import(
    project_id: str,
    import_id: str,
    *,
    status: str,
    total: int | None = None,
    reason: str | None = None,
    reset_counters: bool = False,
    finished: bool = False,
) -> None:
    bind()
    item = ImportJobItem(PK=_project_pk(project_id), SK=f"IMPORT#{import_id}")
    actions = [ImportJobItem.status.set(status), ImportJobItem.status_reason.set(reason)]
    if total is not None:
        actions.append(ImportJobItem.total.set(total))
    if reset_counters:
        actions += [ImportJobItem.done.set(0), ImportJobItem.failed.set(0)]
    actions.append(ImportJobItem.finished_at.set(_now() if finished else None))
    item.update(actions=actions, condition=ImportJobItem.PK.exists())


def record_import_outcome(
    project_id: str, import_id: str, index: int, name: str, *, file_id: str | None, reason: str | None
) -> bool:
    """Record one item's outcome once (retries are no-ops) and bump the live progress counter.

    Not one transaction: parallel chunk workers would conflict on the job item. The counters are
    progress for people to watch; ``recount_import`` makes them exact from the outcomes at the end.
    """
    bind()
    failed = reason is not None
    outcome = ImportOutcomeItem(
        PK=f"P#{project_id}#IMPORT#{import_id}",
        SK=f"ITEM#{index:08d}",
        kind="import_outcome",
        project_id=project_id,
        import_id=import_id,
        item_index=index,
        name=name,
        outcome="failed" if failed else "done",
        file_id=file_id,
        reason=reason[:1000] if reason else None,
    )
    try:
        outcome.save(condition=ImportOutcomeItem.PK.does_not_exist())
    except PutError as exc:
        if condition_failed(exc):
            return False
        raise
    counter = ImportJobItem.failed if failed else ImportJobItem.done
    ImportJobItem(PK=_project_pk(project_id), SK=f"IMPORT#{import_id}").update(actions=[counter.add(1)])
    return True


def recount_import(project_id: str, import_id: str) -> tuple[int, int]:
    """Set the job's done/failed counters from its recorded outcomes; returns (done, failed)."""
    bind()
    pk = f"P#{project_id}#IMPORT#{import_id}"
    failed = ImportOutcomeItem.count(pk, filter_condition=ImportOutcomeItem.outcome == "failed")
    done = ImportOutcomeItem.count(pk, filter_condition=ImportOutcomeItem.outcome == "done")
    ImportJobItem(PK=_project_pk(project_id), SK=f"IMPORT#{import_id}").update(
        actions=[ImportJobItem.done.set(done), ImportJobItem.failed.set(failed)]
    )
    return done, failed


def clear_import_outcomes(project_id: str, import_id: str) -> None:
    bind()
    with ImportOutcomeItem.batch_write() as batch:
        for item in ImportOutcomeItem.query(f"P#{project_id}#IMPORT#{import_id}"):
            batch.delete(item)


def import_failures(project_id: str, import_id: str, limit: int = 100) -> list[dict[str, Any]]:
    bind()
    failures = ImportOutcomeItem.query(
        f"P#{project_id}#IMPORT#{import_id}", filter_condition=ImportOutcomeItem.outcome == "failed"
    )
    return [
        {"index": int(i.item_index), "name": i.name, "reason": i.reason}
        for _, i in zip(range(limit), failures, strict=False)
    ]


# --- arrivals: drop path -> file (late sidecars) ------------------------------------------
#   P#<project>#ARRIVAL / <dataset>/<path without extension>


def _arrival_key(project_id: str, dataset_name: str, path_stem: str) -> tuple[str, str]:
    return f"P#{project_id}#ARRIVAL", f"{dataset_name}/{path_stem}"


def record_arrival(project_id: str, dataset_name: str, path_stem: str, file_id: str, refused_id: str) -> bool:
    """Point a path's stem at the ready file it became and retire the path's refusal (quarantine record
    ``refused_id``) if it had one; returns whether it had. One write, which also answers what it replaced."""
    bind()
    answer = ArrivalItem._get_connection().update_item(
        *_arrival_key(project_id, dataset_name, path_stem),
        actions=[
            ArrivalItem.kind.set("arrival"),
            ArrivalItem.project_id.set(project_id),
            ArrivalItem.file_id.set(file_id),
            ArrivalItem.refused.delete({refused_id}),
        ],
        return_values="UPDATED_OLD",
    )
    before = answer.get("Attributes", {})
    # Arrivals recorded before refusals had a set of their own named the refused record as file_id.
    return refused_id in before.get("refused", {}).get("SS", ()) or before.get("file_id", {}).get("S") == refused_id


def record_refused_arrival(project_id: str, dataset_name: str, path_stem: str, refused_id: str) -> None:
    """Note a refused path under this stem, leaving the stem's ready file (its sidecar's target) as it is."""
    bind()
    ArrivalItem._get_connection().update_item(
        *_arrival_key(project_id, dataset_name, path_stem),
        actions=[
            ArrivalItem.kind.set("arrival"),
            ArrivalItem.project_id.set(project_id),
            ArrivalItem.refused.add({refused_id}),
        ],
    )


def arrival_file_id(project_id: str, dataset_name: str, path_stem: str) -> str | None:
    """The ready file a path stem became, if one did."""
    bind()
    try:
        return ArrivalItem.get(*_arrival_key(project_id, dataset_name, path_stem)).file_id
    except ArrivalItem.DoesNotExist:
        return None
