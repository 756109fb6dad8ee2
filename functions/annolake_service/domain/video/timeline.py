"""Frame index <-> timestamp: the one place that converts between them.

A video's frames are numbered 0..n-1 in presentation order. Their presentation timestamps are kept exactly, as
integers in the stream's time base (a fraction of a second), so variable frame rates and a non-zero start
round-trip: ``index_at(timeline, timeline.seconds(n)) == n`` for every frame.
"""

from __future__ import annotations

import bisect
import json
from dataclasses import dataclass
from fractions import Fraction


class FrameOutOfRange(LookupError):
    pass


@dataclass(frozen=True)
class Timeline:
    time_base: Fraction  # seconds per pts tick
    pts: tuple[int, ...]  # each frame's presentation timestamp, strictly increasing

    def __post_init__(self) -> None:
        if not self.pts:
            raise ValueError("a timeline has at least one frame")
        if any(b <= a for a, b in zip(self.pts, self.pts[1:], strict=False)):
            raise ValueError("frame timestamps must be strictly increasing")

    @property
    def frame_count(self) -> int:
        return len(self.pts)

    @property
    def start_s(self) -> float:
        """The first frame's time from the container's zero (non-zero for clips cut from a longer stream)."""
        return float(self.pts[0] * self.time_base)

    @property
    def duration_s(self) -> float:
        """First frame to the end of the last (the last frame lasts the average frame interval)."""
        return float(self.frame_count * self.average_interval)

    @property
    def average_interval(self) -> Fraction:
        if self.frame_count == 1:
            return Fraction(0)
        return (self.pts[-1] - self.pts[0]) * self.time_base / (self.frame_count - 1)

    @property
    def fps(self) -> float:
        """Average frames per second; 0 for a single frame (no rate to speak of)."""
        interval = self.average_interval
        return float(1 / interval) if interval else 0.0

    def check(self, frame: int) -> int:
        if not 0 <= frame < self.frame_count:
            raise FrameOutOfRange(f"frame {frame} does not exist: the video has frames 0 to {self.frame_count - 1}")
        return frame

    def seconds(self, frame: int) -> float:
        """Frame ``frame``'s presentation time in seconds from the container's zero."""
        return float(self.pts[self.check(frame)] * self.time_base)

    def index_at(self, seconds: float) -> int:
        """The frame shown at ``seconds``: the last one presented at or before it (the first, before the start).

        The float is compared with half a tick of slack, so a time read from ``seconds()`` finds its own frame."""
        tick = Fraction(seconds) / self.time_base
        position = bisect.bisect_right(self.pts, tick + Fraction(1, 2))
        return max(position - 1, 0)

    def to_json(self) -> bytes:
        """The stored form (the object at ``VideoFacts.timestamps_key``): exact integers plus the time base."""
        body = {
            "time_base": [self.time_base.numerator, self.time_base.denominator],
            "pts": list(self.pts),
            "seconds": [float(p * self.time_base) for p in self.pts],
        }
        return json.dumps(body, separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, data: bytes) -> Timeline:
        body = json.loads(data)
        numerator, denominator = body["time_base"]
        return cls(time_base=Fraction(numerator, denominator), pts=tuple(body["pts"]))
