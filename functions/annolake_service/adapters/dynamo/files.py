"""Files and their annotation versions.

A file's item and the domain ``FileRecord`` map onto each other here and nowhere else (``_file_item`` /
``_file_record``); its memberships' summary copies are made by ``datasets.membership_item``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any

from pynamodb.expressions.update import Action
from pynamodb.transactions import TransactWrite

from annolake_service.adapters.dynamo import cursors, datasets, keys
from annolake_service.adapters.dynamo.conditions import (
    ConditionFailed,
    TransactionPut,
    TransactionUpdate,
    VersionConflict,
    applied,
)
from annolake_service.adapters.dynamo.items import AnnotationVersionItem, DatasetMemberItem, FileItem, SchemaItem
from annolake_service.adapters.dynamo.table import bind, read_together, transact_refused
from annolake_service.domain.entities import AnnotationVersion, FileRecord

# A file item carries its current instances up to this size as JSON; larger ones stay in their version item
# alone (the file item must also fit DynamoDB's 400 KB with the file's metadata).
CARRIED_INSTANCE_BYTES = 64 * 1024

# FileRecord fields stored under another attribute name (pynamodb reserves ``attribute_values``).
_ATTRIBUTE_OF = {"metadata": "file_metadata", "attribute_values": "attribute_summary"}


def _plain(value: Any) -> Any:
    """A raw ``MapAttribute`` read back from the table is not a dict; written ones are."""
    return value.as_dict() if hasattr(value, "as_dict") else value


def _file_record(item: FileItem) -> FileRecord:
    values = {name: _plain(getattr(item, _ATTRIBUTE_OF.get(name, name))) for name in FileRecord.model_fields}
    return FileRecord.model_validate({name: value for name, value in values.items() if value is not None})


def _file_item(record: FileRecord, instances: list[dict[str, Any]], dataset_id: str | None = None) -> FileItem:
    """A new file's item; ``instances`` are its version 1 (none: version 0); ``dataset_id``: the dataset whose
    membership is written with it."""
    values = {_ATTRIBUTE_OF.get(name, name): getattr(record, name) for name in FileRecord.model_fields}
    values["dataset_ids"] = {dataset_id} if dataset_id else None
    values["dataset_ids_complete"] = True if dataset_id else None
    values["video"] = record.video.model_dump(mode="json") if record.video is not None else None
    values["annotation_version"] = 1 if instances else 0
    values["current_instances"] = _carried(instances) if instances else None
    return FileItem(PK=keys.file_pk(record.project_id, record.file_id), SK=keys.FILE_SK, kind=FileItem.KIND, **values)


def _carried(instances: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
    return instances if len(json.dumps(instances)) <= CARRIED_INSTANCE_BYTES else None


def _version_item(version: AnnotationVersion) -> AnnotationVersionItem:
    return AnnotationVersionItem(
        PK=keys.file_pk(version.project_id, version.file_id),
        SK=keys.version_sk(version.version),
        kind=AnnotationVersionItem.KIND,
        **version.model_dump(),
    )


def _first_version(record: FileRecord, instances: list[dict[str, Any]], author: str) -> AnnotationVersion:
    return AnnotationVersion(
        project_id=record.project_id,
        file_id=record.file_id,
        version=1,
        instance_list=instances,
        created_by=author,
        source="import",
        created_at=record.created_at,
    )


# --- reading ------------------------------------------------------------------------------


def get_file(project_id: str, file_id: str, *, consistent: bool = False) -> FileRecord | None:
    item = _read_file_item(project_id, file_id, consistent=consistent)
    return _file_record(item) if item is not None else None


def _read_file_item(project_id: str, file_id: str, *, consistent: bool) -> FileItem | None:
    bind()
    try:
        return FileItem.get(keys.file_pk(project_id, file_id), keys.FILE_SK, consistent_read=consistent)
    except FileItem.DoesNotExist:
        return None


def get_files(project_id: str, file_ids: list[str], *, consistent: bool = False) -> dict[str, FileRecord]:
    return {fid: record for fid, (record, _) in get_listed_files(project_id, file_ids, consistent=consistent).items()}


def get_listed_files(
    project_id: str, file_ids: list[str], *, consistent: bool = False
) -> dict[str, tuple[FileRecord, Listing]]:
    """``get_files``, each with the datasets its item names (``Listing``)."""
    bind()
    wanted = [(keys.file_pk(project_id, fid), keys.FILE_SK) for fid in dict.fromkeys(file_ids)]
    return {
        item.file_id: (_file_record(item), _listing(item))
        for item in FileItem.batch_get(wanted, consistent_read=consistent)
    }


MEDIA_ATTRIBUTES = ("file_id", "original_key", "deleted_at")
"""What predicting a file reads of its item: where its image is, and whether it is still there."""


def get_media_keys(project_id: str, file_ids: list[str]) -> dict[str, str]:
    """The original media key of each live file among ``file_ids`` that has one, by id: batch reads projected
    to ``MEDIA_ATTRIBUTES`` (not the instances, metadata and summaries a file item carries, nor a whole record
    built from them)."""
    bind()
    wanted = [(keys.file_pk(project_id, fid), keys.FILE_SK) for fid in dict.fromkeys(file_ids)]
    return {
        item.file_id: item.original_key
        for item in FileItem.batch_get(wanted, attributes_to_get=list(MEDIA_ATTRIBUTES))
        if item.deleted_at is None and item.original_key
    }


PIN_ATTRIBUTES = ("file_id", "status", "content_hash", "annotation_version", "label_counts", "deleted_at")
"""What pinning a file in a snapshot reads of its item: not its instances, metadata or summaries."""


def get_pin_facts(project_id: str, file_ids: list[str]) -> dict[str, tuple[str, int, dict[str, int]]]:
    """(media sha256, annotation version, label counts) of the ready, live files among ``file_ids``, by id:
    batch reads projected to ``PIN_ATTRIBUTES`` (a file item carries its instances: most of its bytes)."""
    bind()
    wanted = [(keys.file_pk(project_id, fid), keys.FILE_SK) for fid in dict.fromkeys(file_ids)]
    return {
        item.file_id: (
            item.content_hash or "",
            int(item.annotation_version),
            {name: int(count) for name, count in _plain(item.label_counts).items()},
        )
        for item in FileItem.batch_get(wanted, attributes_to_get=list(PIN_ATTRIBUTES))
        if item.status == "ready" and item.deleted_at is None
    }


def get_file_with_instances(project_id: str, file_id: str) -> tuple[FileRecord, list[dict[str, Any]]] | None:
    """A file with the live instances of its current annotation version (one read when its item carries them)."""
    return get_files_with_instances(project_id, [file_id]).get(file_id)


def get_files_with_instances(
    project_id: str, file_ids: list[str]
) -> dict[str, tuple[FileRecord, list[dict[str, Any]]]]:
    """Files with the live instances of their current annotation version: one batch read, plus one for the
    files whose instances are too large to be carried on their item."""
    bind()
    wanted = [(keys.file_pk(project_id, fid), keys.FILE_SK) for fid in dict.fromkeys(file_ids)]
    return _with_instances(project_id, {item.file_id: item for item in FileItem.batch_get(wanted)})


ForSave = tuple[tuple[FileRecord, list[dict[str, Any]]] | None, tuple[dict[str, Any], int], "Listing | None"]


def get_file_for_save(project_id: str, file_id: str) -> ForSave:
    """What saving a file's annotations checks against, in one batch read: the file with the live instances of
    its current version (``get_file_with_instances``), the project's schema (``datasets.get_schema``) and the
    datasets its item names."""
    return for_save_from(project_id, file_id, read_together(save_keys(project_id, file_id), consistent=False))


def save_keys(project_id: str, file_id: str) -> list[Any]:
    """The items ``get_file_for_save`` reads, for a caller reading them with its own (``for_save_from``)."""
    return [FileItem(PK=keys.file_pk(project_id, file_id), SK=keys.FILE_SK), datasets.schema_key(project_id)]


def for_save_from(project_id: str, file_id: str, read: Sequence[Any]) -> ForSave:
    """``get_file_for_save``'s answer from the items at ``save_keys``, as read (None where none)."""
    file_item, schema_item = read
    if not isinstance(file_item, FileItem):
        return None, datasets.schema_of(schema_item if isinstance(schema_item, SchemaItem) else None), None
    found = _with_instances(project_id, {file_id: file_item})
    schema = datasets.schema_of(schema_item if isinstance(schema_item, SchemaItem) else None)
    return found.get(file_id), schema, _listing(file_item)


