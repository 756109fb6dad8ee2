"""Bulk imports (COCO, YOLO, JSONL of packets) run as a Step Functions job with a Map over chunks.

1. ``create_import``: a job record plus presigned POSTs for the manifest and for the media files
   (any key under the job's ``media/`` prefix).
2. ``start_import``: the state machine runs ``plan`` (parse the manifest, settle labels, write item
   chunks to S3), a Map of ``import_chunk`` over the chunks, then ``finish``.
3. Progress (total / done / failed, per-item reasons) is read with ``get_import``. Each item's outcome
   is written once, and files are registered by natural key, so a re-driven job adds no duplicates.
4. A video item is handed to the video ingest and waits for its result (``import_videos``): the import stays
   ``running`` after its run until every such video is registered (done) or quarantined (failed, with why).
"""

from __future__ import annotations

import itertools
import json
import secrets
import time
from collections.abc import Iterable
from typing import Any

from annolake_service.adapters import storage, web_fetch, workflows
from annolake_service.adapters.dynamo import imports as import_repo
from annolake_service.adapters.dynamo import uploads as upload_repo
from annolake_service.domain import imports as formats
from annolake_service.domain import media
from annolake_service.domain.entities import Dataset, ImportJob
from annolake_service.domain.file_metadata import InvalidMetadata, checked_metadata
from annolake_service.domain.instances import InvalidInstances, parse_unprobed_video_instances
from annolake_service.domain.object_keys import sidecar_key_for
from annolake_service.services import import_videos, ingest, projects
from annolake_service.services import schema as schema_service
from annolake_service.shared.errors import BadRequest, Conflict, NotFound
from annolake_service.shared.observability import logger
from annolake_service.shared.settings import get_settings

CHUNK_SIZE = 50
UPLOAD_SECONDS = 3600
MANIFEST = "manifest"


class ImportRejected(Exception):
    """The whole import cannot run (bad manifest, unknown labels); the message says why."""


def _prefix(project_id: str, import_id: str) -> str:
    return storage.import_prefix(project_id, import_id)


def create_import(project_id: str, *, fmt: str, dataset_name: str, create_labels: bool, author: str) -> dict:
    if fmt not in formats.FORMATS:
        raise BadRequest(f"format {fmt!r} is not one of {list(formats.FORMATS)}")
    projects.ensure_dataset(project_id, dataset_name)
    import_id = f"im_{secrets.token_hex(8)}"
    import_repo.create_import(project_id, import_id, fmt, dataset_name, create_labels, author)
    bucket, prefix = get_settings().media_bucket, _prefix(project_id, import_id)
    return {
        **get_import(project_id, import_id),
        "manifest_upload": storage.presigned_post(
            bucket,
            prefix + MANIFEST,
            content_type="application/octet-stream",
            max_bytes=media.DEFAULT_MAX_BYTES * 4,
            expires_in=UPLOAD_SECONDS,
        ),
        # media as large as a video's ingest takes (an image is held to its own limit when it is read)
        "media_upload": storage.presigned_prefix_post(
            bucket,
            prefix + "media/",
            max_bytes=max(media.DEFAULT_MAX_BYTES, get_settings().video_max_bytes),
            expires_in=UPLOAD_SECONDS,
        ),
    }


def _progress(job: ImportJob) -> dict[str, Any]:
    return {
        "import_id": job.import_id,
        "format": job.format,
        "dataset": job.dataset,
        "create_labels": job.create_labels,
        "status": job.status,
        "status_reason": job.status_reason,
        "total": job.total,
        "done": job.done,
        "failed": job.failed,
        "awaiting_videos": job.awaiting_videos,
        "created_by": job.created_by,
        "created_at": job.created_at.isoformat(),
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
    }


def _load(project_id: str, import_id: str) -> ImportJob:
    job = import_repo.get_import(project_id, import_id)
    if job is None:
        raise NotFound(f"import {import_id!r} not found in project {project_id!r}")
    return job


def get_import(project_id: str, import_id: str) -> dict[str, Any]:
    job = _settled(_load(project_id, import_id))
    failures = import_repo.import_failures(project_id, import_id)
    return {**_progress(job), "failures": [{"index": f.index, "name": f.name, "reason": f.reason} for f in failures]}


def list_imports(project_id: str, dataset_name: str | None = None) -> list[dict[str, Any]]:
    """Imports with their progress (total / done / failed); ``get_import`` adds the per-item failures."""
    return [_progress(_settled(job)) for job in import_repo.list_imports(project_id, dataset_name)]


_LIVE = {"queued", "running"}


