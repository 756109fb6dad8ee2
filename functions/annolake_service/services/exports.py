"""Exports of a snapshot (COCO, YOLO, VOC, SageMaker Ground Truth, JSONL), run by the export state machine.

1. ``create_export``: the export's id comes from the snapshot digest, format and options, so asking again
   returns the same export (done: its output at once); a failed one is re-driven.
2. The state machine: ``plan`` (how many pages), a Map of ``export_page`` (one page of the snapshot rendered
   into part objects, 500 files at a time), then ``assemble`` (the parts streamed in page order into one
   object by multipart upload: memory holds one part, whatever the size). Any failure: ``fail``.
3. ``describe``: status, pages rendered of the total, and a short-lived download URL once completed.
4. ``cancel``: a queued or running export is marked cancelled, its execution stopped and its partial output
   removed; steps still in flight find it cancelled and write nothing more. Asking again re-drives it.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from annolake_service.adapters import storage, workflows
from annolake_service.adapters.dynamo import exports as export_repo
from annolake_service.domain import exports as formats
from annolake_service.domain.exports import ExportContext, ExportFile, ExportJob
from annolake_service.domain.schema import Schema
from annolake_service.services import ingest, packs, snapshots
from annolake_service.services import schema as schema_service
from annolake_service.shared.errors import BadRequest, Conflict, NotFound, ServiceUnavailable
from annolake_service.shared.settings import get_settings

PAGE_FILES = 500
REFERENCES_PAGE = 1000  # files whose originals one answer of ``references`` presigns
ACTIVE = ("queued", "running")


class ExportOutdated(Exception):
    """A page's parts were rendered with another context than the one the export is assembled with."""


def _public(job: ExportJob, *, with_url: bool = True) -> dict[str, Any]:
    fmt = formats.format_named(job.format)
    settings = get_settings()
    body: dict[str, Any] = {
        "export_id": job.export_id,
        "snapshot": job.snapshot_name,
        "digest": job.snapshot_digest,
        "format": job.format,
        "options": job.options,
        "status": job.status,
        "status_reason": job.status_reason,
        "pages_total": job.pages_total,
        "pages_done": job.pages_total if job.status == "completed" else _pages_done(job),
        "file_name": fmt.file_name,
        "size_bytes": job.size_bytes,
        "sha256": job.sha256,
        "created_by": job.created_by,
        "created_at": job.created_at.isoformat(),
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
        "download_url": None,
    }
    if with_url and job.status == "completed":
        key = storage.export_key(job.project_id, job.export_id, fmt.file_name)
        body["download_url"] = storage.presigned_get_url(settings.media_bucket, key, settings.presign_ttl_seconds)
    return body


def _pages_done(job: ExportJob) -> int:
    if job.status not in ("running", "failed") or not job.pages_total:
        return 0
    fragment = formats.format_named(job.format).fragments[0]
    snapshot = _snapshot(job)
    rendering = _context(job, snapshot.created_at.isoformat(), snapshot.dataset).digest
    prefix = storage.export_parts_prefix(job.project_id, job.export_id, rendering) + fragment + "/"
    return len(storage.list_keys(get_settings().media_bucket, prefix))


def _job(project_id: str, export_id: str) -> ExportJob:
    job = export_repo.get_export(project_id, export_id)
    if job is None:
        raise NotFound(f"export {export_id!r} not found in project {project_id!r}")
    return job


