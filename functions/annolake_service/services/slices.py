"""Slices: a dataset filtered by a query, read page by page (predicates pushed down to DynamoDB).

A *frozen* slice is the ordered list of matching file ids written once to the media bucket
(``storage.write_slice``), so every rank and worker of a training run reads the same order; its
pages are then read by ``(slice id, offset, limit)`` with one ranged GET and two batch reads, and
carry presigned URLs minted for that response only. Reading a page writes nothing.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import Any, TypeGuard

from annolake_service.adapters import storage
from annolake_service.adapters.dynamo import cursors, keys
from annolake_service.adapters.dynamo import datasets as dataset_repo
from annolake_service.adapters.dynamo import files as file_repo
from annolake_service.domain import query as q
from annolake_service.domain.entities import FileRecord
from annolake_service.services import models as model_service
from annolake_service.services import page_bytes, query_index
from annolake_service.services import schema as schema_service
from annolake_service.services.files import MAX_PAGE, describe_all, listed_file_id
from annolake_service.services.projects import get_dataset
from annolake_service.shared.errors import BadRequest, NotFound
from annolake_service.shared.observability import logger
from annolake_service.shared.settings import get_settings

_BATCH = 100
SLICE_LIFETIME = timedelta(days=7)  # the media bucket's lifecycle rule on slices/ (infra/constructs/storage.py)
MAX_STREAM_PAGE = 500
URL_KINDS = ("media", "thumbnail")  # the presigned URLs a stream item can carry


def checked_query(project_id: str, text: str) -> q.Node:
    """Parse and check against the schema; errors are 400s with the position and a suggestion."""
    node = q.parse_query(text)
    schema, _ = schema_service.get_schema(project_id)
    refs = _prediction_refs(node) | q.evaluation_refs(node)
    q.check_query(
        node,
        label_names=schema.label_names,
        attribute_groups={g.name for g in schema.attribute_groups},
        model_names=model_service.model_names(project_id) if refs else None,
    )
    return node


def compile_query(project_id: str, text: str) -> q.Plan:
    """The query split into what DynamoDB filters and what Python evaluates (the table engine)."""
    return q.plan(checked_query(project_id, text))


def _prediction_refs(node: q.Node | None) -> set[str]:
    """The models (or run ids) a query's ``predictions.<ref>`` fields name."""
    if node is None:
        return set()
    return {
        part.field.model
        for part in q.walk(node)
        if isinstance(part, q.Compare | q.InList) and isinstance(part.field, q.Predicted)
    }


def _matches(
    project_id: str,
    dataset_id: str,
    plan: q.Plan,
    after: str | None,
    newer_than: str | None = None,
    consistent: bool = False,
) -> Iterator[tuple[str, FileRecord]]:
    """(sort key, record) of the matching files in listing order, the residual evaluated in batches."""
    dynamo_filter = plan.filter.as_kwargs() if plan.filter else None
    members = dataset_repo.iter_dataset_members(
        project_id, dataset_id, after=after, dynamo_filter=dynamo_filter, newer_than=newer_than, consistent=consistent
    )
    datasets = {d.dataset_id: d.name for d in dataset_repo.list_datasets(project_id)} if plan.residual else {}
    refs = _prediction_refs(plan.residual)
    evaluated = q.evaluation_refs(plan.residual)
    evaluations = model_service.evaluations_for_query(project_id, evaluated) if evaluated else {}
    while batch := list(islice(members, _BATCH)):
        records = file_repo.get_files(project_id, [file_id for _, file_id in batch], consistent=consistent)
        predicted = model_service.summaries_for_query(project_id, refs, list(records)) if refs else {}
        for sort_key, file_id in batch:
            record = records.get(file_id)
            if record is None or record.deleted_at is not None:
                continue
            if plan.residual is not None:
                ids = dataset_repo.datasets_of_file(project_id, file_id) if _mentions_datasets(plan) else [dataset_id]
                view = q.FileView.from_record(
                    record,
                    [datasets.get(i, "") for i in ids],
                    ids,
                    predicted.get(file_id),
                    {ref: files[file_id] for ref, files in evaluations.items() if file_id in files},
                )
                if not plan.matches(view):
                    continue
            yield sort_key, record


def iter_matching(project_id: str, dataset_name: str, plan: q.Plan) -> Iterator[FileRecord]:
    """Every live file of the dataset that matches a compiled query, newest first."""
    dataset = get_dataset(project_id, dataset_name)
    return (record for _, record in _matches(project_id, dataset.dataset_id, plan, None))


def _mentions_datasets(plan: q.Plan) -> bool:
    return "dataset." in q.format_query(plan.residual) if plan.residual is not None else False


