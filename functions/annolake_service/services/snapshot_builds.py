"""Taking a snapshot: freeze the matching files, read their pinned versions chunk by chunk, write the manifest.

One way to build, whatever the size:

1. ``create_snapshot`` (the API request) evaluates the query once (from the columnar index where there is one)
   and stores the matching file ids sorted by id under the build's prefix: that is the snapshot's file list.
2. ``build_chunk`` reads one chunk of that list (``SNAPSHOT_CHUNK_FILES`` files when it was taken): the files'
   media hash, annotation version and label counts, written as the chunk's manifest lines, index records and
   tallies.
3. ``finish`` joins the chunks, in order, into the manifest and its index (streamed by multipart upload: memory
   holds one chunk, not the manifest), named by the manifest's digest, and marks the snapshot ready.

Up to ``SNAPSHOT_INLINE_FILES`` files the request runs 2 and 3 itself and answers with the ready snapshot (201);
above, it records the snapshot ``pending`` and starts the snapshot state machine (a Map over the chunks, then
finish; any error: ``fail``), and answers 202: the snapshot reads ``pending`` with ``chunks_done`` of
``chunks_total`` until it is ``ready`` or ``failed``. Both give the same bytes, so the same digest.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

from annolake_service.adapters import storage, workflows
from annolake_service.adapters.dynamo import files as file_repo
from annolake_service.adapters.dynamo import snapshots as snapshot_repo
from annolake_service.adapters.dynamo.conditions import AlreadyExists
from annolake_service.domain import snapshots as snap
from annolake_service.services import ingest, slices
from annolake_service.services import schema as schema_service
from annolake_service.services.snapshots import public
from annolake_service.shared.errors import BadRequest, Conflict, NotFound, ServiceUnavailable
from annolake_service.shared.settings import get_settings

_NAME = re.compile(snap.NAME_PATTERN)
READ_BATCH = 500  # files one thread reads (BatchGetItem calls of 100 keys, projected to what a pin needs)
READ_THREADS = 4  # batch reads in flight in one chunk step: a step waits on reads, not on its CPU
START_GRACE = timedelta(minutes=2)  # past API Gateway's 30 s: a request still starting the build is over


def _files_key(project_id: str, build_id: str) -> str:
    return storage.snapshot_build_prefix(project_id, build_id) + "files"


def _part_key(project_id: str, build_id: str, kind: str, chunk: int) -> str:
    return f"{storage.snapshot_build_prefix(project_id, build_id)}{kind}/{chunk:06d}"


def create_snapshot(
    project_id: str, dataset_name: str, name: str, query: str | None, *, author: str
) -> tuple[dict[str, Any], bool]:
    """Pin the ready files of the dataset matching ``query``; (description, whether it was taken now).

    Taking a snapshot again under its own name with the same content returns the existing one; a name is never
    reused for other content (409). A name whose build failed may be taken again."""
    if not _NAME.match(name):
        raise BadRequest(
            f"snapshot name {name!r} is not allowed: use 1 to 100 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    text = query.strip() if query else None
    existing = snapshot_repo.get_snapshot(project_id, name)
    if existing is not None and existing.status == "pending" and _build_ended(existing):
        # its execution ended without recording how (the failure step could not run): recorded now, so that
        # asking again re-drives it
        fail(project_id, name, {"Error": "BuildEnded", "Cause": "the build ended without finishing; take it again"})
        existing = snapshot_repo.get_snapshot(project_id, name)
    if existing is not None and existing.status == "pending":
        if (existing.dataset, existing.query) == (dataset_name, text):
            return public(existing), False  # asked again while it builds: the same build
        raise Conflict(f"snapshot {name!r} is being taken of other data; take this one under a new name")
    dataset, file_ids = slices.matching_ready_ids(project_id, dataset_name, text)
    _, schema_version = schema_service.get_schema(project_id)
    settings = get_settings()
    build_id = f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{secrets.token_hex(6)}"
    storage.write_slice(settings.media_bucket, _files_key(project_id, build_id), sorted(file_ids), {})
    snapshot = snap.Snapshot(
        project_id=project_id,
        name=name,
        digest="",
        dataset=dataset,
        query=text,
        schema_version=schema_version,
        count=len(file_ids),
        label_histogram={},
        manifest_bytes=0,
        created_by=author,
        created_at=datetime.now(UTC),
        status="pending",
        build_id=build_id,
        chunks_total=-(-len(file_ids) // settings.snapshot_chunk_files),
        chunk_files=settings.snapshot_chunk_files,
    )
    if len(file_ids) <= settings.snapshot_inline_files:
        return _build_in_request(snapshot, existing)
    if existing is not None and existing.status == "ready":
        _discard(snapshot)
        raise Conflict(
            f"snapshot {name!r} already exists (digest {existing.digest}); snapshots are immutable: take this one "
            "under a new name (the same content gets the same digest)",
            details={"digest": existing.digest},
        )
    if not settings.snapshot_state_machine_arn:
        _discard(snapshot)
        raise ServiceUnavailable(
            f"a snapshot of {len(file_ids)} files is built by the snapshot state machine, which this deployment "
            f"lacks (SNAPSHOT_STATE_MACHINE_ARN is empty): deploy the app stack, or snapshot at most "
            f"{settings.snapshot_inline_files} files"
        )
    try:
        snapshot_repo.create_snapshot(snapshot, replacing_failed=True)
    except AlreadyExists:
        _discard(snapshot)
        raise Conflict(f"snapshot {name!r} was taken meanwhile; get it, or take this one under a new name") from None
    try:
        workflows.start_snapshot({"project_id": project_id, "name": name}, name=_execution_name(snapshot))
    except Exception as exc:
        fail(project_id, name, {"Error": type(exc).__name__, "Cause": f"the build could not be started: {exc}"})
        raise
    return public(snapshot), True


def _execution_name(snapshot: snap.Snapshot) -> str:
    return f"{snapshot.build_id}-{snapshot.name}"


def _build_ended(snapshot: snap.Snapshot) -> bool:
    """Whether a pending snapshot's build execution has ended (or never started) although it reads pending."""
    if not snapshot.build_id or not get_settings().snapshot_state_machine_arn:
        return False
    status = workflows.execution_status(workflows.snapshot_execution_arn(_execution_name(snapshot)))
    if status is None:  # not started: ended only once the request that was starting it is long over
        return datetime.now(UTC) - snapshot.created_at > START_GRACE
    return status != "RUNNING"


