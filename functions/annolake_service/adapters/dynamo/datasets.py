"""Datasets, the project's label schema, and dataset memberships (a file's place in a dataset).

A membership carries a copy of its file's summary (``_summary``) so dataset listings and slice queries filter
on the memberships alone; the file repository keeps the copies current when the file changes.

Every membership write that makes it live or not live moves its shard's counter (``DatasetCountItem``) in the
same transaction, conditional on the membership's state before: a redelivered event or a retried step finds the
membership as it left it and moves nothing. A dataset's file count is then one read of its counters.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from functools import partial
from typing import Any

from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action
from pynamodb.transactions import TransactWrite

from annolake_service.adapters.aws_clients import client
from annolake_service.adapters.dynamo import cursors, keys
from annolake_service.adapters.dynamo.conditions import (
    AlreadyExists,
    ConditionFailed,
    TransactionUpdate,
    VersionConflict,
    applied,
)
from annolake_service.adapters.dynamo.items import (
    DatasetCountItem,
    DatasetItem,
    DatasetMemberItem,
    FileItem,
    SchemaItem,
)
from annolake_service.adapters.dynamo.table import bind, transact
from annolake_service.domain.entities import Dataset, FileRecord
from annolake_service.shared.settings import get_settings

# --- datasets -----------------------------------------------------------------------------


def _dataset(item: DatasetItem) -> Dataset:
    return Dataset(
        project_id=item.project_id,
        dataset_id=item.dataset_id,
        name=item.name,
        description=item.description,
        created_at=item.created_at,
    )


def create_dataset(dataset: Dataset) -> None:
    """AlreadyExists when the project has a dataset of that name. Its file counters start at 0, exact."""
    bind()
    item = DatasetItem(
        PK=keys.project_pk(dataset.project_id),
        SK=keys.dataset_sk(dataset.name),
        kind=DatasetItem.KIND,
        project_id=dataset.project_id,
        dataset_id=dataset.dataset_id,
        name=dataset.name,
        description=dataset.description,
        created_at=dataset.created_at,
    )

    def write(tx: TransactWrite) -> None:
        tx.save(item, condition=DatasetItem.PK.does_not_exist())
        for shard in range(keys.DATASET_SHARDS):
            counter = _counter(dataset.project_id, dataset.dataset_id, shard)
            counter.kind, counter.live, counter.moves, counter.exact = DatasetCountItem.KIND, 0, 0, True
            tx.save(counter)

    if not transact(write):
        raise AlreadyExists(dataset.name)


def get_dataset(project_id: str, name: str) -> Dataset | None:
    bind()
    try:
        return _dataset(DatasetItem.get(keys.project_pk(project_id), keys.dataset_sk(name)))
    except DatasetItem.DoesNotExist:
        return None


def list_datasets(project_id: str) -> list[Dataset]:
    bind()
    found = DatasetItem.query(keys.project_pk(project_id), DatasetItem.SK.startswith(keys.DATASET_PREFIX))
    return [_dataset(i) for i in found]


# --- label schema -------------------------------------------------------------------------


def get_schema(project_id: str) -> tuple[dict[str, Any], int]:
    """The schema document and its version (0 when never saved)."""
    bind()
    try:
        item = SchemaItem.get(keys.project_pk(project_id), keys.SCHEMA_SK)
    except SchemaItem.DoesNotExist:
        return schema_of(None)
    return schema_of(item)


def schema_key(project_id: str) -> SchemaItem:
    return SchemaItem(PK=keys.project_pk(project_id), SK=keys.SCHEMA_SK)


def schema_of(item: SchemaItem | None) -> tuple[dict[str, Any], int]:
    """The schema document and version an item holds (none stored: the empty schema, version 0)."""
    if item is None:
        return {"labels": [], "attribute_groups": []}, 0
    return item.document, int(item.version)


def save_schema(project_id: str, document: dict[str, Any], *, expected_version: int) -> int:
    """Replace the schema if it is still at ``expected_version``; VersionConflict if not."""
    bind()
    item = SchemaItem(
        PK=keys.project_pk(project_id),
        SK=keys.SCHEMA_SK,
        kind=SchemaItem.KIND,
        project_id=project_id,
        document=document,
    )
    if expected_version:
        item.version = expected_version
    if not applied(item.save):  # the version attribute makes the save conditional
        _, current = get_schema(project_id)
        raise VersionConflict(current)
    return int(item.version)


# --- memberships ----------------------------------------------------------------------------


def _membership_key(project_id: str, dataset_id: str, file_id: str, created_at: datetime) -> tuple[str, str]:
    return keys.shard_pk(project_id, dataset_id, keys.shard_of(file_id)), keys.dataset_member_sk(created_at, file_id)


def membership_item(record: FileRecord, dataset_id: str) -> DatasetMemberItem:
    """The file's membership of a dataset, with the copy of its summary."""
    pk, sk = _membership_key(record.project_id, dataset_id, record.file_id, record.created_at)
    return DatasetMemberItem(
        PK=pk,
        SK=sk,
        kind=DatasetMemberItem.KIND,
        GSI1PK=keys.file_pk(record.project_id, record.file_id),
        GSI1SK=keys.dataset_index_sk(dataset_id),
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
        summary_version=record.annotation_version,
    )


