"""In how many frames of a video each label shows: the ``frames.<label>`` query field.

A track of the label is visible from a keyframe that is not ``outside`` up to the frame before the next
keyframe, and after its last keyframe to the video's end (the shape is held), as ``interpolation.shape_at``
decides frame by frame; a frame tag covers ``frame_start..frame_end``. A label's count is the number of frames
where at least one of its tracks or frame tags is (two people on one frame count that frame once). Worked out
from the keyframes' spans, not frame by frame, so a long video costs what its keyframes cost.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def _track_spans(keyframes: list[Any], frame_count: int) -> Iterable[tuple[int, int]]:
    for index, key in enumerate(keyframes):
        if key.outside:
            continue
        end = keyframes[index + 1].frame - 1 if index + 1 < len(keyframes) else frame_count - 1
        if end >= key.frame:
            yield key.frame, min(end, frame_count - 1)


def _covered(spans: list[tuple[int, int]]) -> int:
    """Frames in the union of inclusive spans."""
    total, reach = 0, -1
    for start, end in sorted(spans):
        if end > reach:
            total += end - max(start, reach + 1) + 1
            reach = end
    return total


def frame_counts(instances: Iterable[Any], frame_count: int) -> dict[str, int]:
    """Frames per label on which the label shows (parsed instances of a video of ``frame_count`` frames);
    labels on no frame are left out."""
    spans: dict[str, list[tuple[int, int]]] = {}
    for instance in instances:
        if instance.type == "track":
            spans.setdefault(instance.name, []).extend(_track_spans(instance.keyframes, frame_count))
        elif instance.type == "frame_tag":
            spans.setdefault(instance.name, []).append(
                (instance.frame_start, min(instance.last_frame, frame_count - 1))
            )
    counted = {name: _covered(found) for name, found in spans.items()}
    return {name: count for name, count in counted.items() if count > 0}