def _build_in_request(snapshot: snap.Snapshot, existing: snap.Snapshot | None) -> tuple[dict[str, Any], bool]:
    for chunk in range(snapshot.chunks_total):
        build_chunk(snapshot, chunk)
    built = snapshot.model_copy(update={**_write_manifest(snapshot), "status": "ready"})
    _discard(snapshot)
    if existing is not None and existing.status == "ready":
        return _same_or_conflict(existing, built.digest)
    try:
        snapshot_repo.create_snapshot(built, replacing_failed=True)
    except AlreadyExists:
        found = snapshot_repo.get_snapshot(snapshot.project_id, snapshot.name)
        if found is None:
            raise
        return _same_or_conflict(found, built.digest)
    return public(built), True


def _same_or_conflict(existing: snap.Snapshot, digest: str) -> tuple[dict[str, Any], bool]:
    if existing.digest == digest:
        return public(existing), False
    raise Conflict(
        f"snapshot {existing.name!r} already exists with other content (digest {existing.digest or '?'}); "
        "snapshots are immutable: take this one under a new name",
        details={"digest": existing.digest or None},
    )


def _discard(snapshot: snap.Snapshot) -> None:
    """Remove the build's working objects (the manifest, if written, stays: it is named by its content)."""
    assert snapshot.build_id
    bucket = get_settings().media_bucket
    prefix = storage.snapshot_build_prefix(snapshot.project_id, snapshot.build_id)
    storage.delete_keys(bucket, storage.list_keys(bucket, prefix))


# --- the build's steps -------------------------------------------------------------------------------


def _pending(project_id: str, name: str) -> snap.Snapshot:
    found = snapshot_repo.get_snapshot(project_id, name)
    if found is None or not found.build_id:
        raise NotFound(f"snapshot {name!r} of project {project_id!r} has no build")
    return found


def plan(project_id: str, name: str) -> dict[str, Any]:
    """The Map's items: one per chunk of the snapshot's file list."""
    found = _pending(project_id, name)
    return {"chunks": [{"project_id": project_id, "name": name, "chunk": n} for n in range(found.chunks_total)]}