def memberships_of(project_id: str, file_id: str, *, reading: list[str] | None = None) -> list[DatasetMemberItem]:
    """The file's memberships; ``reading``: only these attributes of each (each carries a copy of the file's
    summary, which most readers do not need)."""
    bind()
    return list(
        DatasetMemberItem.gsi1.query(
            keys.file_pk(project_id, file_id),
            DatasetMemberItem.GSI1SK.startswith(keys.DATASET_INDEX_PREFIX),
            attributes_to_get=reading,
        )
    )


def memberships_of_file(project_id: str, file_id: str) -> dict[str, str]:
    """The datasets the file is listed in (a deleted file is in none), each with its position (sort key) there."""
    listed = memberships_of(project_id, file_id, reading=["SK", "dataset_id", "status"])
    return {m.dataset_id: m.SK for m in listed if m.status != "deleted"}


def live_memberships(project_id: str, places: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
    """Which of the (dataset id, position) places (a membership's sort key) list their file now: strong batch
    reads."""
    bind()
    wanted = {
        (keys.shard_pk(project_id, dataset_id, keys.shard_of(position.rsplit("#", 1)[-1])), position): dataset_id
        for dataset_id, position in places
    }
    if not wanted:
        return set()
    found = DatasetMemberItem.batch_get(list(wanted), consistent_read=True, attributes_to_get=["PK", "SK", "status"])
    return {(wanted[(item.PK, item.SK)], item.SK) for item in found if item.status != "deleted"}


# A membership lists its file (counted) unless its status is "deleted" (a soft-deleted file).
_LIVE: Condition = DatasetMemberItem.PK.exists() & (DatasetMemberItem.status != "deleted")
_NOT_LIVE: Condition = DatasetMemberItem.PK.does_not_exist() | (DatasetMemberItem.status == "deleted")
# Attempts at a write whose condition names the membership's state before, when that state keeps changing.
_RACES = 5


def _counter(project_id: str, dataset_id: str, shard: int) -> DatasetCountItem:
    return DatasetCountItem(PK=keys.dataset_count_pk(project_id, dataset_id), SK=keys.dataset_count_sk(shard))


def _count_actions(delta: int) -> list[Action]:
    return [
        DatasetCountItem.live.add(delta),
        DatasetCountItem.moves.add(1),
        DatasetCountItem.kind.set(DatasetCountItem.kind | DatasetCountItem.KIND),
    ]


def _move_count(tx: TransactWrite, project_id: str, dataset_id: str, file_id: str, delta: int) -> None:
    tx.update(_counter(project_id, dataset_id, keys.shard_of(file_id)), actions=_count_actions(delta))


def add_membership(
    tx: TransactWrite,
    record: FileRecord,
    dataset_id: str,
    *,
    condition: Condition = _NOT_LIVE,
    file_written: bool = False,
) -> None:
    """In ``tx``: the file's new membership of the dataset (by default over none or a deleted one), its count and
    the dataset's id on the file's item (``file_written``: ``tx`` writes the file's item with it already). The
    transaction is refused, and counts nothing, when ``condition`` does not hold or the file's item is gone."""
    tx.save(membership_item(record, dataset_id), condition=condition)
    _move_count(tx, record.project_id, dataset_id, record.file_id, +1)
    if not file_written:
        tx.update(
            FileItem(PK=keys.file_pk(record.project_id, record.file_id), SK=keys.FILE_SK),
            actions=[FileItem.dataset_ids.add({dataset_id})],
            condition=FileItem.PK.exists(),
        )


def put_membership(record: FileRecord, dataset_id: str) -> None:
    """Write the file's membership whatever was there (a quarantine recorded again), counting it if it was not
    live before."""
    bind()
    item = membership_item(record, dataset_id)
    for _ in range(_RACES):
        if transact(partial(add_membership, record=record, dataset_id=dataset_id)):
            return
        if applied(partial(item.save, condition=_LIVE)):  # live already: the same count
            return
    raise ConditionFailed(f"the membership of {record.file_id} in {dataset_id} kept changing")


def count_new_memberships(listed: Iterable[tuple[str, str, str]]) -> None:
    """Count memberships batch-written without conditions (``files.put_new_files``: files known to be new) as
    (project id, dataset id, file id): one counter update per shard, after the memberships."""
    bind()
    tally = Counter((project_id, dataset_id, keys.shard_of(file_id)) for project_id, dataset_id, file_id in listed)
    for (project_id, dataset_id, shard), added in tally.items():
        _counter(project_id, dataset_id, shard).update(actions=_count_actions(added))


def add_file(record: FileRecord, dataset_id: str) -> bool:
    """List the file (the same file, same annotations) in the dataset too. Idempotent: False when it was."""
    if dataset_id in datasets_of_file(record.project_id, record.file_id):
        return False
    # The index read above lags writes: the condition decides between two adds of the same file at once.
    return transact(
        partial(add_membership, record=record, dataset_id=dataset_id, condition=DatasetMemberItem.PK.does_not_exist())
    )


def remove_file(project_id: str, file_id: str, dataset_id: str) -> bool:
    """Take the file out of the dataset; False when it was not in it."""
    removed = False
    for membership in memberships_of(project_id, file_id):
        if membership.dataset_id == dataset_id:
            _remove_membership(membership)
            removed = True
    return removed


def _remove_membership(membership: DatasetMemberItem) -> None:
    def live_one(tx: TransactWrite) -> None:
        tx.delete(membership, condition=_LIVE)
        _move_count(tx, membership.project_id, membership.dataset_id, membership.file_id, -1)

    for _ in range(_RACES):
        if transact(live_one) or applied(partial(membership.delete, condition=_NOT_LIVE)):
            return
    raise ConditionFailed(f"the membership of {membership.file_id} in {membership.dataset_id} kept changing")


def datasets_of_file(project_id: str, file_id: str) -> list[str]:
    return [m.dataset_id for m in memberships_of(project_id, file_id, reading=["dataset_id"])]


def _summary_actions(version: int, label_counts: dict[str, int], attribute_values: dict) -> list[Action]:
    return [
        DatasetMemberItem.label_counts.set(label_counts),
        DatasetMemberItem.attribute_summary.set(attribute_values),
        DatasetMemberItem.summary_version.set(version),
    ]


def _over_an_older_copy(version: int) -> Condition:
    older = DatasetMemberItem.summary_version.does_not_exist() | (DatasetMemberItem.summary_version < version)
    return DatasetMemberItem.PK.exists() & older


def summary_updates(
    project_id: str,
    file_id: str,
    created_at: datetime,
    dataset_ids: Iterable[str],
    *,
    version: int,
    label_counts: dict[str, int],
    attribute_values: dict,
) -> list[TransactionUpdate]:
    """The summary copy of a file's annotation ``version`` onto its memberships of ``dataset_ids``, for the save's
    transaction; each refused if that membership is gone (the ids were a superset)."""
    actions = _summary_actions(version, label_counts, attribute_values)
    return [
        TransactionUpdate(
            item=DatasetMemberItem(*_membership_key(project_id, dataset_id, file_id, created_at)),
            actions=actions,
            condition=_over_an_older_copy(version),
        )
        for dataset_id in sorted(dataset_ids)
    ]


def copy_summary(
    record: FileRecord, dataset_id: str, *, version: int, label_counts: dict[str, int], attribute_values: dict
) -> bool:
    """Copy the summary of the file's annotation ``version`` onto its membership of one dataset (over an older
    copy only); False when it was not applied."""
    bind()
    [update] = summary_updates(
        record.project_id,
        record.file_id,
        record.created_at,
        [dataset_id],
        version=version,
        label_counts=label_counts,
        attribute_values=attribute_values,
    )
    return applied(partial(update.item.update, actions=update.actions, condition=update.condition))


def update_summaries(
    project_id: str, file_id: str, *, version: int, label_counts: dict[str, int], attribute_values: dict
) -> set[str]:
    """Copy the summary of a file's annotation ``version`` onto its memberships (what slice queries filter on).

    The copy is written after the save's transaction, so two saves' copies can land in either order: each
    membership takes a copy only over an older one, and the newest version's summary stays. Returns the ids of
    the datasets listing the file (those found)."""
    actions, condition = _summary_actions(version, label_counts, attribute_values), _over_an_older_copy(version)
    found = memberships_of(project_id, file_id, reading=["PK", "SK", "dataset_id"])
    for membership in found:
        # Not applied when a newer copy landed first (or the membership was removed meanwhile): nothing to write.
        applied(partial(membership.update, actions=actions, condition=condition))
    return {m.dataset_id for m in found}


def mark_deleted(project_id: str, file_id: str) -> None:
    """Hide a deleted file from its datasets' listings (and counts): each live membership once."""
    for membership in memberships_of(project_id, file_id):

        def hide(tx: TransactWrite, membership: DatasetMemberItem = membership) -> None:
            tx.update(membership, actions=[DatasetMemberItem.status.set("deleted")], condition=_LIVE)
            _move_count(tx, project_id, membership.dataset_id, file_id, -1)

        transact(hide)  # refused: deleted (or removed) already


# --- listing a dataset ----------------------------------------------------------------------


def _files_listing(project_id: str, dataset_id: str) -> str:
    return f"dataset-files:{project_id}/{dataset_id}"


def encode_position(project_id: str, dataset_id: str, sort_key: str) -> str:
    """The cursor of the page after the membership with ``sort_key`` (as ``iter_dataset_members`` yields it)."""
    return cursors.encode(_files_listing(project_id, dataset_id), sort_key)


def decode_position(project_id: str, dataset_id: str, cursor: str) -> str:
    """The membership sort key ``cursor`` continues after; InvalidCursor if it is not one of this dataset's."""
    position = cursors.decode(_files_listing(project_id, dataset_id), cursor)
    if not isinstance(position, str):
        raise cursors.InvalidCursor
    return position


def _shard_stream(
    project_id: str, dataset_id: str, shard: int, after: str | None, status: str | None, page_size: int
) -> Iterator[DatasetMemberItem]:
    condition = after > DatasetMemberItem.SK if after else None
    filter_condition = DatasetMemberItem.status == status if status else DatasetMemberItem.status != "deleted"
    return DatasetMemberItem.query(
        keys.shard_pk(project_id, dataset_id, shard),
        range_key_condition=condition,
        filter_condition=filter_condition,
        scan_index_forward=False,
        page_size=page_size,
        attributes_to_get=["SK", "file_id"],  # the summary copy stays in the table
    )


def _shard_page_size(wanted: int) -> int:
    """Items each shard's query reads at a time for a page of ``wanted`` memberships: the shards hold about
    ``wanted / DATASET_SHARDS`` each (a file's shard is a hash of its id), so twice that and a few more, not
    ``wanted`` each (eight times what the page shows, each item read and paid for); a shard holding more is
    read on from where it stopped."""
    return min(wanted, 100, 2 * -(-wanted // keys.DATASET_SHARDS) + 4)


def list_dataset_file_ids(
    project_id: str, dataset_id: str, *, limit: int, cursor: str | None = None, status: str | None = None
) -> tuple[list[str], str | None]:
    """A page of the dataset's file ids, newest first, and the cursor of the next page (or None).

    InvalidCursor when ``cursor`` is not one this listing returned."""
    members, more = list_dataset_members(project_id, dataset_id, limit=limit, cursor=cursor, status=status)
    next_cursor = encode_position(project_id, dataset_id, members[-1][1]) if more else None
    return [file_id for file_id, _ in members], next_cursor


def list_dataset_members(
    project_id: str, dataset_id: str, *, limit: int, cursor: str | None = None, status: str | None = None
) -> tuple[list[tuple[str, str]], bool]:
    """A page of the dataset's (file id, sort key) pairs, newest first, and whether more follow; a page cut
    short continues after a pair with ``encode_position(..., sort_key)``.

    InvalidCursor when ``cursor`` is not one this listing returned."""
    bind()
    after = decode_position(project_id, dataset_id, cursor) if cursor else None
    page_size = _shard_page_size(limit + 1) if status is None else min(limit + 1, 100)
    streams = [_shard_stream(project_id, dataset_id, s, after, status, page_size) for s in range(keys.DATASET_SHARDS)]
    page = []
    for membership in heapq.merge(*streams, key=lambda m: m.SK, reverse=True):
        page.append(membership)
        if len(page) == limit + 1:
            break
    return [(m.file_id, m.SK) for m in page[:limit]], len(page) > limit


def _live_members(
    project_id: str,
    dataset_id: str,
    shard: int,
    *,
    after: str | None,
    dynamo_filter: dict[str, Any] | None,
    projection: dict[str, str],
    newer_than: str | None = None,
    consistent: bool = False,
) -> Iterator[dict[str, Any]]:
    """Raw membership items of one shard (newest first) that are live and pass ``dynamo_filter``.

    ``projection`` maps expression names to the attributes to read (``{"#lc": "label_counts"}``).
    """
    names = {"#pk": "PK", "#st": "status", **projection}
    values: dict[str, Any] = {
        ":pk": {"S": keys.shard_pk(project_id, dataset_id, shard)},
        ":deleted": {"S": "deleted"},
    }
    key_condition = "#pk = :pk"
    if after:
        names["#sk"], values[":after"] = "SK", {"S": after}
        key_condition += " AND #sk < :after"
    elif newer_than:
        names["#sk"], values[":newer"] = "SK", {"S": newer_than}
        key_condition += " AND #sk > :newer"
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
            ConsistentRead=consistent,
        )
    )
    for page in pages:
        yield from page["Items"]


def count_members_newer_than(project_id: str, dataset_id: str, position: str) -> int:
    """How many live files the dataset lists after ``position`` (any status), read strongly: a key query per
    shard that returns counts, not items."""
    total = 0
    for shard in _SHARDS:
        pages = (
            client("dynamodb")
            .get_paginator("query")
            .paginate(
                TableName=get_settings().table_name,
                KeyConditionExpression="#pk = :pk AND #sk > :newer",
                FilterExpression="NOT (#st = :deleted)",
                ExpressionAttributeNames={"#pk": "PK", "#sk": "SK", "#st": "status"},
                ExpressionAttributeValues={
                    ":pk": {"S": keys.shard_pk(project_id, dataset_id, shard)},
                    ":newer": {"S": position},
                    ":deleted": {"S": "deleted"},
                },
                Select="COUNT",
                ConsistentRead=True,
            )
        )
        total += sum(page["Count"] for page in pages)
    return total


def _grouped(expression: str) -> str:
    """``expression`` in parentheses, unless it already is one group (DynamoDB refuses redundant ones)."""
    depth = 0
    for position, char in enumerate(expression):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth == 0 and position < len(expression) - 1:
            return f"({expression})"
    return expression if expression.startswith("(") else f"({expression})"


def iter_dataset_members(
    project_id: str,
    dataset_id: str,
    *,
    after: str | None,
    dynamo_filter: dict[str, Any] | None,
    newer_than: str | None = None,
    consistent: bool = False,
) -> Iterator[tuple[str, str]]:
    """(sort key, file id) of the dataset's live files, newest first, filtered in DynamoDB.

    ``dynamo_filter`` is a query plan's ``FilterExpression``/names/values over the summary copy on the
    memberships. Shards are read lazily and merged, so a caller can stop at any point. ``after`` starts
    past a position (older files); ``newer_than`` keeps only files listed after a position (newer ones);
    ``consistent`` reads strongly (every membership written before the call, as a freeze needs).
    """
    bind()
    projection = {"#sortkey": "SK", "#fid": "file_id"}

    def shard(number: int) -> Iterator[tuple[str, str]]:
        for item in _live_members(
            project_id,
            dataset_id,
            number,
            after=after,
            dynamo_filter=dynamo_filter,
            projection=projection,
            newer_than=newer_than,
            consistent=consistent,
        ):
            yield item["SK"]["S"], item["file_id"]["S"]

    yield from heapq.merge(*(shard(n) for n in range(keys.DATASET_SHARDS)), key=lambda pair: pair[0], reverse=True)


def count_dataset_files(project_id: str, dataset_id: str, status: str | None = None) -> int:
    """How many files the dataset lists: its live ones from its counters (one strongly consistent query, whatever
    its size), or with ``status`` those of that status, counted membership by membership."""
    bind()
    if status is not None:
        return sum(_count_shard(project_id, dataset_id, s, DatasetMemberItem.status == status) for s in _SHARDS)
    counters = {
        item.SK: item
        for item in DatasetCountItem.query(keys.dataset_count_pk(project_id, dataset_id), consistent_read=True)
    }
    kept = {shard: counters.get(keys.dataset_count_sk(shard)) for shard in _SHARDS}
    total = sum(int(c.live) for c in kept.values() if c is not None and c.exact)
    unkept = [(shard, c) for shard, c in kept.items() if c is None or not c.exact]
    if unkept:  # once per dataset older than the counters: its shards counted side by side
        with ThreadPoolExecutor(len(unkept)) as pool:
            total += sum(pool.map(lambda pair: _recount(project_id, dataset_id, *pair), unkept))
    return total


_SHARDS = range(keys.DATASET_SHARDS)


def _count_shard(project_id: str, dataset_id: str, shard: int, condition: Condition) -> int:
    return DatasetMemberItem.count(
        keys.shard_pk(project_id, dataset_id, shard), filter_condition=condition, consistent_read=True
    )


def _recount(project_id: str, dataset_id: str, shard: int, seen: DatasetCountItem | None) -> int:
    """The live files of a shard whose counter was not kept from its dataset's creation (a dataset older than the
    counters), counted once and stored, unless a membership write moved the counter meanwhile: then counted
    again (``moves`` only grows, so a write undone by another is seen too)."""
    counted = 0
    for _ in range(_RACES):
        counted = _count_shard(project_id, dataset_id, shard, DatasetMemberItem.status != "deleted")
        moves = DatasetCountItem.moves
        unmoved = (
            (moves == int(seen.moves)) if seen is not None and seen.moves else moves.does_not_exist() | (moves == 0)
        )
        actions: list[Action] = [
            DatasetCountItem.live.set(counted),
            DatasetCountItem.exact.set(True),
            DatasetCountItem.kind.set(DatasetCountItem.kind | DatasetCountItem.KIND),
        ]
        counter = _counter(project_id, dataset_id, shard)
        if applied(
            partial(counter.update, actions=actions, condition=unmoved & DatasetCountItem.exact.does_not_exist())
        ):
            return counted
        try:
            seen = DatasetCountItem.get(counter.PK, counter.SK, consistent_read=True)
        except DatasetCountItem.DoesNotExist:
            seen = None
        if seen is not None and seen.exact:
            return int(seen.live)
    return counted  # writes kept landing: this count was exact when taken; a later read stores one


def iter_dataset_label_counts(
    project_id: str, dataset_id: str, *, dynamo_filter: dict[str, Any] | None
) -> Iterator[dict[str, int]]:
    """The label counts of each live file of the dataset that passes ``dynamo_filter`` (a query plan's filter).

    Reads only the summary copies on the memberships (``label_counts``), shard by shard, unordered.
    """
    bind()
    for shard in range(keys.DATASET_SHARDS):
        for item in _live_members(
            project_id, dataset_id, shard, after=None, dynamo_filter=dynamo_filter, projection={"#lc": "label_counts"}
        ):
            counts = item.get("label_counts", {}).get("M", {})
            yield {name: int(value["N"]) for name, value in counts.items()}
