"""The ingest state machine's video step: probe and decode with PyAV, store the frames, poster and timestamps.

All or nothing: a video refused part way (corrupt, truncated, over a limit) leaves no frames, poster or
original behind; the step's error is the quarantine reason (the state machine's Catch records it).
"""

from __future__ import annotations

import tempfile
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from annolake_service.adapters import storage
from annolake_service.adapters.dynamo import files as file_repo
from annolake_service.domain import media
from annolake_service.domain.entities import FileRecord, VideoFacts
from annolake_service.domain.object_keys import parse_object_key
from annolake_service.domain.video import probe
from annolake_service.shared.observability import logger
from annolake_service.shared.settings import get_settings

UPLOAD_THREADS = 8  # chunk uploads run beside the decoding
CLEANUP_MARGIN_S = 20.0  # what is kept back from the step's time to remove a refused video's objects


def limits() -> probe.VideoLimits:
    settings = get_settings()
    return probe.VideoLimits(
        max_bytes=settings.video_max_bytes,
        max_duration_s=settings.video_max_duration_s,
        max_width=settings.video_max_width,
        max_height=settings.video_max_height,
    )


def process_video(bucket: str, key: str, *, seconds_left: float | None = None) -> dict[str, Any]:
    """Store the arrived video's original, poster, per-frame timestamps and frames; its facts for RegisterFile.

    ``seconds_left``: the step's remaining time. A video still decoding when it nearly runs out is refused (and
    its objects removed) rather than cut off by the timeout with its frames half-written."""
    deadline = time.monotonic() + seconds_left - CLEANUP_MARGIN_S if seconds_left is not None else None
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
            return _payload(known)  # the same bytes were ingested before: their frames are stored
        return _store(bucket, key, path, kind, project_id, file_id, content_hash, bounds, deadline)


def _store(
    bucket: str,
    key: str,
    path: Path,
    kind: media.VideoKind,
    project_id: str,
    file_id: str,
    content_hash: str,
    bounds: probe.VideoLimits,
    deadline: float | None,
) -> dict[str, Any]:
    media_bucket = get_settings().media_bucket
    frames_prefix = storage.frames_prefix(project_id, file_id)
    written: list[str] = []
    uploads: list[Future[None]] = []

    with ThreadPoolExecutor(UPLOAD_THREADS, thread_name_prefix="frames") as pool:

        def on_chunk(number: int, body: bytes) -> None:
            if deadline is not None and time.monotonic() > deadline:
                raise media.MediaTooLarge(
                    f"the video did not finish decoding in the time the ingest step has (stopped at frame "
                    f"{number * probe.chunks.CHUNK_FRAMES}); cut it into shorter clips"
                )
            chunk_key = storage.frame_chunk_key(frames_prefix, number)
            written.append(chunk_key)
            uploads.append(pool.submit(storage.write_object, media_bucket, chunk_key, body, "application/octet-stream"))

        try:
            probed = probe.probe_video(path, kind, limits=bounds, on_chunk=on_chunk)
            for upload in uploads:
                upload.result()
            facts = VideoFacts(
                frame_count=probed.timeline.frame_count,
                fps=probed.timeline.fps or 1.0,
                duration_s=probed.timeline.duration_s,
                start_s=probed.timeline.start_s,
                codec=probed.codec,
                timestamps_key=storage.timestamps_key(project_id, file_id),
                frames_prefix=frames_prefix,
            )
            original = storage.original_key(project_id, file_id, kind.extension)
            poster = storage.thumbnail_key(project_id, file_id)
            timestamps = storage.timestamps_key(project_id, file_id)
            written += [timestamps, poster, original]
            storage.write_object(media_bucket, timestamps, probed.timeline.to_json(), "application/json")
            storage.write_object(media_bucket, poster, probed.poster_jpeg, "image/jpeg")
            storage.copy_object(bucket, key, media_bucket, original)
        except BaseException:
            for upload in uploads:
                upload.cancel()
            pool.shutdown(wait=True)
            _remove(media_bucket, written)
            raise
    logger.info("video stored", extra={"file_id": file_id, "frames": facts.frame_count})
    return {
        "file_id": file_id,
        "media_type": "video",
        "mime_type": kind.mime_type,
        "width": probed.width,
        "height": probed.height,
        "size_bytes": probed.size_bytes,
        "content_hash": content_hash,
        "original_key": original,
        "thumbnail_key": poster,
        "video": facts.model_dump(mode="json"),
    }


def _remove(bucket: str, keys: list[str]) -> None:
    """Undo a refused video's writes, so nothing of it is left beside the quarantined original."""
    for stored_key in keys:
        try:
            storage.delete_object(bucket, stored_key)
        except Exception:  # noqa: BLE001 - best effort; the original error is the one to report
            logger.exception("could not remove a refused video's object", extra={"key": stored_key})


def _payload(record: FileRecord) -> dict[str, Any]:
    """A known video's facts, as ``_store`` returns them (what RegisterFile reads)."""
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