def build_chunk(snapshot: snap.Snapshot, chunk: int) -> dict[str, int]:
    """Read chunk ``chunk`` of the file list: its parts (manifest lines, index records, tallies), rewritten with
    the same bytes when a step is retried. A file deleted (or no longer ready) since the freeze is left out."""
    assert snapshot.build_id
    project_id, build_id = snapshot.project_id, snapshot.build_id
    size = snapshot.chunk_files
    bucket = get_settings().media_bucket
    file_ids = storage.read_slice(bucket, _files_key(project_id, build_id), chunk * size, size).file_ids
    batches = [file_ids[start : start + READ_BATCH] for start in range(0, len(file_ids), READ_BATCH)]
    facts: dict[str, tuple[str, int, dict[str, int]]] = {}
    with ThreadPoolExecutor(READ_THREADS, thread_name_prefix="snapshot-read") as pool:
        for read in pool.map(lambda batch: file_repo.get_pin_facts(project_id, batch), batches):
            facts |= read
    entries = [
        snap.ManifestEntry(file_id, *found)
        for file_id in file_ids  # the list is sorted: so are the entries
        if (found := facts.get(file_id)) is not None
    ]
    parts = {
        "lines": b"".join(entry.line() for entry in entries),
        "index": b"".join(snap.index_record(entry) for entry in entries),
        # last: a chunk counts as done once its tally exists
        "tally": json.dumps({"count": len(entries), "label_histogram": snap.label_histogram(entries)}).encode(),
    }
    for kind, body in parts.items():
        storage.write_object(bucket, _part_key(project_id, build_id, kind, chunk), body, "application/octet-stream")
    return {"chunk": chunk, "files": len(entries)}


def _parts(snapshot: snap.Snapshot, kind: str) -> Iterator[bytes]:
    assert snapshot.build_id
    bucket = get_settings().media_bucket
    for chunk in range(snapshot.chunks_total):
        key = _part_key(snapshot.project_id, snapshot.build_id, kind, chunk)
        yield storage.read_object(bucket, key, max_bytes=1 << 30).body


def _write_manifest(snapshot: snap.Snapshot) -> dict[str, Any]:
    """The manifest and its index from the chunks' parts (read twice: once for the digest that names them);
    returns the snapshot's ``digest``, ``count``, ``label_histogram`` and ``manifest_bytes``."""
    tallies = [json.loads(body) for body in _parts(snapshot, "tally")]
    count = sum(tally["count"] for tally in tallies)
    header = snap.ManifestHeader(snapshot.dataset, snapshot.query, snapshot.schema_version, count).line()
    digest, size = hashlib.sha256(header), len(header)
    for body in _parts(snapshot, "lines"):
        digest.update(body)
        size += len(body)
    name = digest.hexdigest()
    bucket = get_settings().media_bucket
    if not storage.object_exists(bucket, storage.snapshot_manifest_key(snapshot.project_id, name)):
        # the index first: a manifest present means its index is too
        index_key = storage.snapshot_index_key(snapshot.project_id, name)
        storage.write_multipart(bucket, index_key, _parts(snapshot, "index"), "text/plain")
        manifest_key = storage.snapshot_manifest_key(snapshot.project_id, name)
        lines = _with_header(header, _parts(snapshot, "lines"))
        storage.write_multipart(bucket, manifest_key, lines, "application/jsonl")
    return {
        "digest": name,
        "count": count,
        "label_histogram": snap.merge_histograms(tally["label_histogram"] for tally in tallies),
        "manifest_bytes": size,
    }


def _with_header(header: bytes, lines: Iterator[bytes]) -> Iterator[bytes]:
    yield header
    yield from lines


def chunk(project_id: str, name: str, chunk_number: int) -> dict[str, int]:
    return build_chunk(_pending(project_id, name), chunk_number)


def finish(project_id: str, name: str) -> dict[str, Any]:
    found = _pending(project_id, name)
    facts = _write_manifest(found)
    if not snapshot_repo.mark_ready(project_id, name, digest=facts["digest"], facts=facts):
        current = snapshot_repo.get_snapshot(project_id, name)
        if current is None or current.digest != facts["digest"]:
            raise Conflict(f"snapshot {name!r} was no longer pending when its build finished")
    _discard(found)
    return {"status": "ready", "digest": facts["digest"], "count": facts["count"]}


def fail(project_id: str, name: str, error: dict[str, Any]) -> dict[str, Any]:
    reason = ingest.reason_from_error(error)
    snapshot_repo.mark_failed(project_id, name, reason)
    found = snapshot_repo.get_snapshot(project_id, name)
    if found is not None and found.build_id:
        _discard(found)
    return {"status": "failed", "reason": reason}
