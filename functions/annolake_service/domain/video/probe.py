"""Probe and decode a video with PyAV: frame-exact facts, a poster, and its frames as JPEG, in chunks.

``demux_video`` reads the container alone (no decoding): every frame's presentation timestamp, the keyframes,
the limits; ``decode_frames`` decodes one range of frames from the keyframe at or before it, checking each
frame against those timestamps, so ranges decoded apart (``extraction`` segments) give exactly the frames of a
whole-file decode. Pure apart from reading the local file it is given: chunks go to the caller's ``on_chunk``
as they fill, so memory holds one chunk whatever the video's length. Only the video steps import this module
(PyAV is in their layer alone).
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Callable, Generator
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
class DemuxedVideo:
    kind: VideoKind
    codec: str
    width: int
    height: int
    size_bytes: int
    timeline: Timeline
    keyframes: tuple[int, ...]  # indices (presentation order) of the frames decoding can start from


@dataclass(frozen=True)
class ProbedVideo:
    demuxed: DemuxedVideo
    poster_jpeg: bytes
    chunk_count: int

    @property
    def timeline(self) -> Timeline:
        return self.demuxed.timeline


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


def _corrupt(kind: VideoKind, exc: av.error.FFmpegError) -> CorruptMedia:
    problem = getattr(exc, "strerror", None) or str(exc)  # without the worker's temporary path
    return CorruptMedia(f"the {kind.label} file could not be decoded ({problem}); it is truncated or damaged")


def demux_video(path: Path, kind: VideoKind, *, limits: VideoLimits) -> DemuxedVideo:
    """The video's frames as its container lists them, without decoding one; raise a ``MediaRejected``
    subclass naming the problem.

    Frames are numbered in presentation order (packets sorted by presentation timestamp; packets the
    container marks as discarded, before an edit list's start, are no frames). A file whose index lists more
    frames than it holds (cut off in transfer) is refused as truncated rather than ingested short."""
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
            _check_declared(stream, container, limits)
            time_base = Fraction(stream.time_base) if stream.time_base else Fraction(1, av.time_base)
            listed: list[tuple[int, bool]] = []
            packets = 0
            for packet in container.demux(stream):
                if not packet.size:
                    continue
                packets += 1
                if packet.is_discard:
                    continue
                if packet.pts is None:
                    raise CorruptMedia(f"frame {len(listed)} (in decoding order) has no presentation timestamp")
                listed.append((packet.pts, packet.is_keyframe))
            declared = stream.frames
            matroska_end = (
                Fraction(container.duration, av.time_base)
                if container.duration and "matroska" in container.format.name
                else None
            )
            width, height = stream.codec_context.width, stream.codec_context.height
            codec = stream.codec_context.name
    except av.error.FFmpegError as exc:
        raise _corrupt(kind, exc) from None
    if not listed:
        raise CorruptMedia(f"the {kind.label} file holds no frame; it is truncated or damaged")
    if declared and packets < declared:
        raise CorruptMedia(
            f"the {kind.label} file is truncated: its index lists {declared} frames but only {packets} are in the file"
        )
    listed.sort()
    pts = [p for p, _ in listed]
    for number, (a, b) in enumerate(zip(pts, pts[1:], strict=False)):
        if b <= a:
            raise CorruptMedia(f"frames {number} and {number + 1} are presented at the same time (timestamps repeat)")
    if (pts[-1] - pts[0]) * time_base > limits.max_duration_s:
        raise MediaTooLarge(
            f"the video lasts over {limits.max_duration_s:.0f} s, the limit (cut it into shorter clips)"
        )
    if matroska_end is not None and len(pts) > 1:
        # Matroska lists no frame count; its segment's duration is the end of the last frame. Short of it by
        # more than a frame (the longest interval seen, with slack): cut off in transfer.
        longest = max(b - a for a, b in zip(pts, pts[1:], strict=False)) * time_base
        listed_end = pts[-1] * time_base
        if matroska_end - listed_end > longest * Fraction(3, 2):
            raise CorruptMedia(
                f"the {kind.label} file is truncated: it declares {float(matroska_end):.3f} s but its frames "
                f"end at {float(listed_end):.3f} s"
            )
    return DemuxedVideo(
        kind=kind,
        codec=codec,
        width=width,
        height=height,
        size_bytes=size,
        timeline=Timeline(time_base=time_base, pts=tuple(pts)),
        keyframes=tuple(i for i, (_, key) in enumerate(listed) if key),
    )


def decode_poster(path: Path, kind: VideoKind, timeline: Timeline) -> bytes:
    """The poster: the frame shown ``POSTER_AT_S`` in (or the last, in a shorter video); decodes that far only."""
    first = timeline.pts[0]
    poster: bytes | None = None
    try:
        with av.open(str(path), mode="r") as container:
            stream = container.streams.video[0]
            for frame in container.decode(stream):
                if frame.pts is None:
                    continue
                if poster is not None and (frame.pts - first) * timeline.time_base > POSTER_AT_S:
                    break
                poster = _poster(frame.to_image())
    except av.error.FFmpegError as exc:
        raise _corrupt(kind, exc) from None
    if poster is None:
        raise CorruptMedia(f"the {kind.label} file holds no decodable frame; it is truncated or damaged")
    return poster


def _decoded_from(path: Path, seek_pts: int | None) -> Generator[av.VideoFrame, None, None]:
    """The frames decoded from the keyframe at or before ``seek_pts`` (from the start when None)."""
    with av.open(str(path), mode="r") as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        if seek_pts is not None:
            container.seek(seek_pts, stream=stream, backward=True, any_frame=False)
        yield from container.decode(stream)


def decode_frames(
    path: Path,
    kind: VideoKind,
    timeline: Timeline,
    first: int,
    end: int,
    *,
    seek_pts: int,
    on_chunk: Callable[[int, bytes], None],
    chunk_frames: int = chunks.CHUNK_FRAMES,
) -> int:
    """Decode frames ``first`` to ``end - 1`` (``first`` a multiple of ``chunk_frames``), starting at the keyframe
    presented at ``seek_pts``, and hand each chunk to ``on_chunk(chunk number, body)``; the number of chunks.

    Each decoded frame must be presented at the time the demuxer listed for its index: a frame that is missing
    or out of place (damaged data) refuses the video rather than shifting every frame after it."""
    pts = timeline.pts
    wanted = pts[first]
    attempts = [seek_pts, None] if first else [None]  # a seek that lands past the frame: decode from the start
    with ThreadPoolExecutor(os.cpu_count() or 1, thread_name_prefix="jpeg") as encoder:
        for seek in attempts:
            index, number, count = first, first // chunk_frames, 0
            pending: list[Future[bytes]] = []
            frames = _decoded_from(path, seek)
            try:
                for frame in frames:
                    if frame.pts is None or frame.pts < wanted:
                        continue
                    if index == first and frame.pts > wanted and seek is not None:
                        break  # landed after the first frame wanted: try again from the start
                    if index == end:
                        break
                    if frame.pts != pts[index]:
                        raise CorruptMedia(
                            f"frame {index} decodes at timestamp {frame.pts} but the container lists it at "
                            f"{pts[index]}; the {kind.label} file is damaged"
                        )
                    pending.append(encoder.submit(_frame_jpeg, frame))
                    index += 1
                    if len(pending) == chunk_frames:
                        on_chunk(number, chunks.pack([done.result() for done in pending]))
                        number, pending, count = number + 1, [], count + 1
            except av.error.FFmpegError as exc:
                raise _corrupt(kind, exc) from None
            finally:
                frames.close()
            if index == first and seek is not None:
                continue
            if index < end:
                raise CorruptMedia(
                    f"frames {index} to {end - 1} could not be decoded; the {kind.label} file is truncated or damaged"
                )
            if pending:
                on_chunk(number, chunks.pack([done.result() for done in pending]))
                count += 1
            return count
    raise AssertionError("unreachable: the last attempt decodes from the start")


def probe_video(
    path: Path,
    kind: VideoKind,
    *,
    limits: VideoLimits,
    on_chunk: Callable[[int, bytes], None],
) -> ProbedVideo:
    """The whole video in one pass: demux, poster and every frame (what the segments together store)."""
    demuxed = demux_video(path, kind, limits=limits)
    timeline = demuxed.timeline
    poster = decode_poster(path, kind, timeline)
    count = decode_frames(path, kind, timeline, 0, timeline.frame_count, seek_pts=timeline.pts[0], on_chunk=on_chunk)
    return ProbedVideo(demuxed=demuxed, poster_jpeg=poster, chunk_count=count)
