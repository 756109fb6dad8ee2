"""Video tracks: validation that names the problem and the fix, and interpolation between keyframes (the
properties hypothesis checks, and the golden cases a port of the interpolation is checked against)."""

from __future__ import annotations

import json
import pathlib

import pytest
from annolake_service.domain.instances import InvalidInstances, attribute_values, label_counts, parse_instance_list
from annolake_service.domain.video.frames import frame_instances
from annolake_service.domain.video.interpolation import densify, shape_at, state_at
from hypothesis import given, settings
from hypothesis import strategies as st

GOLDEN = pathlib.Path(__file__).parents[1] / "golden" / "video_interpolation.json"
BOX = ("x_min", "y_min", "x_max", "y_max")


def box_key(frame: int, x0: float, y0: float, x1: float, y1: float, **more) -> dict:
    return {"frame": frame, "x_min": x0, "y_min": y0, "x_max": x1, "y_max": y1, **more}


def track(keyframes: list[dict], shape: str = "box", track_id: int = 1, name: str = "person") -> dict:
    return {"type": "track", "name": name, "track_id": track_id, "shape": shape, "keyframes": keyframes}


def video(instances: list[dict], frame_count: int = 300) -> list:
    return parse_instance_list(instances, width=640, height=480, frame_count=frame_count)


# --- validation ---------------------------------------------------------------------------------------------


def test_a_track_may_say_its_shape_on_each_keyframe_as_the_sdk_documents():
    keyframes = [
        {"frame": 0, "type": "box", "x_min": 1, "y_min": 1, "x_max": 5, "y_max": 5, "outside": False},
        {"frame": 10, "type": "box", "x_min": 3, "y_min": 3, "x_max": 9, "y_max": 9, "occluded": True},
    ]
    (parsed,) = video([{"type": "track", "name": "person", "track_id": 1, "keyframes": keyframes}])
    assert parsed.shape == "box" and [k.type for k in parsed.keyframes] == ["box", "box"]
    (shaped,) = video([track([box_key(0, 1, 1, 5, 5)])])
    assert [k.type for k in shaped.keyframes] == ["box"]  # stored on every keyframe either way
    mixed = [keyframes[0], {"frame": 4, "type": "point", "points": [{"x": 1, "y": 1}]}]
    with pytest.raises(InvalidInstances, match="a track keeps one shape"):
        video([{"type": "track", "name": "person", "track_id": 1, "keyframes": mixed}])
    with pytest.raises(InvalidInstances, match="say what is drawn"):
        video([{"type": "track", "name": "person", "track_id": 1, "keyframes": [box_key(0, 1, 1, 5, 5)]}])


def test_a_track_counts_once_for_its_label_and_its_frame_attributes_are_queryable():
    person = track([box_key(0, 1, 1, 5, 5), box_key(250, 1, 1, 5, 5, attributes={"pose": "sitting"})])
    person["attributes"] = {"age": "adult"}
    parsed = video(
        [
            person,
            track([box_key(900 - 700, 0, 0, 2, 2)], track_id=2, name="car"),
            {"type": "frame_tag", "name": "blurry", "frame_start": 3, "frame_end": 9},
            {"type": "tag", "name": "outdoor"},
        ]
    )
    assert label_counts(parsed) == {"person": 1, "car": 1, "blurry": 1, "outdoor": 1}
    assert attribute_values(parsed) == {"age": ["adult"], "pose": ["sitting"]}