def create_export(
    project_id: str, snapshot_ref: str, fmt: str, options: dict[str, Any] | None, *, author: str
) -> tuple[dict[str, Any], bool]:
    """(the export, whether an execution was started now)."""
    try:
        normalized = formats.format_named(fmt).normalize(dict(options or {}))
    except ValueError as exc:
        raise BadRequest(f"export format {fmt!r}: {exc}" if fmt in formats.FORMATS else str(exc)) from None
    snapshot = snapshots.find_ready(project_id, snapshot_ref)
    if not get_settings().export_state_machine_arn:
        raise ServiceUnavailable(
            "exports are not set up on this deployment (EXPORT_STATE_MACHINE_ARN is empty): deploy the app stack, "
            "which declares the export state machine"
        )
    export_id = formats.export_id(project_id, snapshot.digest, fmt, normalized)
    job = ExportJob(
        project_id=project_id,
        export_id=export_id,
        snapshot_name=snapshot.name,
        snapshot_digest=snapshot.digest,
        format=fmt,
        options=normalized,
        status="queued",
        created_by=author,
        created_at=datetime.now(UTC),
    )
    if export_repo.create_export(job):
        attempt = 0
    else:
        attempt_or_none = _restart(_job(project_id, export_id))
        if attempt_or_none is None:  # queued, running or completed: the same export, reused
            return _public(_job(project_id, export_id)), False
        attempt = attempt_or_none
    try:
        arn = workflows.start_export(
            {"project_id": project_id, "export_id": export_id},
            name=f"{export_id}-{attempt}-{secrets.token_hex(3)}",
        )
    except Exception as exc:
        # recorded as failed, so that asking again re-drives it instead of finding it "queued" for ever
        reason = f"the export could not be started: {type(exc).__name__}: {exc}"
        export_repo.mark_export(project_id, export_id, status="failed", status_reason=reason[:1000])
        raise
    export_repo.set_execution(project_id, export_id, arn)
    return _public(_job(project_id, export_id)), True


def cancel(project_id: str, export_id: str) -> dict[str, Any]:
    """Stop a queued or running export and remove what it wrote; 409 once it has finished."""
    job = _job(project_id, export_id)
    reason = "cancelled by the user"
    now = datetime.now(UTC)
    marked = job.status in ACTIVE and export_repo.mark_export(
        project_id, export_id, status="cancelled", status_reason=reason, finished_at=now, only_from=ACTIVE
    )
    if not marked:
        current = _job(project_id, export_id).status
        raise Conflict(f"export {export_id} is {current}, not queued or running; nothing to cancel")
    if job.execution_arn:
        workflows.stop_execution(job.execution_arn, cause=reason)
    _remove_output(project_id, export_id)
    return _public(_job(project_id, export_id))


def _remove_output(project_id: str, export_id: str) -> None:
    bucket = get_settings().media_bucket
    prefix = storage.export_key(project_id, export_id, "")
    storage.delete_keys(bucket, storage.list_keys(bucket, prefix))


def _restart(job: ExportJob) -> int | None:
    """Re-drive a failed or cancelled export, or one that reads as queued or running while its execution has
    ended (it failed where the failure could not be recorded); the new attempt, or None to reuse it as it is."""
    if job.status in ("failed", "cancelled"):
        return export_repo.restart_export(job.project_id, job.export_id, from_status=("failed", "cancelled"))
    ended = job.status in ACTIVE and bool(job.execution_arn)
    if ended and workflows.execution_status(str(job.execution_arn)) != "RUNNING":
        return export_repo.restart_export(
            job.project_id, job.export_id, from_status=(job.status,), ended_execution=job.execution_arn
        )
    return None


def describe(project_id: str, export_id: str) -> dict[str, Any]:
    return _public(_job(project_id, export_id))


def shard_urls(project_id: str, export_id: str, cursor: str | None = None) -> dict[str, Any]:
    """A page of a completed pack's shards with presigned GETs (``services.packs``)."""
    return packs.shard_urls(_job(project_id, export_id), cursor)


