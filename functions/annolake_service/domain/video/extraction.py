"""How a video's frame extraction is cut into segments decoded apart (one state machine Map item each).

A segment is a run of whole chunks (``chunks.CHUNK_FRAMES`` frames each), so no two segments write the same
chunk; it is decoded from the keyframe at or before its first frame (a seek), and its frames are numbered by
the timeline the probe read from the container, so each frame's index and timestamp are those of a
decode of the whole file.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from annolake_service.domain.video import chunks


@dataclass(frozen=True)
class Segment:
    number: int
    first: int  # the index of its first frame (a multiple of the chunk size)
    end: int  # one past its last frame
    seek_pts: int  # the presentation timestamp of the keyframe at or before ``first``: where decoding starts

    @property
    def chunk_numbers(self) -> range:
        return range(self.first // chunks.CHUNK_FRAMES, -(-self.end // chunks.CHUNK_FRAMES))

    def to_item(self) -> dict[str, int]:
        return asdict(self)

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> Segment:
        return cls(number=item["number"], first=item["first"], end=item["end"], seek_pts=item["seek_pts"])


def check_segment_frames(segment_frames: int) -> int:
    if segment_frames < chunks.CHUNK_FRAMES or segment_frames % chunks.CHUNK_FRAMES:
        raise ValueError(
            f"a segment is a whole number of {chunks.CHUNK_FRAMES}-frame chunks; {segment_frames} frames is not "
            f"(set VIDEO_SEGMENT_FRAMES to a multiple of {chunks.CHUNK_FRAMES})"
        )
    return segment_frames


def plan(pts: Sequence[int], keyframes: Sequence[int], segment_frames: int) -> list[Segment]:
    """The segments of a video whose frames (in presentation order) have timestamps ``pts`` and whose
    keyframes are the frames at indices ``keyframes`` (ascending). A segment before any keyframe starts
    decoding at the first frame."""
    check_segment_frames(segment_frames)
    segments: list[Segment] = []
    for number, first in enumerate(range(0, len(pts), segment_frames)):
        at = bisect.bisect_right(keyframes, first) - 1
        seek = pts[keyframes[at]] if at >= 0 else pts[0]
        segments.append(Segment(number, first, min(first + segment_frames, len(pts)), seek))
    return segments