def _settled(job: ImportJob) -> ImportJob:
    """An import whose run ended without recording its end (its failure step failed too, or the run was stopped)
    is failed with the run's own error, so it shows why and can be started again."""
    if job.status in _LIVE and job.awaiting_videos:  # its run has ended on purpose; its videos settle it
        if import_videos.settle_stragglers(job.project_id, job.import_id):
            return import_repo.get_import(job.project_id, job.import_id) or job
        return job
    if job.status not in _LIVE or not job.execution_arn:
        return job
    ended = workflows.execution_end(job.execution_arn)
    if ended is not None and ended[0] == "RUNNING":
        return job
    status, error = ended or ("gone", "")
    reason = f"the import's run ended ({status}) without recording its outcome: {error or 'no error given'}"
    if import_repo.mark_import(
        job.project_id,
        job.import_id,
        status="failed",
        reason=reason,
        finished=True,
        expect=(job.status, job.execution_arn),
    ):
        logger.error("import run ended unrecorded", extra={"import_id": job.import_id, "reason": reason})
    return import_repo.get_import(job.project_id, job.import_id) or job


def start_import(project_id: str, import_id: str) -> dict[str, Any]:
    """Start (or re-drive) the job; items already imported are not duplicated."""
    job = get_import(project_id, import_id)
    if job["status"] in _LIVE:
        raise Conflict(f"import {import_id} is already {job['status']}")
    manifest_key = _prefix(project_id, import_id) + MANIFEST
    if not storage.list_keys(get_settings().media_bucket, manifest_key):
        raise BadRequest("upload the manifest first (the manifest_upload form of the import)")
    if not import_repo.mark_import(project_id, import_id, status="queued", execution_arn="", unless_status=_LIVE):
        raise Conflict(f"import {import_id} was started meanwhile")
    attempt = secrets.token_hex(4)
    try:
        arn = workflows.start_import(
            {"project_id": project_id, "import_id": import_id}, name=f"{project_id}-{import_id}-{attempt}"
        )
    except Exception as exc:
        import_repo.mark_import(
            project_id, import_id, status="failed", reason=f"the import could not start, try again: {exc}"
        )
        raise
    import_repo.set_import_execution(project_id, import_id, arn)
    return get_import(project_id, import_id)


# --- state machine steps ----------------------------------------------------------------------


def plan(project_id: str, import_id: str) -> dict[str, Any]:
    job = _progress(_load(project_id, import_id))
    bucket, prefix = get_settings().media_bucket, _prefix(project_id, import_id)
    manifest = storage.read_object(bucket, prefix + MANIFEST, max_bytes=media.DEFAULT_MAX_BYTES * 4).body
    try:
        text = manifest.decode("utf-8-sig")
        parsed = _parse(job["format"], text, bucket, prefix)
    except (UnicodeDecodeError, formats.ImportFormatError) as exc:
        raise ImportRejected(f"the {job['format']} manifest cannot be read: {exc}") from None
    schema, _ = schema_service.get_schema(project_id)
    unknown = schema.unknown_labels(set(parsed.label_names))
    if unknown and job["create_labels"]:
        schema_service.add_labels(project_id, unknown)
    elif unknown:
        raise ImportRejected(f"the manifest uses labels not in the schema: {unknown}; add them or set create_labels")
    import_repo.clear_import_outcomes(project_id, import_id)
    chunks = []
    for start in range(0, len(parsed.items), CHUNK_SIZE):
        key = f"{prefix}items/{start // CHUNK_SIZE:05d}.json"
        payload = [item.to_json() for item in parsed.items[start : start + CHUNK_SIZE]]
        storage.write_object(bucket, key, json.dumps(payload).encode(), "application/json")
        chunks.append({"project_id": project_id, "import_id": import_id, "chunk_key": key})
    import_repo.mark_import(project_id, import_id, status="running", total=len(parsed.items), reset_counters=True)
    return {"project_id": project_id, "import_id": import_id, "chunks": chunks}


def _parse(fmt: str, text: str, bucket: str, prefix: str) -> formats.ParsedImport:
    if fmt == "coco":
        return formats.parse_coco(text)
    if fmt == "jsonl":
        return formats.parse_jsonl(text)
    media_prefix = prefix + "media/"
    files = [key[len(media_prefix) :] for key in storage.list_keys(bucket, media_prefix)]

    def read_label(path: str) -> str:
        return storage.read_object(bucket, media_prefix + path, max_bytes=10 * 1024 * 1024).body.decode()

    return formats.parse_yolo(text, files, read_label)