@pytest.mark.parametrize(
    "instances, frame_count, problem",
    [
        (
            [track([box_key(0, 1, 1, 5, 5), box_key(300, 1, 1, 5, 5)])],
            300,
            r"frames \[300\] are past the video's last frame 299.*move them to frames 0\.\.299",
        ),
        ([track([box_key(10, 1, 1, 5, 5), box_key(5, 1, 1, 5, 5)])], 300, "strictly increasing; sort the keyframes"),
        ([track([box_key(5, 1, 1, 5, 5), box_key(5, 1, 1, 5, 5)])], 300, "keep one per frame"),
        ([track([box_key(0, 9, 1, 5, 5)])], 300, "x_min <= x_max"),
        ([track([{"frame": 0, "x_min": 1, "y_min": 1}])], 300, r"needs \['x_max', 'y_max'\]"),
        ([track([box_key(0, 1, 1, 5, 900)])], 300, "outside the 640x480 image"),
        (
            [track([{"frame": 0, "points": [{"x": 1, "y": 1}, {"x": 2, "y": 2}]}], shape="polygon")],
            300,
            "at least 3 points",
        ),
        (
            [
                track(
                    [
                        {"frame": 0, "points": [{"x": 1, "y": 1}]},
                        {"frame": 4, "points": [{"x": 1, "y": 1}, {"x": 2, "y": 2}]},
                    ],
                    shape="point",
                )
            ],
            300,
            "every keyframe of a point track needs the same number",
        ),
        (
            [track([box_key(0, 1, 1, 5, 5)]), track([box_key(0, 1, 1, 5, 5)])],
            300,
            r"track ids \[1\] are used by several tracks",
        ),
        ([{"type": "box", "name": "car", "x_min": 1, "y_min": 1, "x_max": 5, "y_max": 5}], 300, "put it in a track"),
        ([{"type": "frame_tag", "name": "blurry", "frame_start": 9, "frame_end": 3}], 300, "frame_start <= frame_end"),
        (
            [{"type": "frame_tag", "name": "blurry", "frame_start": 9, "frame_end": 300}],
            300,
            "past the video's last frame",
        ),
        ([track([{**box_key(0, 1, 1, 5, 5), "visible": True}])], 300, "visible"),
    ],
)
def test_invalid_tracks_name_the_problem_and_the_fix(instances, frame_count, problem):
    with pytest.raises(InvalidInstances, match=problem):
        video(instances, frame_count)


def test_tracks_are_refused_on_an_image():
    with pytest.raises(InvalidInstances, match="belong on videos; this file is an image"):
        parse_instance_list([track([box_key(0, 1, 1, 5, 5)])], width=640, height=480)


# --- interpolation ------------------------------------------------------------------------------------------


def test_keyframes_on_0_and_100_give_the_expected_box_on_every_frame_between():
    start, end = (10.0, 20.0, 50.0, 80.0), (110.0, 40.0, 170.0, 120.0)
    stored = video([track([box_key(0, *start), box_key(100, *end)])])[0].model_dump()
    for frame in range(101):
        shape = shape_at(stored, frame)
        expected = [a + (b - a) * frame / 100 for a, b in zip(start, end, strict=True)]
        assert [shape[k] for k in BOX] == pytest.approx(expected, abs=1e-9), frame
        assert shape["keyframe"] is (frame in (0, 100)) and shape["interpolated"] is (frame not in (0, 100))
    assert [shape_at(stored, 250)[k] for k in BOX] == list(end)  # held after the last keyframe


@st.composite
def box_tracks(draw):
    frames = sorted(draw(st.sets(st.integers(0, 200), min_size=1, max_size=6)))
    keys = []
    for frame in frames:
        x0, x1 = sorted(draw(st.lists(st.floats(0, 640, allow_nan=False), min_size=2, max_size=2)))
        y0, y1 = sorted(draw(st.lists(st.floats(0, 480, allow_nan=False), min_size=2, max_size=2)))
        keys.append(box_key(frame, x0, y0, x1, y1, outside=draw(st.booleans()), occluded=draw(st.booleans())))
    return track(keys)


@settings(max_examples=150, deadline=None)
@given(box_tracks())
def test_box_interpolation_is_exact_at_keyframes_bounded_between_and_absent_where_outside(raw):
    stored = video([raw], frame_count=240)[0].model_dump()
    keys = stored["keyframes"]
    by_frame = {k["frame"]: k for k in keys}
    for frame in range(240):
        state = state_at(stored, frame)
        before = [k for k in keys if k["frame"] <= frame]
        if not before:
            assert state is None
            continue
        a = before[-1]
        if frame in by_frame:
            assert state["keyframe"] and state["outside"] == a["outside"]
            assert [state[k] for k in BOX] == [a[k] for k in BOX]  # exact at keyframes
            continue
        if a["outside"]:
            assert state is None and shape_at(stored, frame) is None
            continue
        after = [k for k in keys if k["frame"] > frame]
        b = after[0] if after and not after[0]["outside"] else a
        assert state["interpolated"] and state["occluded"] == a["occluded"]
        for k in BOX:
            assert min(a[k], b[k]) - 1e-9 <= state[k] <= max(a[k], b[k]) + 1e-9
        assert state["x_min"] <= state["x_max"] + 1e-9 and state["y_min"] <= state["y_max"] + 1e-9


