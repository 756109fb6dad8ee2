"""A video's frames as the images of the image formats (COCO, YOLO).

Which frames: by default the annotated ones, those where some track has a keyframe that is not ``outside`` (a
frame someone drew on); with ``every_n_frames=N``, frames 0, N, 2N, ... whatever they hold. Each frame is named
``<video stem>/<frame:06d>.jpg`` (the JPEG stored at ingest, fetched as it is by the SDK) and carries every
track visible on it, interpolated between keyframes as ``interpolation`` decides, as an image shape.
"""

from __future__ import annotations

from typing import Any

from annolake_service.domain.exports.base import ExportFile
from annolake_service.domain.video.frames import frame_instances

#: COCO image ids of frames: ``(snapshot position + 1) * FRAME_IMAGE_IDS + frame``, above the ids of images
#: (positions from 1) in any snapshot of fewer files.
FRAME_IMAGE_IDS = 10_000_000
_SHAPES = frozenset({"box", "polygon", "point"})
MAX_EVERY_N_FRAMES = 100_000


def frame_options(given: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Splits an image format's options into the frame option (``every_n_frames``, checked; left out when None)
    and the rest; ValueError naming the problem."""
    rest = {k: v for k, v in given.items() if k != "every_n_frames"}
    every = given.get("every_n_frames")
    if every is None:
        return {}, rest
    if isinstance(every, bool) or not isinstance(every, int) or not 1 <= every <= MAX_EVERY_N_FRAMES:
        raise ValueError(
            f"every_n_frames is a whole number of frames from 1 to {MAX_EVERY_N_FRAMES} (1: every frame), "
            f"not {every!r}; leave it out to export a video's annotated frames"
        )
    return {"every_n_frames": every}, rest


def frames_only(given: dict[str, Any]) -> dict[str, Any]:
    """The options of an image format that takes only the frame option."""
    frames, rest = frame_options(given)
    if rest:
        raise ValueError(f"takes only every_n_frames; got {sorted(rest)}")
    return frames


def exported_frames(file: ExportFile, every_n_frames: int | None) -> list[int]:
    """The frames of a video an image export holds, in order."""
    count = file.frame_count or 0
    if every_n_frames:
        return list(range(0, count, every_n_frames))
    drawn = {
        key["frame"]
        for instance in file.instances
        if instance.get("type") == "track"
        for key in instance.get("keyframes", [])
        if not key.get("outside")
    }
    return sorted(frame for frame in drawn if frame < count)


def frame_name(file: ExportFile, frame: int) -> str:
    return f"{file.stem}/{frame:06d}.jpg"


def frame_shapes(file: ExportFile, frame: int) -> list[dict[str, Any]]:
    """The tracks visible on ``frame`` as image shapes (``type`` the track's shape), interpolated or not."""
    return [shown for shown in frame_instances(file.instances, frame) if shown["type"] in _SHAPES]
