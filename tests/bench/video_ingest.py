"""Video ingest: time and storage per minute of 1080p video, against PyAV decoding the same clip alone.

A synthetic 1080p30 H.264 clip (CRF 23, a textured scene panning, a keyframe every 2 s, ``CLIP_SECONDS`` long)
is made with PyAV; the figures are scaled to one minute. "ingest, one pass" is the video steps' work without S3
done in one go (``probe_video``: decode, every frame to JPEG, chunks packed, poster); "probe step" is the video
ingest's first step (demux without decoding, poster); "segment steps" are the Map's steps (``decode_frames`` on
each segment of ``VIDEO_SEGMENT_FRAMES``, from a keyframe seek), run here one after another: their sum is the
compute, the longest one bounds the ingest's wall time when the Map runs them side by side. The chunk uploads
run beside the decoding in threads on Lambda. "decode only" is the physical limit: PyAV decoding every frame and
nothing else. Run: ``python -m tests.bench.video_ingest``.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import av

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "functions"))

from annolake_service.domain import media  # noqa: E402
from annolake_service.domain.video import extraction, probe  # noqa: E402
from annolake_service.shared.settings import Settings  # noqa: E402

from tests.support.video_fixtures import make_video  # noqa: E402

CLIP_SECONDS = int(os.environ.get("CLIP_SECONDS", "10"))
RATE = Fraction(30)


def _decode_only(path: Path) -> tuple[int, float]:
    started = time.perf_counter()
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        frames = sum(1 for _ in container.decode(stream))
    return frames, time.perf_counter() - started


def _ingest(path: Path) -> tuple[probe.ProbedVideo, int, float]:
    stored = 0

    def on_chunk(number: int, body: bytes) -> None:
        nonlocal stored
        stored += len(body)

    kind = media.sniff_video(path.read_bytes()[: media.VIDEO_HEAD_BYTES])
    assert kind is not None
    limits = probe.VideoLimits(max_bytes=2**40, max_duration_s=3600, max_width=3840, max_height=2160)
    started = time.perf_counter()
    probed = probe.probe_video(path, kind, limits=limits, on_chunk=on_chunk)
    return probed, stored, time.perf_counter() - started


def _fanned_out(path: Path) -> tuple[float, list[float], int]:
    """The probe step's time, each segment step's, and the bytes the segments stored."""
    kind = media.sniff_video(path.read_bytes()[: media.VIDEO_HEAD_BYTES])
    assert kind is not None
    limits = probe.VideoLimits(max_bytes=2**40, max_duration_s=3600, max_width=3840, max_height=2160)
    started = time.perf_counter()
    demuxed = probe.demux_video(path, kind, limits=limits)
    probe.decode_poster(path, kind, demuxed.timeline)
    probe_s = time.perf_counter() - started
    stored = 0

    def on_chunk(number: int, body: bytes) -> None:
        nonlocal stored
        stored += len(body)

    segment_frames = Settings.from_env().video_segment_frames
    times = []
    for segment in extraction.plan(demuxed.timeline.pts, demuxed.keyframes, segment_frames):
        started = time.perf_counter()
        probe.decode_frames(
            path, kind, demuxed.timeline, segment.first, segment.end, seek_pts=segment.seek_pts, on_chunk=on_chunk
        )
        times.append(time.perf_counter() - started)
    return probe_s, times, stored


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "clip.mp4"
        started = time.perf_counter()
        make_video(path, frames=int(CLIP_SECONDS * RATE), rate=RATE, size=(1920, 1080), patterned=False, crf=23, gop=60)
        made = time.perf_counter() - started
        source = path.stat().st_size
        frames, decode_s = _decode_only(path)
        probed, stored, ingest_s = _ingest(path)
        assert probed.timeline.frame_count == frames
        probe_s, segment_s, segment_stored = _fanned_out(path)
        assert segment_stored == stored  # the same frames, whichever way they are decoded
        per_minute = 60 / CLIP_SECONDS
        print(f"clip: {CLIP_SECONDS} s of 1920x1080 at {float(RATE):g} fps, {frames} frames (made in {made:.1f} s)")
        print(f"cpus: {os.cpu_count()}  PyAV {av.__version__}")
        print(f"{'':28}{'per clip':>12}{'per minute':>14}")
        print(f"{'decode only (limit), s':28}{decode_s:>12.2f}{decode_s * per_minute:>14.1f}")
        print(f"{'ingest, one pass, s':28}{ingest_s:>12.2f}{ingest_s * per_minute:>14.1f}")
        print(f"{'probe step, s':28}{probe_s:>12.2f}{probe_s * per_minute:>14.1f}")
        total = sum(segment_s)
        print(f"{'segment steps (sum), s':28}{total:>12.2f}{total * per_minute:>14.1f}")
        print(
            f"segments: {len(segment_s)} ({', '.join(f'{t:.1f}' for t in segment_s)} s); fan-out / one pass: "
            f"{(probe_s + total) / ingest_s:.2f}x compute, wall time with the Map side by side: "
            f"{probe_s + max(segment_s):.1f} s"
        )
        print(f"{'source H.264, MB':28}{source / 1e6:>12.1f}{source / 1e6 * per_minute:>14.1f}")
        print(f"{'frame chunks (JPEG q85), MB':28}{stored / 1e6:>12.1f}{stored / 1e6 * per_minute:>14.1f}")
        print(f"{'per frame, KB':28}{stored / frames / 1e3:>12.1f}")
        print(f"ingest / decode: {ingest_s / decode_s:.1f}x; stored / source: {stored / source:.1f}x")


if __name__ == "__main__":
    main()
