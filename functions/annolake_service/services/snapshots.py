"""Snapshots: find one by name or digest (``snapshot_builds`` takes them), read its stream pages, diff two.

A snapshot pins each file's media hash and annotation version; its pages serve those versions whatever was
saved since, and files deleted since (deletion is soft: the media and every version are kept) stay readable.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from annolake_service.adapters import storage
from annolake_service.adapters.dynamo import cursors
from annolake_service.adapters.dynamo import files as file_repo
from annolake_service.adapters.dynamo import snapshots as snapshot_repo
from annolake_service.domain import snapshots as snap
from annolake_service.domain.entities import FileRecord
from annolake_service.services import models as model_service
from annolake_service.services import page_bytes, slices
from annolake_service.shared.errors import BadRequest, Conflict, NotFound
from annolake_service.shared.settings import get_settings

MAX_DIFF_IDS = 10_000
_NAME = re.compile(snap.NAME_PATTERN)


def _chunks_done(snapshot: snap.Snapshot) -> int:
    """Chunks of a pending snapshot's build read so far (each writes its tally last)."""
    if snapshot.status != "pending" or not snapshot.build_id:
        return snapshot.chunks_total if snapshot.status == "ready" else 0
    prefix = storage.snapshot_build_prefix(snapshot.project_id, snapshot.build_id) + "tally/"
    return len(storage.list_keys(get_settings().media_bucket, prefix))


def public(snapshot: snap.Snapshot) -> dict[str, Any]:
    """The snapshot as the API shows it; while it is being built, with its progress."""
    return {
        "name": snapshot.name,
        "digest": snapshot.digest,
        "dataset": snapshot.dataset,
        "query": snapshot.query,
        "schema_version": snapshot.schema_version,
        "count": snapshot.count,
        "label_histogram": snapshot.label_histogram,
        "manifest_bytes": snapshot.manifest_bytes,
        "created_by": snapshot.created_by,
        "created_at": snapshot.created_at.isoformat(),
        "status": snapshot.status,
        "status_reason": snapshot.status_reason,
        "chunks_total": snapshot.chunks_total,
        "chunks_done": _chunks_done(snapshot),
    }


def find(project_id: str, ref: str) -> snap.Snapshot:
    """A snapshot by name, else by its digest or a unique prefix of it (8 hex digits at least); a name wins."""
    found = snapshot_repo.get_snapshot(project_id, ref) if _NAME.match(ref) else None
    if found is not None:
        return found
    if snap.is_digest_prefix(ref):
        matches = snapshot_repo.snapshots_with_digest(project_id, ref)
        digests = sorted({m.digest for m in matches})
        if len(digests) > 1:
            raise BadRequest(
                f"digest prefix {ref!r} names {len(digests)} snapshots; give more digits",
                details={"digests": digests},
            )
        if matches:
            return matches[0]
    raise NotFound(
        f"no snapshot named {ref!r} (or with that digest) in project {project_id!r}; list them with GET .../snapshots"
    )


def find_ready(project_id: str, ref: str) -> snap.Snapshot:
    """A snapshot whose manifest is written; one still being built (or whose build failed) is a 409."""
    found = find(project_id, ref)
    if found.status != "ready":
        detail = f": {found.status_reason}" if found.status_reason else ""
        raise Conflict(
            f"snapshot {found.name!r} is {found.status}{detail}; "
            + ("wait until it is ready" if found.status == "pending" else "take it again")
        )
    return found


def describe(project_id: str, ref: str) -> dict[str, Any]:
    return public(find(project_id, ref))


def list_snapshots(project_id: str) -> list[dict[str, Any]]:
    return [public(s) for s in snapshot_repo.list_snapshots(project_id)]


# --- stream pages ------------------------------------------------------------------------------------


def _pages_listing(project_id: str, digest: str) -> str:
    return f"snapshot-pages:{project_id}/{digest}"


def _pins(project_id: str, digest: str, offset: int, limit: int) -> list[snap.Pin]:
    first, last = offset * snap.INDEX_RECORD, (offset + limit) * snap.INDEX_RECORD - 1
    body = storage.read_range(get_settings().media_bucket, storage.snapshot_index_key(project_id, digest), first, last)
    return snap.parse_index(body)


def pinned_files(
    project_id: str, snapshot: snap.Snapshot, offset: int, limit: int
) -> tuple[list[snap.Pin], dict[str, tuple[FileRecord, list[dict[str, Any]]]]]:
    """Entries ``offset .. offset+limit`` of the snapshot, and their files with the pinned instances by id."""
    pins = _pins(project_id, snapshot.digest, offset, limit) if offset < snapshot.count else []
    return pins, file_repo.get_files_at_versions(project_id, {pin.file_id: pin.version for pin in pins})


