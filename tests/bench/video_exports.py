"""Export size of a 1-minute clip against its source: COCO of every 10th frame (annotations JSON and the stored
frame JPEGs the SDK writes beside it), COCO of the annotated frames, and CVAT for video XML, as an export page
renders them. Run: ``python -m tests.bench video_exports`` (or ``python -m tests.bench.video_exports``).

The clip is made with PyAV: 640x360, 30 fps, 60 s (1,800 frames) of a textured scene panning 4 px a frame, H.264
(CRF 18, ultrafast); its frames are stored as the ingest stores them (``probe_video``: JPEG quality 85, chunks of
32). ``ANNOLAKE_BENCH_VIDEO_EXPORT_TRACKS`` box tracks (10) with a keyframe every second."""

from __future__ import annotations

import os
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "functions"))

from annolake_service.domain.exports import ExportContext, ExportFile, format_named  # noqa: E402
from annolake_service.domain.exports.base import assemble  # noqa: E402
from annolake_service.domain.exports.cvat_video import CvatVideo, write_cvat_video  # noqa: E402
from annolake_service.domain.exports.video_frames import exported_frames  # noqa: E402
from annolake_service.domain.media import sniff_video  # noqa: E402
from annolake_service.domain.video import chunks, probe  # noqa: E402

WIDTH, HEIGHT, FPS, SECONDS = 640, 360, 30, 60
FRAMES = FPS * SECONDS
TRACKS = int(os.environ.get("ANNOLAKE_BENCH_VIDEO_EXPORT_TRACKS", "10"))


def _tracks() -> list[dict]:
    rng = random.Random(7)
    tracks = []
    for track_id in range(TRACKS):
        keys = []
        for frame in range(rng.randrange(FPS), FRAMES, FPS):  # a keyframe every second, from a random start
            x, y = rng.uniform(0, WIDTH - 80), rng.uniform(0, HEIGHT - 60)
            keys.append({"frame": frame, "x_min": x, "y_min": y, "x_max": x + 80, "y_max": y + 60})
        tracks.append({"type": "track", "name": "car", "track_id": track_id, "shape": "box", "keyframes": keys})
    return tracks


def _clip(folder: Path) -> tuple[Path, list[bytes]]:
    """The clip and its frames' JPEGs as the ingest stores them."""
    from tests.support.video_fixtures import make_video

    path = make_video(folder / "street.mp4", frames=FRAMES, size=(WIDTH, HEIGHT), patterned=False, crf=18)
    stored: dict[int, bytes] = {}
    kind = sniff_video(path.read_bytes()[:4096])
    assert kind is not None  # noqa: S101 - made just above
    limits = probe.VideoLimits(max_bytes=1 << 32, max_duration_s=3600, max_width=4096, max_height=4096)
    probe.probe_video(path, kind, limits=limits, on_chunk=lambda number, body: stored.__setitem__(number, body))
    return path, [jpeg for number in sorted(stored) for jpeg in chunks.unpack(stored[number])]


def _coco(file: ExportFile, every_n_frames: int | None) -> tuple[bytes, float]:
    context = ExportContext(["car"], "bench", "0" * 64, "clips", "2026-01-01T00:00:00+00:00", every_n_frames)
    fmt = format_named("coco")
    started = time.perf_counter()
    page = fmt.render_page([file], context)
    document = b"".join(assemble(fmt, context, 1, lambda fragment, _: page[fragment]))
    return document, time.perf_counter() - started


def _mb(size: int) -> str:
    return f"{size / 1e6:.2f} MB"


def _times(size: int, source: int) -> str:
    return f"{size / source:.2f}x the source"


def run() -> list[tuple[str, str, str]]:
    tracks = _tracks()
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        source, jpegs = _clip(Path(folder))
        made = time.perf_counter() - started
        source_size = source.stat().st_size
    file = ExportFile(
        index=0, file_id="f" * 32, name="street.mp4", width=WIDTH, height=HEIGHT, content_hash="", annotation_version=1,
        media_uri="s3://bench/street.mp4", instances=tracks, media_type="video", frame_count=FRAMES, fps=FPS,
    )  # fmt: skip
    rows = [
        ("video export: source clip (640x360, 30 fps, 60 s, H.264)", _mb(source_size), f"made+probed in {made:.0f} s"),
        ("  its stored frame JPEGs, all 1,800", _mb(sum(map(len, jpegs))), _times(sum(map(len, jpegs)), source_size)),
    ]
    for every, label in ((10, "COCO, every 10th frame"), (None, "COCO, annotated frames")):
        document, took = _coco(file, every)
        frames = exported_frames(file, every)
        total = len(document) + sum(len(jpegs[f]) for f in frames)
        rows.append((f"  {label}: {len(frames)} frames, JSON + JPEGs", _mb(total), _times(total, source_size)))
        rows.append((f"    of which annotations.json ({TRACKS} tracks)", _mb(len(document)), f"{took * 1000:.0f} ms"))
    started = time.perf_counter()
    xml = write_cvat_video(CvatVideo("street.mp4", WIDTH, HEIGHT, FRAMES, ["car"], tracks))
    took = time.perf_counter() - started
    note = f"{_times(len(xml), source_size)}, {took:.2f} s"
    rows.append(("  CVAT for video XML, every frame of every track", _mb(len(xml)), note))
    return rows


if __name__ == "__main__":
    for name, value, note in run():
        print(f"{name:60} {value:>10}  {note}")