def references(
    project_id: str, export_id: str, *, offset: int, limit: int, url_expires_in: int | None = None
) -> dict[str, Any]:
    """Presigned GETs of the originals a completed export names by S3 URI, for files ``offset .. offset+limit``
    of its snapshot, minted in one batch for this answer (as stream pages are, with the same longest lifetime):
    the export's own files only, whoever can read the export.
    The SDK rewrites a downloaded export's URIs with them: presigned URLs expire, so no export stores them."""
    job = _job(project_id, export_id)
    if not formats.format_named(job.format).holds_references(job.options):
        raise Conflict(
            f"export {export_id} ({job.format}) names no originals by S3 URI; export with "
            "options {'references': 's3'} (a format that takes them) to have references to presign"
        )
    if job.status != "completed":
        raise Conflict(f"export {export_id} is {job.status}; its references are presigned once it is completed")
    longest = get_settings().presign_ttl_seconds
    ttl = url_expires_in or longest
    if not 1 <= ttl <= longest:
        raise BadRequest(f"url_expires_in must be between 1 and {longest} seconds")
    if offset < 0 or not 1 <= limit <= REFERENCES_PAGE:
        raise BadRequest(f"offset must be ≥ 0 and limit between 1 and {REFERENCES_PAGE}")
    snapshot = _snapshot(job)
    _, found = snapshots.pinned_files(project_id, snapshot, offset, limit)
    bucket = get_settings().media_bucket
    # as stream pages: the originals of ready files (one deleted since the snapshot is not served)
    keys = sorted({r.original_key for r, _ in found.values() if r.status == "ready" and r.original_key})
    urls = storage.presigned_get_urls(bucket, keys, ttl)
    following = offset + limit
    return {
        "export_id": export_id,
        "references": [{"uri": _media_uri(bucket, key), "url": url} for key, url in zip(keys, urls, strict=True)],
        "url_expires_in": ttl,
        "next_offset": following if following < snapshot.count else None,
    }


def list_exports(project_id: str) -> list[dict[str, Any]]:
    return [_public(job, with_url=False) for job in export_repo.list_exports(project_id)]


# --- state machine steps -------------------------------------------------------------------------


def _context(job: ExportJob, snapshot_created_at: str, dataset: str) -> ExportContext:
    """What every page and the assembly render with: the label schema as the export's plan pinned it (so a label
    added while the export runs, by an ingest or a save, does not split its pages), or as it is now for an
    export planned before schemas were pinned."""
    raw = storage.read_optional_json_bytes(
        get_settings().media_bucket, storage.export_schema_key(job.project_id, job.export_id), max_bytes=1 << 24
    )
    schema = Schema.model_validate_json(raw) if raw is not None else schema_service.get_schema(job.project_id)[0]
    return ExportContext(
        labels=list(schema.label_names),
        snapshot_name=job.snapshot_name,
        snapshot_digest=job.snapshot_digest,
        dataset=dataset,
        created_at=snapshot_created_at,
        options=job.options,
        attribute_groups=list(schema.attribute_groups),
    )


def _pin_schema(project_id: str, export_id: str) -> None:
    """The schema the export renders with, from its plan on (asking for the export again pins it anew)."""
    schema, _ = schema_service.get_schema(project_id)
    key = storage.export_schema_key(project_id, export_id)
    storage.write_object(get_settings().media_bucket, key, schema.model_dump_json().encode(), "application/json")


def _media_uri(bucket: str, key: str | None) -> str:
    """How an export names a file's original (``references``, SageMaker's ``source-ref``)."""
    return f"s3://{bucket}/{key}"


def _snapshot(job: ExportJob) -> Any:
    return snapshots.find(job.project_id, job.snapshot_digest)


