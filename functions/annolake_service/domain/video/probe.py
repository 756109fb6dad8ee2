"""Probe and decode a video with PyAV: frame-exact facts, a poster, and every frame as JPEG, in chunks.

Pure apart from reading the local file it is given: chunks go to the caller's ``on_chunk`` as they fill, so
memory holds one chunk whatever the video's length. Only the video step imports this module (PyAV is in its
layer alone).
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
from PIL import Image

from annolake_service.domain.media import CorruptMedia, EmptyMedia, MediaTooLarge, UnsupportedMedia, VideoKind
from annolake_service.domain.video import chunks
from annolake_service.domain.video.timeline import Timeline

JPEG_QUALITY = 85
POSTER_SIZE = (256, 256)
POSTER_AT_S = 1.0  # the poster is the frame shown one second in (the first frames are often black)


@dataclass(frozen=True)
class VideoLimits:
    max_bytes: int
    max_duration_s: float
    max_width: int
    max_height: int


@dataclass(frozen=True)
class ProbedVideo:
    kind: VideoKind
    codec: str
    width: int
    height: int
    size_bytes: int
    timeline: Timeline
    poster_jpeg: bytes
    chunk_count: int


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def _jpeg(image: Image.Image, quality: int = JPEG_QUALITY) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def _frame_jpeg(frame: av.VideoFrame) -> bytes:
    """Colour conversion and JPEG encoding, the bulk of the work: both release the GIL, so frames encode in
    parallel threads while the decoder runs on."""
    return _jpeg(frame.to_image())


def _poster(image: Image.Image) -> bytes:
    poster = image.copy()
    poster.thumbnail(POSTER_SIZE)
    return _jpeg(poster)


def _check_declared(stream: av.VideoStream, container: av.container.InputContainer, limits: VideoLimits) -> None:
    """Refuse what the container declares beyond the limits before decoding a frame."""
    width, height = stream.codec_context.width, stream.codec_context.height
    if width > limits.max_width or height > limits.max_height:
        raise MediaTooLarge(
            f"the video is {width}x{height} pixels; the limit is {limits.max_width}x{limits.max_height}"
        )
    declared = container.duration / av.time_base if container.duration else 0.0
    if declared > limits.max_duration_s:
        raise MediaTooLarge(
            f"the video lasts {declared:.1f} s; the limit is {limits.max_duration_s:.0f} s (cut it into shorter clips)"
        )


def probe_video(
    path: Path,
    kind: VideoKind,
    *,
    limits: VideoLimits,
    on_chunk: Callable[[int, bytes], None],
    chunk_frames: int = chunks.CHUNK_FRAMES,
) -> ProbedVideo:
    """Decode every frame of the video at ``path``; raise a ``MediaRejected`` subclass naming the problem.

    Frames are numbered in presentation order; a file whose container lists more frames than can be read
    (cut off in transfer) is refused as truncated rather than ingested short."""
    size = path.stat().st_size
    if size == 0:
        raise EmptyMedia("the file is empty (0 bytes)")
    if size > limits.max_bytes:
        raise MediaTooLarge(f"the file is {size} bytes; the limit for videos is {limits.max_bytes} bytes")
    try:
        with av.open(str(path), mode="r") as container:
            if not container.streams.video:
                raise UnsupportedMedia(f"the {kind.label} file has no video stream")
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            _check_declared(stream, container, limits)
            time_base = Fraction(stream.time_base) if stream.time_base else Fraction(1, av.time_base)
            pts: list[int] = []
            pending: list[Future[bytes]] = []
            chunk_count = 0
            poster: bytes | None = None
            packets = 0
            with ThreadPoolExecutor(os.cpu_count() or 1, thread_name_prefix="jpeg") as encoder:

                def flush() -> None:
                    nonlocal chunk_count, pending
                    on_chunk(chunk_count, chunks.pack([done.result() for done in pending]))
                    chunk_count, pending = chunk_count + 1, []

                for packet in container.demux(stream):
                    if packet.size:
                        packets += 1
                    for frame in packet.decode():
                        if frame.pts is None:
                            raise CorruptMedia(f"frame {len(pts)} has no presentation timestamp")
                        if pts and frame.pts <= pts[-1]:
                            raise CorruptMedia(
                                f"frame {len(pts)} is presented at or before frame {len(pts) - 1} "
                                "(timestamps out of order)"
                            )
                        since_start = (frame.pts - (pts[0] if pts else frame.pts)) * time_base
                        if since_start > limits.max_duration_s:
                            raise MediaTooLarge(f"the video lasts over {limits.max_duration_s:.0f} s, the limit")
                        if poster is None or since_start <= POSTER_AT_S:
                            poster = _poster(frame.to_image())
                        pts.append(frame.pts)
                        pending.append(encoder.submit(_frame_jpeg, frame))
                        if len(pending) == chunk_frames:
                            flush()
                if pending:
                    flush()
            declared = stream.frames
            matroska_end = (
                Fraction(container.duration, av.time_base)
                if container.duration and "matroska" in container.format.name
                else None
            )
            width, height = stream.codec_context.width, stream.codec_context.height
            codec = stream.codec_context.name
    except av.error.FFmpegError as exc:
        problem = getattr(exc, "strerror", None) or str(exc)  # without the worker's temporary path
        raise CorruptMedia(
            f"the {kind.label} file could not be decoded ({problem}); it is truncated or damaged"
        ) from None
    if not pts:
        raise CorruptMedia(f"the {kind.label} file holds no decodable frame; it is truncated or damaged")
    if declared and packets < declared:
        raise CorruptMedia(
            f"the {kind.label} file is truncated: its index lists {declared} frames but only {packets} are in the file"
        )
    timeline = Timeline(time_base=time_base, pts=tuple(pts))
    if matroska_end is not None and len(pts) > 1:
        # Matroska lists no frame count; its segment's duration is the end of the last frame. Short of it by
        # more than a frame (the longest interval seen, with slack): cut off in transfer.
        longest = max(b - a for a, b in zip(pts, pts[1:], strict=False)) * time_base
        decoded_end = pts[-1] * time_base
        if matroska_end - decoded_end > longest * Fraction(3, 2):
            raise CorruptMedia(
                f"the {kind.label} file is truncated: it declares {float(matroska_end):.3f} s but its frames "
                f"end at {float(decoded_end):.3f} s"
            )
    assert poster is not None
    return ProbedVideo(
        kind=kind,
        codec=codec,
        width=width,
        height=height,
        size_bytes=size,
        timeline=timeline,
        poster_jpeg=poster,
        chunk_count=chunk_count,
    )
