"""``frames.<label>``: the frames a label shows on, worked out from keyframe spans (``domain/video/visibility``),
agree with asking the interpolation frame by frame."""

from __future__ import annotations

import random

import pytest


def _random_video(rng: random.Random, frame_count: int) -> list[dict]:
    instances = []
    for track_id in range(rng.randint(0, 4)):
        frames = sorted(rng.sample(range(frame_count), rng.randint(1, min(5, frame_count))))
        keyframes = [
            {"frame": f, "x_min": 1, "y_min": 1, "x_max": 9, "y_max": 9, "outside": rng.random() < 0.3} for f in frames
        ]
        name = rng.choice(["person", "car"])
        instances.append({"type": "track", "name": name, "track_id": track_id, "shape": "box", "keyframes": keyframes})
    for _ in range(rng.randint(0, 2)):
        start = rng.randrange(frame_count)
        end = rng.choice([None, rng.randrange(start, frame_count)])
        instances.append({"type": "frame_tag", "name": rng.choice(["person", "blurry"]), "frame_start": start})
        if end is not None:
            instances[-1]["frame_end"] = end
    return instances


@pytest.mark.parametrize("seed", range(60))
def test_frame_counts_agree_with_the_shape_of_every_frame(seed):
    from annolake_service.domain.instances import parse_instance_list
    from annolake_service.domain.video.interpolation import shape_at
    from annolake_service.domain.video.visibility import frame_counts

    rng = random.Random(seed)
    frame_count = rng.randint(1, 60)
    raw = _random_video(rng, frame_count)
    expected: dict[str, int] = {}
    for name in {i["name"] for i in raw}:
        shown = 0
        for frame in range(frame_count):
            tracks = (i for i in raw if i["type"] == "track" and i["name"] == name)
            tags = (i for i in raw if i["type"] == "frame_tag" and i["name"] == name)
            tracked = any(shape_at(t, frame) is not None for t in tracks)
            tagged = any(t["frame_start"] <= frame <= t.get("frame_end", t["frame_start"]) for t in tags)
            shown += tracked or tagged
        if shown:
            expected[name] = shown
    parsed = parse_instance_list(raw, width=10, height=10, frame_count=frame_count)
    assert frame_counts(parsed, frame_count) == expected