def plan(project_id: str, export_id: str) -> dict[str, Any]:
    job = _job(project_id, export_id)
    snapshot = _snapshot(job)
    pages = -(-snapshot.count // PAGE_FILES)
    _pin_schema(project_id, export_id)
    if not export_repo.mark_export(project_id, export_id, status="running", pages_total=pages, only_from=ACTIVE):
        return {"pages": []}  # cancelled before it started: nothing to render
    return {"pages": [{"project_id": project_id, "export_id": export_id, "page": n} for n in range(pages)]}


def export_page(project_id: str, export_id: str, page: int) -> dict[str, int]:
    """Render one page of the snapshot into its part objects. A page whose parts are all there, rendered with
    the same context (an earlier attempt's), is not rendered again: a re-drive renders only what is missing."""
    job = _job(project_id, export_id)
    if job.status == "cancelled":
        return {"page": page, "files": 0}
    snapshot = _snapshot(job)
    context = _context(job, snapshot.created_at.isoformat(), snapshot.dataset)
    fmt = formats.format_named(job.format)
    bucket = get_settings().media_bucket
    keys = {f: storage.export_part_key(project_id, export_id, context.digest, f, page) for f in fmt.fragments}
    present = set(storage.list_keys(bucket, storage.export_parts_prefix(project_id, export_id, context.digest)))
    if set(keys.values()) <= present:
        return {"page": page, "files": 0, "skipped": 1}
    if fmt.writes_objects:  # packed shards: the page step reads the originals and writes the shards itself
        lines = packs.pack_page(job, snapshot, page, PAGE_FILES)
        storage.write_object(bucket, keys["index"], lines, "application/octet-stream")
        return {"page": page, "shards": lines.count(b"\n"), "skipped": 0}
    pins, found = snapshots.pinned_files(project_id, snapshot, page * PAGE_FILES, PAGE_FILES)
    files = []
    for index, pin in enumerate(pins, start=page * PAGE_FILES):
        record, instances = found[pin.file_id]  # a pinned file is never deleted for good
        files.append(
            ExportFile(
                index=index,
                file_id=pin.file_id,
                name=record.original_name,
                width=record.width or 0,
                height=record.height or 0,
                content_hash=pin.sha256,
                annotation_version=pin.version,
                media_uri=_media_uri(bucket, record.original_key),
                metadata=record.metadata,
                mime_type=record.mime_type,
                instances=instances,
                media_type=record.media_type,
                frame_count=record.video.frame_count if record.video else None,
                fps=record.video.fps if record.video else None,
            )
        )
    rendered = fmt.render_page(files, context)
    for fragment, data in rendered.items():
        storage.write_object(bucket, keys[fragment], data, "application/octet-stream")
    return {"page": page, "files": len(files), "skipped": 0}


def assemble(project_id: str, export_id: str) -> dict[str, Any]:
    """The parts, in page order, into the one output object; records its size and sha256."""
    job = _job(project_id, export_id)
    if job.status == "cancelled":
        return {"status": "cancelled"}
    snapshot = _snapshot(job)
    fmt = formats.format_named(job.format)
    bucket = get_settings().media_bucket
    digest = hashlib.sha256()

    context = _context(job, snapshot.created_at.isoformat(), snapshot.dataset)

    def part(fragment: str, page: int) -> bytes:
        key = storage.export_part_key(project_id, export_id, context.digest, fragment, page)
        try:
            return storage.read_object(bucket, key, max_bytes=1 << 30).body
        except storage.ObjectMissing:
            raise ExportOutdated(
                f"page {page} of the export was rendered with another label schema (it changed while the export "
                "ran); ask for the export again to render it with the current one"
            ) from None

    def hashed(chunks: Iterator[bytes]) -> Iterator[bytes]:
        for chunk in chunks:
            digest.update(chunk)
            yield chunk

    chunks = hashed(formats.assemble(fmt, context, job.pages_total, part))
    key = storage.export_key(project_id, export_id, fmt.file_name)
    size = storage.write_multipart(bucket, key, chunks, fmt.content_type)
    completed = export_repo.mark_export(
        project_id,
        export_id,
        status="completed",
        size_bytes=size,
        sha256=digest.hexdigest(),
        finished_at=datetime.now(UTC),
        only_from=ACTIVE,
    )
    if not completed:  # cancelled while it was assembled: its output goes too
        _remove_output(project_id, export_id)
        return {"status": "cancelled"}
    return {"size_bytes": size, "sha256": digest.hexdigest()}


def fail(project_id: str, export_id: str, error: dict[str, Any]) -> dict[str, Any]:
    cause = (ingest.reason_from_error(error) if error else "the export failed")[:1000]
    now = datetime.now(UTC)
    if not export_repo.mark_export(
        project_id, export_id, status="failed", status_reason=cause, finished_at=now, only_from=ACTIVE
    ):
        return {"status": "cancelled"}
    return {"status": "failed", "reason": cause}
