"""Frames of an ingested video: one frame's JPEG read from its chunk with two ranged GETs (no decoding, no
PyAV), and a range of frames as a loader reads them (their annotations, interpolated, and presigned URLs of the
chunks that hold them)."""

from __future__ import annotations

from typing import Any

from annolake_service.adapters import storage
from annolake_service.domain.entities import FileRecord
from annolake_service.domain.video import chunks
from annolake_service.domain.video.frames import frame_instances
from annolake_service.services.files import get_file, get_file_with_instances
from annolake_service.shared.errors import BadRequest, NotFound
from annolake_service.shared.settings import get_settings

MAX_FRAME_RANGE = 256  # frames per answer: their annotations stay small, their chunks few


def _video_of(record: FileRecord, file_id: str) -> Any:
    video = record.video
    if record.media_type != "video" or video is None or not video.frames_prefix:
        raise BadRequest(f"file {file_id!r} is not a video ({record.media_type}); frames exist for videos only")
    return video


def frame_jpeg(project_id: str, file_id: str, frame: int) -> bytes:
    """Frame ``frame`` (0-based, presentation order) of a ready video, as the JPEG stored at ingest."""
    video = _video_of(get_file(project_id, file_id), file_id)
    if not 0 <= frame < video.frame_count:
        raise NotFound(f"frame {frame} does not exist: the video has frames 0 to {video.frame_count - 1}")
    chunk, position = chunks.chunk_of(frame)
    key = storage.frame_chunk_key(video.frames_prefix, chunk)
    bucket = get_settings().media_bucket
    first, last = chunks.frame_range(storage.read_range(bucket, key, 0, chunks.header_size() - 1), position)
    return storage.read_range(bucket, key, first, last)


def frame_range(
    project_id: str, file_id: str, *, start: int, count: int, url_expires_in: int | None = None
) -> dict[str, Any]:
    """Frames ``start .. start+count-1`` (clipped to the video's end) for a loader: each frame's annotations as
    ``frame_annotations`` answers them, and fresh presigned GETs of the chunks (``chunks.CHUNK_FRAMES`` frames
    each, in ``chunks``' format) that hold those frames, so one call and one download per chunk feed them all."""
    if start < 0 or not 1 <= count <= MAX_FRAME_RANGE:
        raise BadRequest(f"start must be ≥ 0 and count between 1 and {MAX_FRAME_RANGE}")
    longest = get_settings().presign_ttl_seconds
    ttl = url_expires_in or longest
    if not 1 <= ttl <= longest:
        raise BadRequest(f"url_expires_in must be between 1 and {longest} seconds")
    record, instances = get_file_with_instances(project_id, file_id)
    video = _video_of(record, file_id)
    if start >= video.frame_count:
        raise BadRequest(f"start {start} is past the video's end: its frames are 0..{video.frame_count - 1}")
    end = min(start + count, video.frame_count)
    first_chunk, last_chunk = start // chunks.CHUNK_FRAMES, (end - 1) // chunks.CHUNK_FRAMES
    numbers = list(range(first_chunk, last_chunk + 1))
    keys = [storage.frame_chunk_key(video.frames_prefix, n) for n in numbers]
    urls = storage.presigned_get_urls(get_settings().media_bucket, keys, ttl)
    return {
        "file_id": file_id,
        "version": record.annotation_version,
        "frame_count": video.frame_count,
        "fps": video.fps,
        "width": record.width,
        "height": record.height,
        "chunk_frames": chunks.CHUNK_FRAMES,
        "frames": [{"frame": n, "instance_list": frame_instances(instances, n)} for n in range(start, end)],
        "chunks": [
            {"chunk": n, "first_frame": n * chunks.CHUNK_FRAMES, "url": url}
            for n, url in zip(numbers, urls, strict=True)
        ],
        "url_expires_in": ttl,
    }