def _listing(item: FileItem) -> Listing:
    named = frozenset(item.dataset_ids) if item.dataset_ids else None
    return Listing(item.created_at, named, complete=bool(item.dataset_ids_complete and named))


def _with_instances(project_id: str, items: dict[str, FileItem]) -> dict[str, tuple[FileRecord, list[dict[str, Any]]]]:
    """Each file with its live instances: carried on its item, else read from its version items (one batch)."""
    uncarried = {
        fid: int(item.annotation_version)
        for fid, item in items.items()
        if item.current_instances is None and item.annotation_version and item.deleted_at is None
    }
    read = _instance_lists(project_id, uncarried) if uncarried else {}
    return {fid: (_file_record(item), read.get(fid, item.current_instances or [])) for fid, item in items.items()}


def get_files_at_versions(
    project_id: str, versions: dict[str, int]
) -> dict[str, tuple[FileRecord, list[dict[str, Any]]]]:
    """Files (deleted ones too) with the live instances of the given annotation version of each: the file items,
    then one batch read of the version items for the files not at that version (or not carrying it)."""
    bind()
    wanted = [(keys.file_pk(project_id, fid), keys.FILE_SK) for fid in versions]
    items = {item.file_id: item for item in FileItem.batch_get(wanted)}
    carried = {
        fid: item.current_instances
        for fid, item in items.items()
        if int(item.annotation_version) == versions[fid] and item.current_instances is not None
    }
    read = _instance_lists(project_id, {fid: versions[fid] for fid in items if fid not in carried})
    return {fid: (_file_record(item), carried.get(fid) or read.get(fid, [])) for fid, item in items.items()}