def stream_item(
    index: int, pin: snap.Pin, found: tuple[FileRecord, list] | None, urls: dict[str, str]
) -> dict[str, Any]:
    """One stream page item (what the SDK builds a sample from); packed shards hold it too, without URLs."""
    record, instances = found if found else (None, [])
    if record is None or record.status != "ready" or not record.original_key:
        return {
            "index": index,
            "file": {"id": pin.file_id, "status": "deleted"},
            "instance_list": [],
            "media_url": None,
        }
    return {
        "index": index,
        "file": slices.stream_file(record, pin.sha256),
        "annotation_version": pin.version,
        "instance_list": instances,
        "media_url": urls.get(record.original_key),
        "thumbnail_url": urls.get(record.thumbnail_key) if record.thumbnail_key else None,
        "predictions": None,  # a run's, when the page is asked for them (``attach_predictions``)
    }


def snapshot_page(
    project_id: str,
    ref: str,
    *,
    offset: int,
    limit: int,
    cursor: str | None = None,
    url_expires_in: int | None = None,
    url_kinds: frozenset[str] = frozenset(slices.URL_KINDS),
    predictions: str | None = None,
) -> dict[str, Any]:
    """Entries ``offset .. offset+limit`` (file id order) with their pinned annotations and fresh presigned URLs;
    a page ends early at ``PAGE_MAX_BYTES`` of items (pinned versions may be large) and its cursor carries on.
    With ``predictions``, a run's predictions too (``models.attach_predictions``)."""
    snapshot = find_ready(project_id, ref)
    if cursor:
        try:
            position = cursors.decode(_pages_listing(project_id, snapshot.digest), cursor)
        except cursors.InvalidCursor:
            position = None
        if not isinstance(position, int) or isinstance(position, bool):
            raise BadRequest("the cursor is not one of this snapshot's pages; ask for the page by offset")
        offset = position
    if offset < 0 or not 1 <= limit <= slices.MAX_STREAM_PAGE:
        raise BadRequest(f"offset must be ≥ 0 and limit between 1 and {slices.MAX_STREAM_PAGE}")
    longest = get_settings().presign_ttl_seconds
    ttl = url_expires_in or longest
    if not 1 <= ttl <= longest:
        raise BadRequest(f"url_expires_in must be between 1 and {longest} seconds")
    pins, found = pinned_files(project_id, snapshot, offset, limit)
    wanted = [("media", "original_key"), ("thumbnail", "thumbnail_key")]
    keys = [
        key
        for record, _ in found.values()
        for kind, attribute in wanted
        if kind in url_kinds and record.status == "ready" and (key := getattr(record, attribute))
    ]
    bucket = get_settings().media_bucket
    urls = dict(zip(keys, storage.presigned_get_urls(bucket, keys, ttl), strict=True))
    items = [stream_item(offset + i, pin, found.get(pin.file_id), urls) for i, pin in enumerate(pins)]
    asked = model_service.attach_predictions(project_id, predictions, items)
    items = items[: page_bytes.fitting(items)]  # full in bytes: the cursor carries on after the last item held
    following = offset + len(items)
    more = following < snapshot.count
    return {
        **public(snapshot),
        "offset": offset,
        "items": items,
        "next_offset": following if more else None,
        "cursor": cursors.encode(_pages_listing(project_id, snapshot.digest), following) if more else None,
        "url_expires_in": ttl,
        **asked,
    }


# --- diff --------------------------------------------------------------------------------------------


def _entries(project_id: str, snapshot: snap.Snapshot) -> Iterator[snap.ManifestEntry]:
    lines = storage.iter_object_lines(
        get_settings().media_bucket, storage.snapshot_manifest_key(project_id, snapshot.digest)
    )
    _, entries = snap.read_manifest(lines)
    return entries


def diff(project_id: str, a_ref: str, b_ref: str, *, limit: int) -> dict[str, Any]:
    """What changed from snapshot ``a`` to ``b``: both manifests streamed and merged in file id order."""
    if not 0 <= limit <= MAX_DIFF_IDS:
        raise BadRequest(f"limit must be between 0 and {MAX_DIFF_IDS}")
    a, b = find_ready(project_id, a_ref), find_ready(project_id, b_ref)
    result = snap.diff(_entries(project_id, a), _entries(project_id, b), limit=limit)
    return {
        "a": public(a),
        "b": public(b),
        "added": result.added,
        "removed": result.removed,
        "changed": result.changed,
        "unchanged": result.unchanged,
        "added_ids": result.added_ids,
        "removed_ids": result.removed_ids,
        "changed_ids": result.changed_ids,
        "label_deltas": result.label_deltas,
        "schema_changed": a.schema_version != b.schema_version,
    }
