"""What one frame of a video shows: its tracks' shapes (keyframed or interpolated), its frame tags, and the
whole-video tags."""

from __future__ import annotations

from typing import Any

from annolake_service.domain.video.interpolation import shape_at

_TRACK_CARRIED = ("name", "track_id", "source", "model_name", "score")


def frame_instances(instances: list[dict[str, Any]], frame: int) -> list[dict[str, Any]]:
    """The stored instances of a video as they apply to ``frame``, in their order.

    A visible track becomes a shape instance (``type`` is the track's shape) with ``track_id``, the track's
    instance id as ``track_instance_id``, ``keyframe``/``interpolated``/``occluded`` and its attributes on that
    frame; a frame tag is listed on the frames it covers; ``tag`` and ``global`` on every frame."""
    shown: list[dict[str, Any]] = []
    for inst in instances:
        kind = inst["type"]
        if kind == "track":
            state = shape_at(inst, frame)
            if state is None:
                continue
            state.pop("frame")
            state.pop("outside")
            carried = {k: inst[k] for k in _TRACK_CARRIED if k in inst}
            shown.append({"type": inst["shape"], **carried, "track_instance_id": inst.get("id"), **state})
        elif kind == "frame_tag":
            end = inst.get("frame_end")
            if inst["frame_start"] <= frame <= (inst["frame_start"] if end is None else end):
                shown.append(inst)
        else:
            shown.append(inst)
    return shown
