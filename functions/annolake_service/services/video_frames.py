"""One frame of an ingested video, read from its chunk with two ranged GETs (no decoding, no PyAV)."""

from __future__ import annotations

from annolake_service.adapters import storage
from annolake_service.domain.video import chunks
from annolake_service.services.files import get_file
from annolake_service.shared.errors import BadRequest, NotFound
from annolake_service.shared.settings import get_settings


def frame_jpeg(project_id: str, file_id: str, frame: int) -> bytes:
    """Frame ``frame`` (0-based, presentation order) of a ready video, as the JPEG stored at ingest."""
    record = get_file(project_id, file_id)
    video = record.video
    if record.media_type != "video" or video is None or not video.frames_prefix:
        raise BadRequest(f"file {file_id!r} is not a video ({record.media_type}); frames exist for videos only")
    if not 0 <= frame < video.frame_count:
        raise NotFound(f"frame {frame} does not exist: the video has frames 0 to {video.frame_count - 1}")
    chunk, position = chunks.chunk_of(frame)
    key = storage.frame_chunk_key(video.frames_prefix, chunk)
    bucket = get_settings().media_bucket
    first, last = chunks.frame_range(storage.read_range(bucket, key, 0, chunks.header_size() - 1), position)
    return storage.read_range(bucket, key, first, last)
