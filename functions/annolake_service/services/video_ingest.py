"""The video ingest state machine's steps: probe, extract a segment of frames (one per Map item), finish, discard.

``plan_video`` reads the container without decoding it (every frame's timestamp, the keyframes, the limits),
stores the original, poster and timestamps, and cuts the frames into segments (``domain.video.extraction``);
``extract_segment`` decodes one segment from the keyframe before it and stores its chunks (a segment whose
chunks are all stored is skipped, so running the job again decodes only what is missing); ``finish_video``
checks every chunk is stored and registers the file ready. All or nothing: a video refused at any step
(corrupt, truncated, over a limit) is taken apart by ``discard_video`` before it is quarantined, leaving no
frames, poster or original behind.
"""

from __future__ import annotations

import contextvars
import tempfile
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from annolake_service.adapters import storage
from annolake_service.adapters.dynamo import files as file_repo
from annolake_service.domain import media
from annolake_service.domain.entities import FileRecord, VideoFacts
from annolake_service.domain.object_keys import parse_object_key
from annolake_service.domain.video import chunks, extraction, probe
from annolake_service.domain.video.timeline import Timeline
from annolake_service.services import ingest
from annolake_service.shared.observability import logger
from annolake_service.shared.settings import get_settings

UPLOAD_THREADS = 8  # chunk uploads run beside the decoding
CHUNK_TYPE = "application/octet-stream"


class FramesMissing(Exception):
    """A segment reported done but some of the video's chunks are not stored (a bug or an outside delete)."""


def limits() -> probe.VideoLimits:
    settings = get_settings()
    return probe.VideoLimits(
        max_bytes=settings.video_max_bytes,
        max_duration_s=settings.video_max_duration_s,
        max_width=settings.video_max_width,
        max_height=settings.video_max_height,
    )


def plan_video(bucket: str, key: str) -> dict[str, Any]:
    """Probe the arrived video, store its original, poster and timestamps; its facts and segments.

    The answer: ``facts`` (what RegisterFile records), ``segments`` (the Map's items, each carrying what its
    step reads) and ``reused`` (the same bytes were ingested before: their frames are stored, no segment)."""
    arrived = parse_object_key(key)
    project_id = arrived.project_id
    bounds = limits()
    size = storage.object_size(bucket, key)
    if size > bounds.max_bytes:  # refused before it is downloaded
        raise media.MediaTooLarge(f"the file is {size} bytes; the limit for videos is {bounds.max_bytes} bytes")
    kind = media.sniff_video(storage.read_range(bucket, key, 0, media.VIDEO_HEAD_BYTES - 1))
    if kind is None:
        raise media.UnsupportedMedia("not a video: process it as an image")
    with tempfile.TemporaryDirectory(prefix="video-") as folder:
        path = Path(folder) / f"source.{kind.extension}"
        storage.download_file(bucket, key, path)
        content_hash = probe.file_digest(path)
        file_id = media.file_id_for_content(project_id, content_hash)
        known = file_repo.get_file(project_id, file_id)
        if known is not None and known.status == "ready" and known.video is not None:
            return {"facts": _payload(known), "segments": [], "reused": True}
        demuxed = probe.demux_video(path, kind, limits=bounds)
        poster = probe.decode_poster(path, kind, demuxed.timeline)
    facts = _facts(demuxed, project_id, file_id, content_hash)
    media_bucket = get_settings().media_bucket
    written: list[str] = []
    try:
        for stored_key, body, content_type in (
            (facts["video"]["timestamps_key"], demuxed.timeline.to_json(), "application/json"),
            (facts["thumbnail_key"], poster, "image/jpeg"),
        ):
            written.append(stored_key)
            storage.write_object(media_bucket, stored_key, body, content_type)
        written.append(facts["original_key"])
        storage.copy_object(bucket, key, media_bucket, facts["original_key"])
    except BaseException:
        _remove(media_bucket, written)
        raise
    source = {
        "original_key": facts["original_key"],
        "timestamps_key": facts["video"]["timestamps_key"],
        "frames_prefix": facts["video"]["frames_prefix"],
        "kind": {"label": kind.label, "mime_type": kind.mime_type, "extension": kind.extension},
    }
    planned = extraction.plan(demuxed.timeline.pts, demuxed.keyframes, get_settings().video_segment_frames)
    logger.info("video probed", extra={"file_id": file_id, "frames": demuxed.timeline.frame_count})
    return {"facts": facts, "segments": [{**s.to_item(), **source} for s in planned], "reused": False}


def _facts(demuxed: probe.DemuxedVideo, project_id: str, file_id: str, content_hash: str) -> dict[str, Any]:
    timeline = demuxed.timeline
    video = VideoFacts(
        frame_count=timeline.frame_count,
        fps=timeline.fps or 1.0,
        duration_s=timeline.duration_s,
        start_s=timeline.start_s,
        codec=demuxed.codec,
        timestamps_key=storage.timestamps_key(project_id, file_id),
        frames_prefix=storage.frames_prefix(project_id, file_id),
    )
    return {
        "file_id": file_id,
        "media_type": "video",
        "mime_type": demuxed.kind.mime_type,
        "width": demuxed.width,
        "height": demuxed.height,
        "size_bytes": demuxed.size_bytes,
        "content_hash": content_hash,
        "original_key": storage.original_key(project_id, file_id, demuxed.kind.extension),
        "thumbnail_key": storage.thumbnail_key(project_id, file_id),
        "video": video.model_dump(mode="json"),
    }