def import_chunk(project_id: str, import_id: str, chunk_key: str) -> dict[str, int]:
    """Import each item of one chunk; an item's failure is recorded and never stops the others."""
    settings = get_settings()
    dataset = projects.get_dataset(project_id, _load(project_id, import_id).dataset)
    items = json.loads(storage.read_object(settings.media_bucket, chunk_key, max_bytes=64 * 1024 * 1024).body)
    tally = {"done": 0, "failed": 0, "waiting": 0}
    for raw in items:
        item = formats.ImportItem.from_json(raw)
        try:
            file_id = _import_item(project_id, import_id, dataset, item)
            if file_id is None:  # a video: its ingest records the outcome
                tally["waiting"] += 1
                continue
            reason = None
        except (
            media.MediaRejected,
            InvalidInstances,
            InvalidMetadata,
            storage.ObjectMissing,
            storage.ObjectTooLarge,
            web_fetch.FetchFailed,
            web_fetch.UrlRefused,
            ValueError,
        ) as exc:
            file_id, reason = None, f"{type(exc).__name__}: {exc}"
        import_repo.record_import_outcome(project_id, import_id, item.index, item.name, file_id=file_id, reason=reason)
        tally["failed" if reason else "done"] += 1
    logger.info("import chunk done", extra={"import_id": import_id, "chunk": chunk_key, **tally})
    return tally


def _import_item(project_id: str, import_id: str, dataset: Dataset, item: formats.ImportItem) -> str | None:
    """Register an image with its instances (its file id); hand a video to the video ingest (None: the item
    waits for the ingest's result, or had it already)."""
    if item.problem:
        raise ValueError(item.problem)
    settings = get_settings()
    key = _prefix(project_id, import_id) + "media/" + item.media_path if item.media_path else None
    head = _head(settings.media_bucket, key) if key else None
    if key and head is not None and media.sniff_video(head) is not None:
        if not _handed_over(project_id, import_id, dataset.name, item):
            _hand_over_video(project_id, import_id, dataset.name, item, copy_from=key)
        return None
    if key and head is not None:
        body = storage.read_object(settings.media_bucket, key, max_bytes=media.DEFAULT_MAX_BYTES).body
    else:
        if key and not item.media_url:
            raise storage.ObjectMissing(f"{item.media_path} was not uploaded with the import")
        if (item.media_url or "").startswith("s3://"):
            raise storage.ObjectMissing(
                f"{item.media_path or item.name} was not uploaded with the import, and its media.url "
                f"{item.media_url} is an S3 URI, which the import does not read: upload the media with the import "
                "(the exported folder, with media), or export with references='presigned'"
            )
        if _handed_over(project_id, import_id, dataset.name, item):
            return None
        fetched = _fetch_media(project_id, import_id, dataset.name, item)
        if fetched is None:
            return None
        body = fetched
    if item.media_type == "video":
        raise media.UnsupportedMedia(
            f"{item.name} is not a video (MP4, MOV, WebM or MKV), though its packet says media type 'video'; "
            "give the video's own file, or media type 'image' for an image"
        )
    inspected = media.inspect_image(body)
    labels = ingest.first_labels(
        formats.resolve_instances(item, inspected.width, inspected.height),
        item.metadata,
        width=inspected.width,
        height=inspected.height,
        author=f"import:{import_id}",
        source=item.name,
    )
    facts = ingest.store_media(project_id, body, inspected)  # only once its pre-labels and metadata can be stored
    ingest.record_ready_file(project_id, dataset.dataset_id, name=item.name, facts=facts, labels=labels)
    return str(facts["file_id"])


def _handed_over(project_id: str, import_id: str, dataset_name: str, item: formats.ImportItem) -> bool:
    """Whether an earlier try of this chunk (one that timed out, say) handed the item's video over already: it
    waits, and its video is in the uploads prefix. Then it is neither copied nor downloaded again."""
    if not import_repo.is_waiting(project_id, import_id, item.index):
        return False
    upload_id = import_videos.upload_id_for(import_id, item.index)
    return storage.object_exists(
        get_settings().media_bucket, storage.upload_key(project_id, dataset_name, upload_id, item.name)
    )


