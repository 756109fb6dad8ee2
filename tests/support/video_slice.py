"""Videos made with PyAV, ingested through the ingest steps (ProcessMedia, then the video ingest's) and given a
keyframed box track each: a slice's worth of video for the SDK's frames mode (tests and the bench)."""

from __future__ import annotations

import tempfile
import uuid
from pathlib import Path

from tests.support.video_fixtures import make_video
from tests.support.video_steps import run_video_ingest

START, END = (4.0, 2.0, 40.0, 30.0), (80.0, 10.0, 120.0, 44.0)


def ingest_video(project_id: str, dataset: str, path: Path) -> str:
    """The file id of the video at ``path`` once the ingest steps have taken it from a drop bucket."""
    from annolake_service.adapters.aws_clients import client
    from annolake_service.services import ingest

    drop = f"drop-{uuid.uuid4().hex[:8]}"
    s3 = client("s3")
    s3.create_bucket(Bucket=drop)
    key = f"{project_id}/{dataset}/{path.name}"
    s3.put_object(Bucket=drop, Key=key, Body=path.read_bytes())
    assert ingest.process_media(drop, key)["media_type"] == "video"  # the IsVideo choice of the state machine
    return run_video_ingest(drop, key)["file"]["file_id"]


def seed_tracked_videos(
    project_id: str, dataset: str, lengths: list[int], *, size: tuple[int, int] = (128, 48)
) -> list[str]:
    """Ingest one video per length (frame ``n`` shows the number ``n`` as bars, see ``read_pattern``), each with a
    ``car`` box track keyed on its first frame and two thirds in (held after); their file ids."""
    from annolake_service.services import annotations, schema

    schema.add_labels(project_id, ["car"])
    file_ids = []
    with tempfile.TemporaryDirectory() as folder:
        for number, frames in enumerate(lengths):
            path = make_video(Path(folder) / f"clip-{number}.mp4", frames=frames, size=size)
            file_id = ingest_video(project_id, dataset, path)
            keys = [(0, START), (frames * 2 // 3, END)]
            track = {
                "type": "track",
                "name": "car",
                "track_id": 10 + number,
                "shape": "box",
                "keyframes": [
                    {"frame": f, **dict(zip(("x_min", "y_min", "x_max", "y_max"), box, strict=True))} for f, box in keys
                ],
            }
            annotations.save_annotations(project_id, file_id, expected_version=0, instance_list=[track], author="seed")
            file_ids.append(file_id)
    return file_ids
