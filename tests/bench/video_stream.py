"""Frames of videos streamed into ``DataLoader(num_workers=2)``: ``to_pytorch(frames=True, streaming=True)``.
Run: ``PYTHONPATH=sdk python -m tests.bench.video_stream``.

``ANNOLAKE_BENCH_VIDEO_CLIPS`` videos (4) of about ``ANNOLAKE_BENCH_VIDEO_FRAMES`` frames (300, 299, ...: the
lengths differ so the contents, hence the file ids, do), 640x360 with a
textured scene panning (camera-like JPEG sizes), made with PyAV, ingested by the ingest steps and given a box
track each, served by the real API (uvicorn, in this process) over moto (in this process too, so the figure
counts the emulator's time as well as the client's). Frames per second over one epoch, decoded (C×H×W uint8
tensors) and bytes-only, batches of 32.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO / "functions"), str(REPO / "sdk")]

CLIPS = int(os.environ.get("ANNOLAKE_BENCH_VIDEO_CLIPS", "4"))
FRAMES = int(os.environ.get("ANNOLAKE_BENCH_VIDEO_FRAMES", "300"))
SIZE = (640, 360)


def _seed(project_id: str) -> list[str]:
    from annolake_service.services import annotations, schema

    from tests.support.video_fixtures import make_video
    from tests.support.video_slice import END, START, ingest_video

    schema.add_labels(project_id, ["car"])
    ids = []
    with tempfile.TemporaryDirectory() as folder:
        for number in range(CLIPS):
            path = make_video(
                Path(folder) / f"bench-{number}.mp4", frames=FRAMES - number, size=SIZE, patterned=False, crf=23
            )
            file_id = ingest_video(project_id, "clips", path)
            keys = [
                {"frame": f, **dict(zip(("x_min", "y_min", "x_max", "y_max"), b, strict=True))}
                for f, b in ((0, START), (FRAMES - number - 1, END))
            ]
            track = {"type": "track", "name": "car", "track_id": number, "shape": "box", "keyframes": keys}
            annotations.save_annotations(project_id, file_id, expected_version=0, instance_list=[track], author="b")
            ids.append(file_id)
    return ids


def _epoch(stack, *, decode: bool) -> tuple[int, float, float]:  # noqa: ANN001
    from annolake.slices import Slice
    from annolake.torch_data import SliceLoader

    dataset = Slice(stack.project(), "clips").to_pytorch(frames=True, streaming=True, decode=decode)
    loader = SliceLoader(dataset, batch_size=32, num_workers=2)
    started = time.perf_counter()
    first = None
    frames = 0
    for batch in loader:
        first = first or time.perf_counter() - started
        frames += len(batch["index"])
    return frames, time.perf_counter() - started, first or 0.0


def main() -> None:
    from tests.conftest import moto_wsgi_app, serving
    from tests.sdk.api_stack import api_stack

    started = time.perf_counter()
    with api_stack(serving, moto_wsgi_app, "vbench", _seed) as stack:
        print(f"seeded {CLIPS} videos x {FRAMES} frames {SIZE[0]}x{SIZE[1]} in {time.perf_counter() - started:.1f} s")
        for decode in (True, False):
            frames, seconds, first = _epoch(stack, decode=decode)
            kind = "decoded" if decode else "bytes-only"
            print(
                f"{kind:>10}: {frames} frames in {seconds:.2f} s = {frames / seconds:,.0f} frames/s "
                f"into DataLoader(num_workers=2); first batch after {first:.2f} s"
            )


if __name__ == "__main__":
    main()