def query_files(
    project_id: str,
    dataset_name: str,
    text: str,
    *,
    limit: int,
    cursor: str | None,
    engine: query_index.EngineChoice = "auto",
    predictions: str | None = None,
) -> dict[str, Any]:
    """A page of the matching files in listing order, from the dataset's columnar index when it has one (then
    with ``count``, every match; ``engine`` asks for Athena or the embedded engine, see ``open_index``), with a
    run's predictions when asked (``attach_predictions``).

    Both engines hand out the same cursors (a position in the listing), so a listing may start on one and
    finish on the other. A file the index still lists after it was deleted is left out of the page."""
    if not 1 <= limit <= MAX_PAGE:
        raise BadRequest(f"limit must be between 1 and {MAX_PAGE}")
    node = checked_query(project_id, text)
    dataset = get_dataset(project_id, dataset_name)
    try:
        after = dataset_repo.decode_position(project_id, dataset.dataset_id, cursor) if cursor else None
    except cursors.InvalidCursor as exc:
        raise BadRequest(str(exc)) from None
    indexed = query_index.open_index(project_id, dataset.dataset_id, node, engine=engine)
    page: list[tuple[str, FileRecord | None]]
    counted: dict[str, int] = {}
    if indexed is None:
        page = list(islice(_matches(project_id, dataset.dataset_id, q.plan(node), after), limit + 1))
        answered = query_index.TABLE_ENGINE
    else:
        with indexed.index as index:
            found = index.page(node, limit=limit + 1, after=after)
        # the match past the page only says there is more: its record is not needed
        records = file_repo.get_files(project_id, found.file_ids[:limit])
        page = [
            (position, records.get(file_id)) for position, file_id in zip(found.positions, found.file_ids, strict=True)
        ]
        answered = indexed.describe()
        counted = {"count": found.count}
    live = [(position, record) for position, record in page[:limit] if _is_live(record)]
    files = describe_all([record for _, record in live])
    asked = model_service.attach_predictions(project_id, predictions, files, listed_file_id)
    kept = page_bytes.fitting(files)
    if kept < len(files):  # the page is full in bytes: carry on after the last file it holds
        last: str | None = live[kept - 1][0]
    else:
        last = page[limit - 1][0] if len(page) > limit else None
    next_cursor = dataset_repo.encode_position(project_id, dataset.dataset_id, last) if last else None
    return {
        "dataset": dataset.name,
        "query": text,
        "files": files[:kept],
        "cursor": next_cursor,
        "engine": answered,
        **counted,
        **asked,
    }


def count_files(project_id: str, dataset_name: str, text: str, *, engine: query_index.EngineChoice = "auto") -> int:
    node = checked_query(project_id, text)
    dataset = get_dataset(project_id, dataset_name)
    indexed = query_index.open_index(project_id, dataset.dataset_id, node, engine=engine)
    if indexed is not None:
        with indexed.index as index:
            return index.count(node)
    return sum(1 for _ in _matching_ids(project_id, dataset.dataset_id, q.plan(node)))


# --- frozen slices and their stream pages ----------------------------------------------------------


def _ready_query(project_id: str, text: str | None) -> q.Node:
    """The query restricted to ready files (only they have media to stream)."""
    if text:
        checked_query(project_id, text)  # errors point into the caller's text, not the composed one
        return checked_query(project_id, f'({text}) and file.status = "ready"')
    return checked_query(project_id, 'file.status = "ready"')


def _matching_ids(
    project_id: str, dataset_id: str, plan: q.Plan, newer_than: str | None = None, *, consistent: bool = False
) -> Iterator[str]:
    """The matching files listed after ``newer_than`` (all without it); ``consistent`` reads strongly."""
    if plan.residual is None:  # everything was pushed down: the memberships alone decide
        dynamo_filter = plan.filter.as_kwargs() if plan.filter else None
        for _, file_id in dataset_repo.iter_dataset_members(
            project_id,
            dataset_id,
            after=None,
            dynamo_filter=dynamo_filter,
            newer_than=newer_than,
            consistent=consistent,
        ):
            yield file_id
        return
    for _, record in _matches(project_id, dataset_id, plan, None, newer_than, consistent):
        yield record.file_id


def _slice_body(slice_id: str, found: storage.SliceRange) -> dict[str, Any]:
    created = datetime.fromisoformat(found.metadata["created-at"])
    return {
        "slice_id": slice_id,
        "dataset": found.metadata.get("dataset", ""),
        "query": base64.urlsafe_b64decode(found.metadata.get("query", "")).decode() or None,
        "count": found.count,
        "created_at": created.isoformat(),
        "expires_at": (created + SLICE_LIFETIME).isoformat(),
    }