def _instance_lists(project_id: str, versions: dict[str, int]) -> dict[str, list[dict[str, Any]]]:
    """The instance list of each file at the given annotation version (one batch read for a page of files)."""
    lists: dict[str, list[dict[str, Any]]] = {file_id: [] for file_id in versions}
    wanted = [(keys.file_pk(project_id, fid), keys.version_sk(v)) for fid, v in versions.items() if v > 0]
    for item in AnnotationVersionItem.batch_get(wanted):
        lists[item.file_id] = item.instance_list
    return lists


def version_authors(project_id: str, versions: dict[str, int]) -> dict[str, str]:
    """Who saved each file's given annotation version (one batch read of just that attribute)."""
    bind()
    wanted = [(keys.file_pk(project_id, fid), keys.version_sk(v)) for fid, v in versions.items() if v > 0]
    items = AnnotationVersionItem.batch_get(wanted, attributes_to_get=["file_id", "created_by"])
    return {item.file_id: item.created_by for item in items}


def annotation_history(project_id: str, file_id: str) -> list[AnnotationVersion]:
    """Every saved version of the file's annotations, oldest first."""
    return list(iter_annotation_versions(project_id, file_id))


def _history_listing(project_id: str, file_id: str, instance_root_id: str | None) -> str:
    view = f"#instance:{instance_root_id}" if instance_root_id is not None else ""
    return f"annotation-history:{project_id}/{file_id}{view}"


def encode_history_position(project_id: str, file_id: str, instance_root_id: str | None, position: int) -> str:
    """The cursor of the history page after ``position`` (a version, or an instance history's offset)."""
    return cursors.encode(_history_listing(project_id, file_id, instance_root_id), position)


def decode_history_position(project_id: str, file_id: str, instance_root_id: str | None, cursor: str) -> int:
    """The position ``cursor`` continues after; InvalidCursor if it is not one of this history's."""
    position = cursors.decode(_history_listing(project_id, file_id, instance_root_id), cursor)
    if not isinstance(position, int) or isinstance(position, bool) or position < 0:
        raise cursors.InvalidCursor
    return position