def _fetch_media(project_id: str, import_id: str, dataset_name: str, item: formats.ImportItem) -> bytes | None:
    """An item's media by URL: an image's bytes (up to the image limit), or None for a video, streamed from the
    URL into the uploads prefix (up to VIDEO_MAX_BYTES, one multipart part in memory at a time) and handed over.

    A video by URL is downloaded here, in the import's chunk step (a 15-minute Lambda) rather than the API, so
    its size is held to the video limit, not to the 50 MB an image (or a request's 30 s) allows."""
    settings = get_settings()
    limit = max(media.DEFAULT_MAX_BYTES, settings.video_max_bytes)
    url = item.media_url or ""
    with web_fetch.stream(url, max_bytes=limit, allow_private=settings.allow_private_urls) as answer:
        head = b""
        for piece in answer.chunks:
            head += piece
            if len(head) >= media.VIDEO_HEAD_BYTES:
                break
        if (kind := media.sniff_video(head[: media.VIDEO_HEAD_BYTES])) is not None:
            pieces = web_fetch.capped(itertools.chain([head], answer.chunks), settings.video_max_bytes, f"video {url}")
            _hand_over_video(project_id, import_id, dataset_name, item, chunks=pieces, content_type=kind.mime_type)
            return None
        pieces = web_fetch.capped(itertools.chain([head], answer.chunks), media.DEFAULT_MAX_BYTES, f"image {url}")
        return b"".join(pieces)


def _head(bucket: str, key: str) -> bytes | None:
    """The first bytes of an uploaded media file (enough to tell a video); None when it was not uploaded."""
    try:
        return storage.read_range(bucket, key, 0, media.VIDEO_HEAD_BYTES - 1)
    except storage.ObjectMissing:
        return None


def _hand_over_video(
    project_id: str,
    import_id: str,
    dataset_name: str,
    item: formats.ImportItem,
    *,
    copy_from: str | None = None,
    chunks: Iterable[bytes] = (),
    content_type: str = "application/octet-stream",
) -> None:
    """A video arrives as an upload of the import's dataset, with its instances as its sidecar: the uploads'
    notification starts the ingest, whose video machine probes it, stores its frames and registers it ready
    with the sidecar's tracks and tags as version 1 (checked then against its frame count and size), or
    quarantines it with the reason. Checked here first: the packet's instances as the annotation save's model
    reads a video's (tracks, frame tags, whole-video tags) and its metadata.

    The upload's id comes from the import and the item, so a re-driven import rewrites the same upload; the
    video's ingest registers its file by content, once. The item is marked waiting before the video arrives
    (the ingest's result settles it, ``import_videos``); one that has its outcome already is not handed again."""
    try:
        parsed = parse_unprobed_video_instances(item.instances)
    except InvalidInstances as exc:
        raise InvalidInstances(f"{item.name} is a video: {exc}") from None
    metadata = checked_metadata(item.metadata, source=f"the metadata of {item.name}")
    settings = get_settings()
    upload_id = import_videos.upload_id_for(import_id, item.index)
    if upload_repo.get_upload(project_id, upload_id) is None:
        upload_repo.create_upload(
            project_id,
            upload_id,
            dataset_name,
            item.name,
            f"import:{import_id}",
            ttl=int(time.time()) + 7 * 86400,
            import_item=(import_id, item.index),
        )
    else:
        upload_repo.link_import(project_id, upload_id, import_id, item.index)
    key = storage.upload_key(project_id, dataset_name, upload_id, item.name)
    if not import_repo.record_video_waiting(project_id, import_id, item.index, item.name):
        return  # its outcome is in already
    sidecar = {"instance_list": [i.model_dump(exclude_none=True) for i in parsed], "metadata": metadata}
    try:
        # the sidecar goes first: the video's arrival starts the ingest that reads it
        storage.write_object(
            settings.media_bucket, sidecar_key_for(key), json.dumps(sidecar).encode(), "application/json"
        )
        if copy_from is not None:
            storage.copy_object(settings.media_bucket, copy_from, settings.media_bucket, key)
        else:  # a video by URL, streamed in (the multipart upload is aborted past the limit)
            storage.write_multipart(settings.media_bucket, key, chunks, content_type)
    except BaseException:
        import_repo.drop_video_waiting(project_id, import_id, item.index)  # the chunk records the failure
        storage.delete_object(settings.media_bucket, sidecar_key_for(key))
        raise
    logger.info("import handed a video to ingest", extra={"import_id": import_id, "upload_id": upload_id})


def finish(project_id: str, import_id: str) -> dict[str, Any]:
    """Every chunk ran: the import completes now, or when the last video it handed over has its result."""
    import_repo.mark_import(project_id, import_id, status="running", awaiting_videos=True)
    import_videos.complete_if_settled(project_id, import_id)
    job = import_repo.get_import(project_id, import_id, consistent=True) or _load(project_id, import_id)
    return {"status": job.status, "awaiting_videos": job.awaiting_videos, "done": job.done, "failed": job.failed}


def fail(project_id: str, import_id: str, error: dict[str, Any]) -> dict[str, Any]:
    reason = ingest.reason_from_error(error)
    import_repo.mark_import(project_id, import_id, status="failed", reason=reason, finished=True)
    return {"status": "failed", "reason": reason}
