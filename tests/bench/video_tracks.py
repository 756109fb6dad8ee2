"""Video tracks at the length of a 10-minute clip: interpolating every frame, and the CVAT for video and MOT
outputs (size and time), as an export page renders them. Run: ``python -m tests.bench.video_tracks``.

``ANNOLAKE_BENCH_VIDEO_TRACKS`` tracks (20) of ``ANNOLAKE_BENCH_VIDEO_KEYFRAMES`` keyframes (60) each, at random
frames of an 18,000-frame video (10 minutes at 30 fps), 1920x1080."""

from __future__ import annotations

import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "functions"))

from annolake_service.domain.exports.cvat_video import CvatVideo, read_cvat_video, write_cvat_video  # noqa: E402
from annolake_service.domain.exports.mot import mot_lines  # noqa: E402
from annolake_service.domain.video.interpolation import states  # noqa: E402

FRAMES = 18_000
TRACKS = int(os.environ.get("ANNOLAKE_BENCH_VIDEO_TRACKS", "20"))
KEYFRAMES = int(os.environ.get("ANNOLAKE_BENCH_VIDEO_KEYFRAMES", "60"))


def _tracks() -> list[dict]:
    rng = random.Random(1)
    tracks = []
    for track_id in range(TRACKS):
        keys = []
        for frame in sorted(rng.sample(range(FRAMES), KEYFRAMES)):
            x, y = rng.uniform(0, 1800), rng.uniform(0, 1000)
            keys.append({"frame": frame, "x_min": x, "y_min": y, "x_max": x + 100, "y_max": y + 60})
        tracks.append({"type": "track", "name": "person", "track_id": track_id, "shape": "box", "keyframes": keys})
    return tracks


def _timed(call):  # noqa: ANN001, ANN202
    started = time.perf_counter()
    result = call()
    return result, time.perf_counter() - started


def main() -> None:
    tracks = _tracks()
    video = CvatVideo("clip.mp4", 1920, 1080, FRAMES, ["person"], tracks)
    shapes, took = _timed(lambda: sum(1 for track in tracks for _ in states(track, FRAMES)))
    print(f"interpolate: {shapes} track-frames in {took:.2f} s ({shapes / took / 1000:.0f} k/s)")
    xml, took = _timed(lambda: write_cvat_video(video))
    print(f"cvat_video XML, every frame: {len(xml) / 1e6:.1f} MB in {took:.2f} s")
    back, took = _timed(lambda: read_cvat_video(xml))
    print(f"cvat_video XML read back: {sum(len(t['keyframes']) for t in back.instances)} keyframes in {took:.2f} s")
    keyframes_only = write_cvat_video(video, keyframes_only=True)
    print(f"cvat_video XML, keyframes only: {len(keyframes_only) / 1e3:.0f} KB")
    gt, took = _timed(lambda: mot_lines(tracks, FRAMES, ["person"]))
    print(f"MOT gt.txt: {len(gt) / 1e6:.1f} MB in {took:.2f} s")


if __name__ == "__main__":
    main()