def iter_annotation_versions(
    project_id: str, file_id: str, *, after: int = 0, newest_first: bool = False
) -> Iterator[AnnotationVersion]:
    """The file's saved versions after version ``after``, oldest first (or newest first), read page by page as
    they are consumed."""
    bind()
    found = AnnotationVersionItem.query(
        keys.file_pk(project_id, file_id),
        AnnotationVersionItem.SK.between(keys.version_sk(after + 1), keys.version_sk(keys.MAX_VERSION)),
        scan_index_forward=not newest_first,
    )
    for item in found:
        yield AnnotationVersion(
            project_id=item.project_id,
            file_id=item.file_id,
            version=int(item.version),
            instance_list=item.instance_list,
            deleted=item.deleted or [],
            created_by=item.created_by,
            source=item.source,
            task_id=item.task_id,
            created_at=item.created_at,
        )


# --- writing ------------------------------------------------------------------------------


def register_file(
    record: FileRecord,
    *,
    dataset_id: str,
    instance_list: list[dict[str, Any]],
    created_by: str,
    alongside: TransactionUpdate | TransactionPut | None = None,
) -> bool:
    """Write a ready file, its dataset membership and its first annotation version atomically.

    Conditional on the file not existing yet (natural key: project + content hash), so a redelivered event or
    the same content dropped again writes nothing but lists the existing file in the dataset. False then.
    ``alongside``: one more conditional write in the same transaction, made with a new file only;
    ConditionFailed (nothing written) when the file is new and its condition did not hold.
    """

    def write(tx: TransactWrite) -> None:
        tx.save(_file_item(record, instance_list, dataset_id), condition=FileItem.PK.does_not_exist())  # first
        datasets.add_membership(tx, record, dataset_id, file_written=True)
        if instance_list:
            tx.save(
                _version_item(_first_version(record, instance_list, created_by)),
                condition=AnnotationVersionItem.PK.does_not_exist(),
            )
        if alongside is not None:
            alongside.write_in(tx)

    bind()
    refused = transact_refused(write)
    if not refused:
        return True
    if alongside is not None and 0 not in refused:
        raise ConditionFailed("the update made alongside the new file no longer holds")
    add_to_dataset(record.project_id, record.file_id, dataset_id)
    return False


def put_new_files(entries: list[tuple[FileRecord, str, list[dict[str, Any]], str]]) -> None:
    """Batch-write ``(record, dataset id, instance list, author)`` of files known to be new.

    For seeding and benchmarks at scale: no transaction and no duplicate check per file (what ``register_file``
    guarantees), so the caller must know the content hashes are new to the project.
    """
    bind()
    with FileItem.batch_write() as batch:
        for record, dataset_id, instances, _ in entries:
            batch.save(_file_item(record, instances, dataset_id))
    with DatasetMemberItem.batch_write() as batch:
        for record, dataset_id, _, _ in entries:
            batch.save(datasets.membership_item(record, dataset_id))
    datasets.count_new_memberships(
        (record.project_id, dataset_id, record.file_id) for record, dataset_id, _, _ in entries
    )
    with AnnotationVersionItem.batch_write() as batch:
        for record, _, instances, author in entries:
            if instances:
                batch.save(_version_item(_first_version(record, instances, author)))


def record_quarantine(record: FileRecord, *, dataset_id: str) -> None:
    """Store a quarantined file with its reason. A redelivery, a retried step or the path quarantined again
    rewrites the same items: the file item (its id is the path's) and its one membership of the dataset, whose
    sort key keeps the time the path was first quarantined (a new one would list the file twice)."""
    bind()
    earlier = [m for m in datasets.memberships_of(record.project_id, record.file_id) if m.dataset_id == dataset_id]
    if earlier:
        record = record.model_copy(update={"created_at": earlier[0].created_at})
    _file_item(record, []).save(condition=FileItem.PK.does_not_exist() | (FileItem.status == "quarantined"))
    datasets.put_membership(record, dataset_id)


