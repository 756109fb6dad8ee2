"""Video segments (``domain/video/segments.py``): how a video is split, what a segment task shows, and how a
segment's save merges into the file's tracks without undoing other segments."""

from __future__ import annotations

import pytest
from annolake_service.domain.video.segments import (
    MAX_SEGMENTS,
    Segment,
    SegmentError,
    VideoSegmenting,
    changed_since,
    merge,
    plan,
    view,
)


def _key(frame: int, x: float = 10.0, **more) -> dict:
    return {"frame": frame, "x_min": x, "y_min": 10.0, "x_max": x + 20, "y_max": 40.0, **more}


def _track(root: str, track_id: int, frames: list[int], name: str = "person") -> dict:
    return {
        "type": "track",
        "name": name,
        "shape": "box",
        "track_id": track_id,
        "id": root,
        "root_id": root,
        "keyframes": [_key(f) for f in frames],
    }


def test_segments_cover_every_frame_overlap_as_asked_and_end_on_the_last_frame():
    segments = plan(250, VideoSegmenting(frames=100, overlap=10))
    assert segments == [Segment(0, 99), Segment(90, 189), Segment(180, 249)]
    assert plan(100, VideoSegmenting(frames=100)) == [Segment(0, 99)]
    assert plan(30, VideoSegmenting(frames=100, overlap=5)) == [Segment(0, 29)]
    assert plan(201, VideoSegmenting(frames=100)) == [Segment(0, 99), Segment(100, 199), Segment(200, 200)]
    for frame_count in range(1, 400, 7):
        got = plan(frame_count, VideoSegmenting(frames=50, overlap=7))
        assert got[0].start == 0 and got[-1].end == frame_count - 1
        assert all(b.start == a.start + 43 and a.end - b.start + 1 == 7 for a, b in zip(got, got[1:], strict=False))


def test_an_overlap_as_long_as_the_segment_or_too_many_segments_are_refused_with_the_fix():
    with pytest.raises(ValueError, match="overlap 10 must be less than its frames 10"):
        VideoSegmenting(frames=10, overlap=10)
    with pytest.raises(SegmentError, match=f"at most {MAX_SEGMENTS}: use longer segments"):
        plan(10 * (MAX_SEGMENTS + 1), VideoSegmenting(frames=10))


def test_a_segment_shows_its_tracks_with_their_neighbouring_keyframes_and_clipped_frame_tags():
    instances = [
        _track("a", 1, [0, 50, 120, 300]),  # keyframes in the segment: 120, context 50 and 300
        _track("b", 2, [10, 20]),  # held after 20 (last keyframe): visible in the segment
        {**_track("c", 3, [10, 20]), "keyframes": [_key(10), _key(20, outside=True)]},  # gone before it
        _track("d", 4, [500]),  # starts after it
        {"type": "frame_tag", "name": "blurry", "frame_start": 80, "frame_end": 140, "id": "t", "root_id": "t"},
        {"type": "tag", "name": "night", "id": "n", "root_id": "n"},
    ]
    shown = view(instances, Segment(100, 199))
    tracks = {t["track_id"]: [k["frame"] for k in t["keyframes"]] for t in shown if t["type"] == "track"}
    assert tracks == {1: [50, 120, 300], 2: [20]}
    tags = [(t["name"], t["frame_start"], t["frame_end"]) for t in shown if t["type"] == "frame_tag"]
    assert tags == [("blurry", 100, 140)]


def test_a_save_replaces_only_the_keyframes_inside_its_segment():
    current = [_track("a", 1, [0, 50, 120, 180, 300])]
    segment = Segment(100, 199)
    submitted = view(current, segment)
    submitted[0]["keyframes"] = [_key(50, x=99), _key(150, x=77), _key(300, x=99)]  # edits outside are ignored
    merged = merge(current, submitted, segment)
    assert [(k["frame"], k["x_min"]) for k in merged[0]["keyframes"]] == [(0, 10), (50, 10), (150, 77), (300, 10)]
    assert merged[0]["id"] == "a" and merged[0]["track_id"] == 1