def matching_ready_ids(project_id: str, dataset_name: str, text: str | None) -> tuple[str, list[str]]:
    """The dataset's name and the ids of its ready files matching the query, in listing order: every file whose
    membership was written before the call (what a freeze promises), also while the index lags.

    A file's listing position is when its ingest began, and the index's updater meets changes in the order the
    stream gives them, so the index may hold a newer file and not yet an older one. The index therefore answers
    up to ``FREEZE_INDEX_MARGIN_S`` (settings) before its newest row (or before now, if later) and the table
    (read strongly, a key query per shard) after that; the files the two account for are checked against the
    dataset's counters, read first, and a shortfall (the index lagging by more than the margin) makes the
    table answer alone.
    """
    node = _ready_query(project_id, text)
    dataset = get_dataset(project_id, dataset_name)
    plan = q.plan(node)
    listed = dataset_repo.count_dataset_files(project_id, dataset.dataset_id)
    indexed = query_index.open_index(project_id, dataset.dataset_id, node)
    held = _held_by_index(indexed, node) if indexed is not None else None
    if held is not None:
        cutoff, count, file_ids = held
        if count + dataset_repo.count_members_newer_than(project_id, dataset.dataset_id, cutoff) >= listed:
            tail = list(_matching_ids(project_id, dataset.dataset_id, plan, newer_than=cutoff, consistent=True))
            return dataset.name, tail + file_ids
        logger.warning(
            "the query index lags past the freeze margin; the table answers the freeze",
            extra={"project": project_id, "dataset": dataset.dataset_id, "listed": listed, "cutoff": cutoff},
        )
    return dataset.name, list(_matching_ids(project_id, dataset.dataset_id, plan, consistent=True))


def _held_by_index(indexed: query_index.IndexedView, node: q.Node) -> tuple[str, int, list[str]] | None:
    """(cutoff, how many live files the index holds listed up to it, the matching ones in listing order); None
    for an empty index. The cutoff is ``FREEZE_INDEX_MARGIN_S`` before the index's newest row, or before now
    if that is later: a file the index lacks was written within the margin, so one listed before the margin
    began is in it (a dataset idle for longer reads nothing from the table)."""
    with indexed.index as index:
        newest = index.newest_position()
        if newest is None:
            return None
        margin = timedelta(seconds=get_settings().freeze_index_margin_s)
        since = keys.dataset_member_sk(datetime.now(UTC) - margin, "")
        cutoff = max(keys.listing_position_before(newest, margin), since)
        return cutoff, index.count_up_to(cutoff), index.file_ids(node, listing_order=True, up_to=cutoff)


def freeze_slice(project_id: str, dataset_name: str, text: str | None) -> dict[str, Any]:
    """Evaluate the query once and store the ordered list of matching ready files; returns its description."""
    dataset_name, file_ids = matching_ready_ids(project_id, dataset_name, text)
    slice_id = f"sl_{secrets.token_hex(12)}"
    metadata = {
        "dataset": dataset_name,
        "query": base64.urlsafe_b64encode((text or "").encode()).decode(),  # S3 metadata is ASCII only
        "created-at": datetime.now(UTC).isoformat(),
    }
    settings = get_settings()
    storage.write_slice(settings.media_bucket, storage.slice_key(project_id, slice_id), file_ids, metadata)
    return _slice_body(slice_id, storage.SliceRange([], len(file_ids), metadata))


def _stored_slice(project_id: str, slice_id: str, offset: int, limit: int) -> storage.SliceRange:
    if not slice_id.startswith("sl_") or not slice_id[3:].isalnum():
        raise NotFound(f"slice {slice_id!r} not found; create one with POST .../datasets/<name>/slices")
    key = storage.slice_key(project_id, slice_id)
    try:
        return storage.read_slice(get_settings().media_bucket, key, offset, limit)
    except storage.ObjectMissing:
        raise NotFound(
            f"slice {slice_id!r} not found in project {project_id!r} (slices expire after "
            f"{SLICE_LIFETIME.days} days); create a new one with POST .../datasets/<name>/slices"
        ) from None


def describe_slice(project_id: str, slice_id: str) -> dict[str, Any]:
    return _slice_body(slice_id, _stored_slice(project_id, slice_id, 0, 1))


def _pages_listing(project_id: str, slice_id: str) -> str:
    return f"slice-pages:{project_id}/{slice_id}"


def encode_page_cursor(project_id: str, slice_id: str, offset: int) -> str:
    return cursors.encode(_pages_listing(project_id, slice_id), offset)


def decode_page_cursor(project_id: str, slice_id: str, cursor: str) -> int:
    """The offset a page cursor of this slice continues at; BadRequest for any other cursor."""
    try:
        offset = cursors.decode(_pages_listing(project_id, slice_id), cursor)
    except cursors.InvalidCursor:
        offset = None
    if not isinstance(offset, int) or isinstance(offset, bool):
        raise BadRequest(
            "the cursor is not one of this slice's pages; use the cursor of this slice's previous page, "
            "or ask for the page by offset instead"
        )
    return offset