def add_to_dataset(project_id: str, file_id: str, dataset_id: str) -> None:
    """List the file in another dataset too (a mirror: the same file, the same annotations). Idempotent;
    LookupError when there is no such file."""
    record = get_file(project_id, file_id)
    if record is None:
        raise LookupError(file_id)
    list_in_dataset(record, dataset_id)


def list_in_dataset(record: FileRecord, dataset_id: str) -> None:
    """List the file read as ``record`` in the dataset too, with the summary of its newest annotation version.

    A save that committed after ``record`` was read may have copied its summary onto the file's memberships
    before this one existed: the file is read again (strongly) once the membership is written, and a newer
    version's summary copied onto this membership, by its key (only ever over an older copy)."""
    if not datasets.add_file(record, dataset_id):
        return
    latest = get_file(record.project_id, record.file_id, consistent=True)
    if latest is not None and latest.annotation_version > record.annotation_version:
        datasets.copy_summary(
            record,
            dataset_id,
            version=latest.annotation_version,
            label_counts=latest.label_counts,
            attribute_values=latest.attribute_values,
        )


def soft_delete_file(project_id: str, file_id: str, when: datetime) -> bool:
    """Hide the file everywhere; its item, media and annotation history are kept. False if already gone."""
    bind()
    item = FileItem(PK=keys.file_pk(project_id, file_id), SK=keys.FILE_SK)
    condition = FileItem.PK.exists() & FileItem.deleted_at.does_not_exist()
    if not applied(lambda: item.update(actions=[FileItem.deleted_at.set(when)], condition=condition)):
        return False
    datasets.mark_deleted(project_id, file_id)
    return True


def update_file_metadata(project_id: str, file_id: str, metadata: dict[str, Any]) -> bool:
    return _update_live_file(project_id, file_id, [FileItem.file_metadata.set(metadata)])


def set_file_status_reason(project_id: str, file_id: str, reason: str) -> bool:
    """A note on a live file (for a ready one: what went wrong around it, e.g. a sidecar that was refused)."""
    return _update_live_file(project_id, file_id, [FileItem.status_reason.set(reason)])


def _update_live_file(project_id: str, file_id: str, actions: list[Action]) -> bool:
    """False when the file does not exist or was deleted."""
    bind()
    item = FileItem(PK=keys.file_pk(project_id, file_id), SK=keys.FILE_SK)
    condition = FileItem.PK.exists() & FileItem.deleted_at.does_not_exist()
    return applied(lambda: item.update(actions=actions, condition=condition))


#: Memberships whose summary copy a save writes in its own transaction (at most 100 writes in one); a file
#: listed in more datasets takes the copy after it, as one written before ``dataset_ids`` was kept does.
COPIES_IN_SAVE = 25
_LISTING_TRIES = 4  # transactions a save makes while the datasets listing its file change under it