def test_a_track_left_out_loses_its_keyframes_in_the_segment_and_goes_when_it_had_no_others():
    current = [_track("a", 1, [0, 150]), _track("b", 2, [110, 130])]
    merged = merge(current, [], Segment(100, 199))
    assert [(t["track_id"], [k["frame"] for k in t["keyframes"]]) for t in merged] == [(1, [0])]


def test_new_tracks_keep_their_number_unless_another_segment_took_it():
    current = [_track("a", 1, [0, 50])]  # saved meanwhile by the first segment, with track_id 1
    new = {"type": "track", "name": "car", "shape": "box", "track_id": 1, "keyframes": [_key(90), _key(120)]}
    merged = merge(current, [new], Segment(100, 199))
    added = [t for t in merged if t.get("id") is None]
    assert len(added) == 1 and added[0]["track_id"] == 2 and [k["frame"] for k in added[0]["keyframes"]] == [120]
    with pytest.raises(SegmentError, match=r"new track 5 has no keyframe in this task's frames 100\.\.199"):
        merge(current, [{**new, "track_id": 5, "keyframes": [_key(20)]}], Segment(100, 199))


def test_whole_video_tags_and_tracks_gone_from_the_file_are_refused():
    with pytest.raises(SegmentError, match=r"\['tag'\] label the whole video"):
        merge([], [{"type": "tag", "name": "night"}], Segment(0, 9))
    with pytest.raises(SegmentError, match="no longer on the file"):
        merge([], [_track("gone", 1, [3])], Segment(0, 9))


def test_frame_tags_across_the_boundary_are_cut_and_joined_back_without_a_new_version():
    tag = {"type": "frame_tag", "name": "blurry", "frame_start": 80, "frame_end": 240, "id": "t", "root_id": "t"}
    segment = Segment(100, 199)
    unchanged = merge([tag], view([tag], segment), segment)
    assert unchanged == [tag]  # the same instance: the save leaves it as it was
    cut = merge([tag], [], segment)
    assert sorted((t["frame_start"], t["frame_end"]) for t in cut) == [(80, 99), (200, 240)]
    assert all("id" not in t for t in cut)


def test_a_change_counts_as_a_conflict_only_inside_the_segment():
    base = [_track("a", 1, [0, 50]), _track("b", 2, [150])]
    elsewhere = [_track("a", 1, [0, 60]), _track("b", 2, [150])]
    assert not changed_since(base, elsewhere, Segment(100, 199)) and changed_since(base, elsewhere, Segment(0, 99))
    relabelled = [base[0], {**base[1], "name": "car"}]
    assert changed_since(base, relabelled, Segment(100, 199))


def test_a_frame_tags_attributes_are_kept_outside_the_segment_and_set_inside_it_whatever_their_key_order():
    attributes = {"cause": "motion", "severity": 2}
    tag = {"type": "frame_tag", "name": "blurry", "frame_start": 80, "frame_end": 240, "id": "t", "root_id": "t"}
    tag["attributes"] = attributes
    segment = Segment(100, 199)
    (shown,) = view([tag], segment)
    reordered = {**shown, "attributes": {"severity": 2, "cause": "motion"}}  # as an editor may send them back
    assert merge([tag], [reordered], segment) == [tag]  # unchanged: no new version, not cut in three
    focus = {**shown, "attributes": {**attributes, "cause": "focus"}}
    cut = merge([tag], [focus], segment)
    assert sorted((t["frame_start"], t["frame_end"], t["attributes"]["cause"]) for t in cut) == [
        (80, 99, "motion"),
        (100, 199, "focus"),
        (200, 240, "motion"),
    ]
    assert all(t["attributes"]["severity"] == 2 and "id" not in t for t in cut)