def parse_url_kinds(text: str) -> frozenset[str]:
    """``"media,thumbnail"`` → the kinds of URL a page's items carry (minting them is most of a page's cost)."""
    kinds = frozenset(part.strip() for part in text.split(",") if part.strip())
    unknown = sorted(kinds - set(URL_KINDS))
    if unknown or not kinds:
        raise BadRequest(
            f"urls must name one or more of {', '.join(URL_KINDS)} separated by commas"
            + (f"; unknown: {', '.join(unknown)}" if unknown else "")
        )
    return kinds


def _page_urls(records: list[FileRecord | None], ttl: int, url_kinds: frozenset[str]) -> dict[str, str]:
    """Fresh presigned GETs by object key, for the media/thumbnails of a page's live files."""
    wanted = [("media", "original_key"), ("thumbnail", "thumbnail_key")]
    keys = [
        key
        for record in records
        if _is_live(record)
        for kind, attribute in wanted
        if kind in url_kinds and (key := getattr(record, attribute))
    ]
    return dict(zip(keys, storage.presigned_get_urls(get_settings().media_bucket, keys, ttl), strict=True))


def _is_live(record: FileRecord | None) -> TypeGuard[FileRecord]:
    return record is not None and record.deleted_at is None and record.status == "ready"


def stream_file(record: FileRecord, content_hash: str | None) -> dict[str, Any]:
    """A stream item's ``file``: the record's fields a sample carries (a snapshot's with its pinned hash)."""
    return {
        "id": record.file_id,
        "name": record.original_name,
        "media_type": record.media_type,
        "mime_type": record.mime_type,
        "width": record.width,
        "height": record.height,
        "size_bytes": record.size_bytes,
        "content_hash": content_hash,
        "metadata": record.metadata,
        "created_at": record.created_at.isoformat(),
        "status": record.status,
        "frame_count": record.video.frame_count if record.video is not None else None,
    }


def _stream_item(index: int, record: FileRecord | None, file_id: str, instances: list, urls: dict[str, str]) -> dict:
    if not _is_live(record):
        return {"index": index, "file": {"id": file_id, "status": "deleted"}, "instance_list": [], "media_url": None}
    return {
        "index": index,
        "file": stream_file(record, record.content_hash),
        "annotation_version": record.annotation_version,
        "instance_list": instances,
        "media_url": urls.get(record.original_key) if record.original_key else None,
        "thumbnail_url": urls.get(record.thumbnail_key) if record.thumbnail_key else None,
        "predictions": None,  # a run's, when the page is asked for them (``attach_predictions``)
    }


def slice_page(
    project_id: str,
    slice_id: str,
    *,
    offset: int,
    limit: int,
    cursor: str | None = None,
    url_expires_in: int | None = None,
    url_kinds: frozenset[str] = frozenset(URL_KINDS),
    predictions: str | None = None,
) -> dict[str, Any]:
    """Items ``offset .. offset+limit`` of a frozen slice with their annotations and fresh presigned URLs
    (those of ``url_kinds``; the others are null), and a run's predictions when asked (``attach_predictions``)."""
    if cursor:
        offset = decode_page_cursor(project_id, slice_id, cursor)
    if offset < 0 or not 1 <= limit <= MAX_STREAM_PAGE:
        raise BadRequest(f"offset must be ≥ 0 and limit between 1 and {MAX_STREAM_PAGE}")
    longest = get_settings().presign_ttl_seconds
    ttl = url_expires_in or longest
    if not 1 <= ttl <= longest:
        raise BadRequest(f"url_expires_in must be between 1 and {longest} seconds")
    found = _stored_slice(project_id, slice_id, offset, limit)
    files = file_repo.get_files_with_instances(project_id, found.file_ids)
    listed = [(fid, *files.get(fid, (None, []))) for fid in found.file_ids]  # (id, record or None, instances)
    urls = _page_urls([record for _, record, _ in listed], ttl, url_kinds)
    items = [_stream_item(offset + i, rec, fid, instances, urls) for i, (fid, rec, instances) in enumerate(listed)]
    asked = model_service.attach_predictions(project_id, predictions, items)
    items = items[: page_bytes.fitting(items)]
    following = offset + len(items)
    more = following < found.count
    return {
        **_slice_body(slice_id, found),
        "offset": offset,
        "items": items,
        "next_offset": following if more else None,
        "cursor": encode_page_cursor(project_id, slice_id, following) if more else None,
        "url_expires_in": ttl,
        **asked,
    }