@dataclass(frozen=True)
class Listing:
    """Where a file is listed, as its item says: its memberships' keys are made from these."""

    created_at: datetime
    dataset_ids: frozenset[str] | None  # as the item names them (None: none)
    complete: bool  # every dataset listing the file is named (else only those added since it was written)

    def positions(self, file_id: str) -> dict[str, str]:
        """Each named dataset's membership sort key (its file's position there) for the file, by dataset id: the
        memberships the file may have (a dataset it was taken out of is still named)."""
        position = keys.dataset_member_sk(self.created_at, file_id)
        return {dataset_id: position for dataset_id in sorted(self.dataset_ids or ())}


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
    frame_counts: dict[str, int] | None = None,
    source: str,
    task_id: str | None = None,
    alongside: Sequence[TransactionUpdate] = (),
    listing: Listing,
) -> int:
    """Append version ``expected_version + 1``; VersionConflict if the file moved on meanwhile.

    ``alongside``: more conditional updates in the same transaction (a workflow task marked submitted with the
    version it produced, its file's progress in the job): all happen or none; ConditionFailed if only theirs
    failed. ``listing``: the version's summary is copied onto the file's memberships in the same transaction,
    on the condition that the datasets its item names are still those: a membership written since (the
    file listed in one more dataset) makes the save read them again, one gone since (taken out of a dataset)
    is left out, and the item names the live ones again. A file whose item names none (written before they
    were kept) takes the copy after the transaction, its memberships read.
    """
    version = AnnotationVersion(
        project_id=project_id,
        file_id=file_id,
        version=expected_version + 1,
        instance_list=json.loads(json.dumps(instances)),
        deleted=json.loads(json.dumps(deleted)),
        created_by=author,
        source=source,
        task_id=task_id,
        created_at=datetime.now(UTC),
    )
    carried = _carried(instances)
    file_key = FileItem(PK=keys.file_pk(project_id, file_id), SK=keys.FILE_SK)

    def write(tx: TransactWrite, copies: list[TransactionUpdate], kept: frozenset[str] | None) -> None:
        condition = (FileItem.annotation_version == expected_version) & FileItem.deleted_at.does_not_exist()
        if copies:
            condition &= FileItem.dataset_ids == set(kept or ())
        tx.update(
            file_key,
            actions=[
                FileItem.annotation_version.set(version.version),
                FileItem.label_counts.set(label_counts),
                FileItem.frame_counts.set(frame_counts or {}),
                FileItem.attribute_summary.set(attribute_values),
                FileItem.current_instances.remove() if carried is None else FileItem.current_instances.set(carried),
            ],
            condition=condition,
        )
        tx.save(_version_item(version), condition=AnnotationVersionItem.PK.does_not_exist())
        for update in [*alongside, *copies]:
            update.write_in(tx)

    bind()
    first_copy = 2 + len(alongside)  # the writes go puts first: the version, the file, ``alongside``, the copies
    kept = listing.dataset_ids  # as the file's item names them: the transaction expects them unchanged
    live = set(kept or ())  # those a copy is written onto
    for _ in range(_LISTING_TRIES):
        if not listing.complete or len(live) > COPIES_IN_SAVE:
            break
        onto = sorted(live)
        copies = datasets.summary_updates(
            project_id,
            file_id,
            listing.created_at,
            onto,
            version=version.version,
            label_counts=label_counts,
            attribute_values=attribute_values,
        )
        if not copies:
            break  # every membership it named is gone: the copy after, onto those read
        refused = transact_refused(partial(write, copies=copies, kept=kept))
        if not refused:
            if live != set(kept or ()):
                _keep_listing(file_key, kept, live)
            return version.version
        if any(2 <= n < first_copy for n in refused):
            raise ConditionFailed("an update made alongside the annotations no longer holds")
        live -= {onto[n - first_copy] for n in refused if n >= first_copy}  # taken out of their datasets since
        if refused & {0, 1}:  # moved on, deleted, or listed in another dataset since it was read
            now = _read_file_item(project_id, file_id, consistent=True)
            if now is None or now.deleted_at is not None or now.annotation_version != expected_version:
                raise VersionConflict(int(now.annotation_version) if now is not None else 0)
            listing = _listing(now)
            kept, live = listing.dataset_ids, set(listing.dataset_ids or ())
    refused = transact_refused(partial(write, copies=[], kept=None))
    if any(n >= 2 for n in refused):
        raise ConditionFailed("an update made alongside the annotations no longer holds")
    if refused:
        current = get_file(project_id, file_id)
        raise VersionConflict(current.annotation_version if current else 0)
    found = datasets.update_summaries(
        project_id, file_id, version=version.version, label_counts=label_counts, attribute_values=attribute_values
    )
    if found and (found != set(kept or ()) or not listing.complete):
        _keep_listing(file_key, kept, found)
    return version.version


def _keep_listing(file_key: FileItem, was: frozenset[str] | None, found: set[str]) -> None:
    """Name ``found``, every dataset listing the file, on its item if the item still names ``was`` (None:
    nothing): a membership written meanwhile added its id, and the item stays as it is."""
    if not found:
        return
    unchanged = FileItem.dataset_ids.does_not_exist() if was is None else FileItem.dataset_ids == set(was)
    actions: list[Action] = [FileItem.dataset_ids.set(found), FileItem.dataset_ids_complete.set(True)]
    applied(partial(file_key.update, actions=actions, condition=unchanged & FileItem.PK.exists()))
