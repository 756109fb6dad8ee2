"""Video segments: a long video's frames split among annotators, and one segment's work merged into the file.

A job with ``video_segment={"frames": N, "overlap": K}`` gives a video one annotate task per segment: runs of
``N`` frames, each starting ``N - K`` frames after the one before, the last ending on the video's last frame.
The overlap shows an annotator the frames the neighbouring segment also covers, so a track carried across the
boundary continues rather than restarting.

A segment task shows the file's tracks that appear in the segment (a keyframe in it, or visible when it
starts), each with its keyframes in the segment and the nearest one on either side (context: where the object
comes from and goes to), and the frame tags over the segment, clipped to it. Saving merges by the segment's
frames: keyframes inside them come from the submission, every other keyframe from the file, so annotators of
different segments never undo one another. Tracks are matched by their instance's ``root_id`` (or ``id``); a
new track whose ``track_id`` another segment took meanwhile gets the next free one.

A save from an older version is rebased onto the newest when nobody changed a keyframe or frame tag in the
segment's frames since that version (``changed_since``); otherwise it is a real conflict.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field, model_validator

from annolake_service.domain.annotations import content_of

MAX_SEGMENTS = 1000  # tasks per video: more would overrun one workflow execution's history
_WHOLE_VIDEO = frozenset({"tag", "global"})


class VideoSegmenting(BaseModel):
    """How a job splits each video into annotate tasks."""

    frames: int = Field(ge=2, le=1_000_000, description="frames per segment task")
    overlap: int = Field(default=0, ge=0, description="frames a segment shares with the next one")

    @model_validator(mode="after")
    def _overlap_below_frames(self) -> VideoSegmenting:
        if self.overlap >= self.frames:
            raise ValueError(
                f"video_segment overlap {self.overlap} must be less than its frames {self.frames}: "
                "consecutive segments would not advance"
            )
        return self


class SegmentError(ValueError):
    """A segment submission that cannot be merged; the message names the problem and the fix."""


@dataclass(frozen=True)
class Segment:
    start: int  # first frame, inclusive
    end: int  # last frame, inclusive

    def holds(self, frame: int) -> bool:
        return self.start <= frame <= self.end

    def __str__(self) -> str:
        return f"frames {self.start}..{self.end}"


def plan(frame_count: int, segmenting: VideoSegmenting) -> list[Segment]:
    """The segments of a video of ``frame_count`` frames (one segment when it is no longer than one)."""
    last = max(frame_count - 1, 0)
    step = segmenting.frames - segmenting.overlap
    count = 1 if last < segmenting.frames else 1 + -(-(last + 1 - segmenting.frames) // step)
    if count > MAX_SEGMENTS:
        raise SegmentError(
            f"a video of {frame_count} frames makes {count} segments of {segmenting.frames} frames "
            f"(overlap {segmenting.overlap}); a video takes at most {MAX_SEGMENTS}: use longer segments"
        )
    return [Segment(i * step, min(i * step + segmenting.frames - 1, last)) for i in range(count)]


# --- what a segment shows -------------------------------------------------------------------


def _touches(track: dict[str, Any], segment: Segment) -> bool:
    """A keyframe in the segment, or visible on its first frame (entering it from an earlier keyframe)."""
    keyframes = track["keyframes"]
    if any(segment.holds(k["frame"]) for k in keyframes):
        return True
    before = [k for k in keyframes if k["frame"] < segment.start]
    return bool(before) and not before[-1].get("outside", False)


def _context(keyframes: list[dict[str, Any]], segment: Segment) -> list[dict[str, Any]]:
    """The keyframes in the segment with the nearest one before and after it."""
    before = [k for k in keyframes if k["frame"] < segment.start][-1:]
    after = [k for k in keyframes if k["frame"] > segment.end][:1]
    return [*before, *(k for k in keyframes if segment.holds(k["frame"])), *after]


def _clipped(tag: dict[str, Any], segment: Segment) -> dict[str, Any] | None:
    start = tag["frame_start"]
    end = tag.get("frame_end", start)
    if end < segment.start or start > segment.end:
        return None
    return {**tag, "frame_start": max(start, segment.start), "frame_end": min(end, segment.end)}


def view(instances: list[dict[str, Any]], segment: Segment) -> list[dict[str, Any]]:
    """The instances a segment task shows (tracks with context keyframes, frame tags clipped to it)."""
    shown: list[dict[str, Any]] = []
    for instance in instances:
        if instance["type"] == "track" and _touches(instance, segment):
            shown.append({**instance, "keyframes": _context(instance["keyframes"], segment)})
        elif instance["type"] == "frame_tag" and (clipped := _clipped(instance, segment)) is not None:
            shown.append(clipped)
    return shown


def _range_content(instances: list[dict[str, Any]], segment: Segment) -> list[Any]:
    """What decides a conflict: the fields and in-segment keyframes of each track with a keyframe in the
    segment, and the frame tags' clipped spans, in a stable order. A track merely held or interpolated into
    the segment from outside it is not the segment's: another segment's annotator drew it there."""
    content: list[Any] = []
    for instance in instances:
        if instance["type"] == "track" and any(segment.holds(k["frame"]) for k in instance["keyframes"]):
            own = content_of(instance)
            own["keyframes"] = [k for k in instance["keyframes"] if segment.holds(k["frame"])]
            content.append(("track", instance.get("root_id"), own))
        elif instance["type"] == "frame_tag" and (clipped := _clipped(instance, segment)) is not None:
            content.append(("frame_tag", None, content_of(clipped)))
    return sorted(content, key=repr)


def changed_since(base: list[dict[str, Any]], current: list[dict[str, Any]], segment: Segment) -> bool:
    """Whether someone changed what the segment holds between the ``base`` and ``current`` instance lists."""
    return _range_content(base, segment) != _range_content(current, segment)


# --- merging a segment's work ---------------------------------------------------------------


def _root_of(instance: dict[str, Any], roots_by_id: dict[str, str]) -> str | None:
    """The file instance a submitted one continues: its ``root_id``, or the root of its ``id``."""
    if instance.get("root_id"):
        return str(instance["root_id"])
    if instance.get("id"):
        return roots_by_id.get(str(instance["id"]), str(instance["id"]))
    return None


def merge(current: list[dict[str, Any]], submitted: list[dict[str, Any]], segment: Segment) -> list[dict[str, Any]]:
    """The file's next instance list: ``current`` with the segment's frames as ``submitted`` has them.

    Instances of the file keep their ``id`` (the save versions what changed); the ones the merge makes new
    have none. Raises ``SegmentError`` for whole-video instances and tracks the file no longer has."""
    whole = sorted({str(i.get("type")) for i in submitted if i.get("type") in _WHOLE_VIDEO})
    if whole:
        raise SegmentError(
            f"a segment task saves tracks and frame tags; {whole} label the whole video: "
            "save those on the file (PUT /files/{id}/annotations) or in a task over the whole video"
        )
    tracks = {str(i["root_id"]): i for i in current if i["type"] == "track"}
    roots_by_id = {str(i["id"]): str(i["root_id"]) for i in current if "id" in i and "root_id" in i}
    submitted_tracks: dict[str, dict[str, Any]] = {}
    new_tracks: list[dict[str, Any]] = []
    for instance in (i for i in submitted if i.get("type") == "track"):
        root = _root_of(instance, roots_by_id)
        if root is None:
            new_tracks.append(instance)
        elif root not in tracks:
            raise SegmentError(
                f"track {instance.get('track_id')} (instance {root}) is no longer on the file: another save "
                "removed it; reload the task and apply your edits again"
            )
        else:
            submitted_tracks[root] = instance

    merged: list[dict[str, Any]] = []
    for instance in current:
        if instance["type"] == "frame_tag":
            continue  # rebuilt below
        if instance["type"] != "track":
            merged.append(instance)
            continue
        mine = submitted_tracks.get(str(instance["root_id"]))
        outside = [k for k in instance["keyframes"] if not segment.holds(k["frame"])]
        if mine is None and not _touches(instance, segment):
            merged.append(instance)
            continue
        inside = [k for k in (mine or {}).get("keyframes", []) if segment.holds(k["frame"])]
        keyframes = sorted([*outside, *inside], key=lambda k: k["frame"])
        if not keyframes:
            continue  # removed from its only segment
        fields = {k: v for k, v in (mine or instance).items() if k not in ("keyframes", "track_id")}
        merged.append({**fields, "id": instance["id"], "track_id": instance["track_id"], "keyframes": keyframes})

    taken = {t["track_id"] for t in merged if t["type"] == "track"}
    for track in new_tracks:
        inside = [k for k in track.get("keyframes", []) if segment.holds(k["frame"])]
        if not inside:
            raise SegmentError(
                f"new track {track.get('track_id')} has no keyframe in this task's {segment}: draw it there, "
                "or leave it to the task of the frames it is on"
            )
        track_id = track.get("track_id")
        if not isinstance(track_id, int) or track_id in taken:
            track_id = max(taken, default=-1) + 1  # another segment took the number meanwhile
        taken.add(track_id)
        merged.append({**content_of(track), "track_id": track_id, "keyframes": inside})
    return merged + _merged_frame_tags(current, submitted, segment)


def _merged_frame_tags(
    current: list[dict[str, Any]], submitted: list[dict[str, Any]], segment: Segment
) -> list[dict[str, Any]]:
    """The file's frame tags outside the segment, the submission's inside it, joined where they meet."""
    existing = [i for i in current if i["type"] == "frame_tag"]
    pieces: list[dict[str, Any]] = []
    for tag in existing:
        start, end = tag["frame_start"], tag.get("frame_end", tag["frame_start"])
        if start < segment.start:
            pieces.append({**content_of(tag), "frame_start": start, "frame_end": min(end, segment.start - 1)})
        if end > segment.end:
            pieces.append({**content_of(tag), "frame_start": max(start, segment.end + 1), "frame_end": end})
    for tag in (i for i in submitted if i.get("type") == "frame_tag"):
        if (clipped := _clipped(tag, segment)) is not None:
            pieces.append(content_of(clipped))
    joined: list[dict[str, Any]] = []
    for piece in sorted(pieces, key=lambda p: (_same_kind(p), p["frame_start"])):
        last = joined[-1] if joined else None
        if last is not None and _same_kind(last) == _same_kind(piece) and piece["frame_start"] <= last["frame_end"] + 1:
            last["frame_end"] = max(last["frame_end"], piece["frame_end"])
        else:
            joined.append(dict(piece))
    by_content = {_canonical(_normal(content_of(t))): t for t in existing}
    return [by_content.get(_canonical(_normal(t)), t) for t in joined]


def _normal(tag: dict[str, Any]) -> dict[str, Any]:
    return {**tag, "frame_end": tag.get("frame_end", tag["frame_start"])}


def _same_kind(tag: dict[str, Any]) -> str:
    """Frame tags that join when they meet: the same label and attributes (values alike, in any key order)."""
    return _canonical({k: v for k, v in tag.items() if k not in ("frame_start", "frame_end")})


def _canonical(content: dict[str, Any]) -> str:
    """A tag's content as text that two equal dicts share whatever their keys' order (an editor that set the
    attributes in another order has not changed them)."""
    return json.dumps(content, sort_keys=True, default=str)