def extract_segment(item: dict[str, Any]) -> dict[str, Any]:
    """Decode one segment (a Map item of ``plan_video``) and store its chunks; skipped when all are stored."""
    segment = extraction.Segment.from_item(item)
    media_bucket = get_settings().media_bucket
    prefix = item["frames_prefix"]
    if not _missing_chunks(media_bucket, prefix, segment.chunk_numbers):
        return {"segment": segment.number, "skipped": True}
    kind = media.VideoKind(**item["kind"])
    timeline = Timeline.from_json(storage.read_object(media_bucket, item["timestamps_key"], max_bytes=1 << 30).body)
    uploads: list[Future[None]] = []
    with tempfile.TemporaryDirectory(prefix="segment-") as folder:
        path = Path(folder) / f"source.{kind.extension}"
        storage.download_file(media_bucket, item["original_key"], path)
        with ThreadPoolExecutor(UPLOAD_THREADS, thread_name_prefix="frames") as pool:

            def on_chunk(number: int, body: bytes) -> None:
                chunk_key = storage.frame_chunk_key(prefix, number)
                # The copied context keeps the calls attributed to this function (the local IAM audit reads it).
                run = contextvars.copy_context().run
                uploads.append(
                    pool.submit(run, storage.write_object, media_bucket, chunk_key, body, "application/octet-stream")
                )

            try:
                probe.decode_frames(
                    path, kind, timeline, segment.first, segment.end, seek_pts=segment.seek_pts, on_chunk=on_chunk
                )
                for upload in uploads:
                    upload.result()
            except BaseException:
                for upload in uploads:
                    upload.cancel()
                raise
    logger.info("video segment stored", extra={"segment": segment.number, "frames": segment.end - segment.first})
    return {"segment": segment.number, "skipped": False}


def _missing_chunks(bucket: str, prefix: str, numbers: range) -> list[int]:
    """Which of the chunks ``numbers`` are not stored under ``prefix`` (one listing)."""
    stored = set(storage.list_keys(bucket, prefix))
    return [n for n in numbers if storage.frame_chunk_key(prefix, n) not in stored]


def finish_video(bucket: str, key: str, plan: dict[str, Any]) -> dict[str, Any]:
    """Check every chunk of the video is stored, then register the file ready (``ingest.register_file``)."""
    facts = plan["facts"]
    if not plan["reused"]:
        video = facts["video"]
        count = -(-video["frame_count"] // chunks.CHUNK_FRAMES)
        if missing := _missing_chunks(get_settings().media_bucket, video["frames_prefix"], range(count)):
            raise FramesMissing(f"chunks {missing[:10]} of {count} are not stored; run the ingest of the file again")
    return ingest.register_file(bucket, key, facts)


def discard_video(bucket: str, key: str, error: dict[str, Any], plan: dict[str, Any] | None) -> dict[str, Any]:
    """A refused video: remove what its steps stored (not the frames of the same bytes ingested before, nor of
    a file FinishVideo recorded ready before it failed on a later write), then quarantine the arrival with the
    reason (a re-drive of a ready file's path replaces that refusal)."""
    if plan is not None and not plan.get("reused") and not _recorded_ready(key, plan["facts"]["file_id"]):
        facts = plan["facts"]
        media_bucket = get_settings().media_bucket
        stored = storage.list_keys(media_bucket, facts["video"]["frames_prefix"])
        stored += [facts["video"]["timestamps_key"], facts["thumbnail_key"], facts["original_key"]]
        _remove(media_bucket, stored)
    return ingest.quarantine(bucket, key, error)


def _recorded_ready(key: str, file_id: str) -> bool:
    known = file_repo.get_file(parse_object_key(key).project_id, file_id)
    return known is not None and known.status == "ready"


def _remove(bucket: str, keys: list[str]) -> None:
    """Undo a refused video's writes, so nothing of it is left beside the quarantined original."""
    try:
        storage.delete_keys(bucket, keys)
    except Exception:  # noqa: BLE001 - best effort; the original error is the one to report
        logger.exception("could not remove a refused video's objects", extra={"keys": keys[:5]})


def _payload(record: FileRecord) -> dict[str, Any]:
    """A known video's facts, as ``_facts`` gives them (what RegisterFile reads)."""
    assert record.video is not None
    return {
        "file_id": record.file_id,
        "media_type": "video",
        "mime_type": record.mime_type,
        "width": record.width,
        "height": record.height,
        "size_bytes": record.size_bytes,
        "content_hash": record.content_hash,
        "original_key": record.original_key,
        "thumbnail_key": record.thumbnail_key,
        "video": record.video.model_dump(mode="json"),
    }