rings = st.lists(
    st.tuples(st.floats(0, 640, allow_nan=False), st.floats(0, 480, allow_nan=False)), min_size=3, max_size=12
).map(lambda pts: [{"x": x, "y": y} for x, y in pts])


@settings(max_examples=150, deadline=None)
@given(rings, st.integers(0, 20))
def test_densify_keeps_every_vertex_in_order_and_adds_points_on_the_edges(ring, extra):
    dense = densify(ring, len(ring) + extra)
    assert len(dense) == len(ring) + extra
    kept = iter(dense)
    assert all(any(p == (q["x"], q["y"]) for q in kept) for p in ((v["x"], v["y"]) for v in ring))
    xs, ys = [p["x"] for p in ring], [p["y"] for p in ring]
    assert all(min(xs) - 1e-9 <= p["x"] <= max(xs) + 1e-9 and min(ys) - 1e-9 <= p["y"] <= max(ys) + 1e-9 for p in dense)


@settings(max_examples=150, deadline=None)
@given(rings, rings, st.integers(1, 30))
def test_polygons_of_any_point_counts_interpolate_within_both_keyframes_bounds(first, second, gap):
    stored = video([track([{"frame": 0, "points": first}, {"frame": gap, "points": second}], shape="polygon")])
    polygon = stored[0].model_dump()
    assert shape_at(polygon, 0)["points"] == polygon["keyframes"][0]["points"]
    assert shape_at(polygon, gap)["points"] == polygon["keyframes"][1]["points"]
    everything = first + second
    xs, ys = [p["x"] for p in everything], [p["y"] for p in everything]
    for frame in range(1, gap):
        points = shape_at(polygon, frame)["points"]
        assert len(points) == max(len(first), len(second))
        assert all(
            min(xs) - 1e-9 <= p["x"] <= max(xs) + 1e-9 and min(ys) - 1e-9 <= p["y"] <= max(ys) + 1e-9 for p in points
        )


def test_the_golden_cases_a_port_is_checked_against_hold():
    golden = json.loads(GOLDEN.read_text())
    for case in golden["state_at"]:
        video([case["track"]], frame_count=case["frame_count"])  # each golden track is valid
        for expected in case["frames"]:
            assert _close(state_at(case["track"], expected["frame"]), expected["state"]), (case["name"], expected)
    for case in golden["densify"]:
        assert _close(densify(case["points"], case["count"]), case["expected"])
    # one by hand: the square gets its fifth point halfway along its first edge, then meets the pentagon halfway
    square = golden["state_at"][2]
    assert state_at(square["track"], 5)["points"] == [
        {"x": 0, "y": 0},
        {"x": 12.5, "y": 0},
        {"x": 15, "y": 10},
        {"x": 10, "y": 20},
        {"x": 0, "y": 15},
    ]


def _close(got, expected) -> bool:
    if isinstance(expected, dict):
        return (
            isinstance(got, dict)
            and got.keys() == expected.keys()
            and all(_close(got[k], v) for k, v in expected.items())
        )
    if isinstance(expected, list):
        return isinstance(got, list) and len(got) == len(expected) and all(map(_close, got, expected))
    if isinstance(expected, float | int) and not isinstance(expected, bool):
        return abs(got - expected) <= 1e-9
    return got == expected


def test_a_frame_shows_visible_tracks_its_frame_tags_and_the_whole_video_tags():
    instances = [
        {**track([box_key(0, 0, 0, 10, 10), box_key(10, 10, 0, 20, 10, outside=True)]), "id": "in_a"},
        {**track([box_key(5, 0, 0, 4, 4)], track_id=2, name="car"), "id": "in_b"},
        {"type": "frame_tag", "name": "blurry", "frame_start": 3, "frame_end": 4, "id": "in_c"},
        {"type": "tag", "name": "outdoor", "id": "in_d"},
    ]
    on_4 = frame_instances(instances, 4)
    assert [(i["type"], i["name"]) for i in on_4] == [("box", "person"), ("frame_tag", "blurry"), ("tag", "outdoor")]
    held = on_4[0]  # the next keyframe is outside: the shape holds, it does not slide towards it
    assert held["track_instance_id"] == "in_a" and held["x_min"] == 0 and held["interpolated"]
    on_12 = frame_instances(instances, 12)
    assert [(i["type"], i.get("track_id")) for i in on_12] == [("box", 2), ("tag", None)]
