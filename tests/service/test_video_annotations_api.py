"""Video annotations over the API, on the synthesized template (``local_stack``): tracks saved as annotation
versions (a 409 for a save against a stale version), a frame's annotations with interpolated shapes, and queries
that find a video by the labels of its tracks, from the table and from the columnar index.

The video's file record is written through the repository (ingesting video is another module's work): a
``media_type="video"`` record with its ``VideoFacts``, as ingest stores it.
"""

from __future__ import annotations

import json
import time
import uuid

import pytest

from tests.support.model_platform import model_platform, unique_project
from tests.support.video_records import register_video

FRAMES = 1000
START, END = (10.0, 20.0, 50.0, 80.0), (110.0, 40.0, 170.0, 120.0)


@pytest.fixture(scope="module")
def platform(local_stack, moto_endpoint):
    with model_platform(local_stack, moto_endpoint, unique_project("video")) as running:
        yield running


def _video(project_id: str, dataset: str, frame_count: int = FRAMES) -> str:
    return register_video(project_id, dataset, frame_count=frame_count)


def _track(track_id: int, name: str, keyframes: list[tuple[int, tuple[float, ...]]], **more) -> dict:
    keys = [{"frame": f, **dict(zip(("x_min", "y_min", "x_max", "y_max"), box, strict=True))} for f, box in keyframes]
    if name == "person" and len(keys) == 2 and keys[1]["frame"] == 100:
        keys[1]["attributes"] = {"pose": "walking"}
    return {"type": "track", "name": name, "track_id": track_id, "shape": "box", "keyframes": keys, **more}


def test_a_track_saved_on_a_video_is_interpolated_on_every_frame_between_its_keyframes(platform):
    from annolake_service.domain.schema import AttributeGroup
    from annolake_service.services import schema

    schema.add_labels(platform.project_id, ["person"])
    for group in ("role", "pose"):
        schema.add_attribute_group(platform.project_id, AttributeGroup(name=group, kind="text", label_names=["person"]))
    project = platform.project()
    file_id = _video(platform.project_id, "clips")
    path = f"{project._path}/files/{file_id}"
    with pytest.raises(Exception, match=r"instance 0 \(keyframes \[0, 100\]\): attribute 'mood' does not apply") as bad:
        project.client.put(
            f"{path}/annotations",
            {"version": 0, "instance_list": [_track(7, "person", [(0, START), (100, END)], attributes={"mood": "x"})]},
        )
    assert bad.value.status == 400
    saved = project.client.put(
        f"{path}/annotations",
        {
            "version": 0,
            "create_labels": True,
            "instance_list": [
                _track(7, "person", [(0, START), (100, END)], attributes={"role": "pedestrian"}),
                # per-frame attributes hold from their keyframe to the next
                {"type": "frame_tag", "name": "blurry", "frame_start": 40, "frame_end": 60},
            ],
        },
    )
    assert saved["version"] == 1 and saved["changes"]["created"] == 2
    record = project.client.get(f"{path}")
    assert record["label_counts"] == {"person": 1, "blurry": 1}

    for frame in range(101):
        shown = project.client.get(f"{path}/frames/{frame}/annotations")
        assert shown["version"] == 1 and shown["frame"] == frame and shown["frame_count"] == FRAMES
        boxes = [i for i in shown["instance_list"] if i["type"] == "box"]
        assert len(boxes) == 1 and boxes[0]["track_id"] == 7 and boxes[0]["name"] == "person"
        expected = [a + (b - a) * frame / 100 for a, b in zip(START, END, strict=True)]
        got = [boxes[0][k] for k in ("x_min", "y_min", "x_max", "y_max")]
        assert got == pytest.approx(expected, abs=1e-9), frame
        assert boxes[0]["interpolated"] is (0 < frame < 100)
        pose = {"pose": "walking"} if frame == 100 else {}
        assert boxes[0]["attributes"] == {"role": "pedestrian", **pose}
        tags = [i["name"] for i in shown["instance_list"] if i["type"] == "frame_tag"]
        assert tags == (["blurry"] if 40 <= frame <= 60 else [])

    with pytest.raises(Exception, match=r"frame 1000 is not in the video: its frames are 0\.\.999") as refused:
        project.client.get(f"{path}/frames/{FRAMES}/annotations")
    assert refused.value.status == 400


def test_a_save_against_a_stale_version_of_a_video_is_refused_with_409_and_nothing_is_lost(platform):
    from annolake import VersionConflict

    project = platform.project()
    file_id = _video(platform.project_id, "clips")
    path = f"{project._path}/files/{file_id}/annotations"
    first = _track(1, "car", [(0, START), (50, END)])
    project.client.put(path, {"version": 0, "instance_list": [first]})
    with pytest.raises(VersionConflict) as stale:  # a second editor who also read version 0
        project.client.put(path, {"version": 0, "instance_list": [_track(2, "truck", [(3, START)])]})
    assert stale.value.current_version == 1 and "reload and apply your edits again" in stale.value.message
    current = project.client.get(path)
    assert [(i["type"], i["track_id"], i["name"]) for i in current["instance_list"]] == [("track", 1, "car")]

    edited = {**current["instance_list"][0], "keyframes": [*current["instance_list"][0]["keyframes"][:1]]}
    project.client.put(path, {"version": 1, "instance_list": [edited]})
    history = project.client.get(f"{path}/history", instance_root_id=edited["root_id"])["history"]
    assert [len(h["keyframes"]) for h in history] == [2, 1]  # each version of the track, oldest first

    with pytest.raises(Exception, match="past the video's last frame 999") as beyond:
        project.client.put(path, {"version": 2, "instance_list": [_track(1, "car", [(0, START), (1200, END)])]})
    assert beyond.value.status == 400


def test_a_video_whose_only_person_is_on_frame_900_is_found_by_its_track_from_the_table_and_the_index(platform):
    project = platform.project()
    dataset = "videos-" + uuid.uuid4().hex[:6]
    late, empty = _video(platform.project_id, dataset), _video(platform.project_id, dataset)
    files = f"{project._path}/files"
    project.client.put(
        f"{files}/{late}/annotations",
        {
            "version": 0,
            "create_labels": True,
            "instance_list": [_track(1, "person", [(900, START), (901, START)], attributes={})],
        },
    )
    project.client.put(f"{files}/{empty}/annotations", {"version": 0, "instance_list": []})
    path = f"{project._path}/datasets/{dataset}/query"
    from annolake_service.services import query_index

    settings = query_index.get_settings()
    with pytest.MonkeyPatch.context() as patch:  # what a deployment with query_engine "table" answers
        patch.setattr(query_index, "get_settings", lambda: settings.model_copy(update={"query_engine": "table"}))
        answer = project.client.get(path, q="labels.person >= 1", limit=10)
    assert answer["engine"]["name"] == "table" and [f["file_id"] for f in answer["files"]] == [late]
    deadline = time.monotonic() + 60
    while (answer := project.client.get(path, q="labels.person >= 1", limit=10))["engine"]["name"] != "index":
        assert time.monotonic() < deadline, f"the columnar index never answered: {answer['engine']}"
        time.sleep(0.2)
    assert [f["file_id"] for f in answer["files"]] == [late]
    assert project.client.get(path, q="labels.person = 0", limit=10)["files"][0]["file_id"] == empty
    on_frame = project.client.get(f"{files}/{late}/frames/900/annotations")["instance_list"]
    assert [(i["type"], i["name"], i["keyframe"]) for i in on_frame] == [("box", "person", True)]
    assert project.client.get(f"{files}/{late}/frames/899/annotations")["instance_list"] == []


def test_a_cvat_for_video_document_put_on_a_video_gives_it_the_same_tracks(platform):
    from annolake_service.domain.exports.cvat_video import CvatVideo, write_cvat_video

    project = platform.project()
    files = f"{project._path}/files"
    source, target = _video(platform.project_id, "clips"), _video(platform.project_id, "clips")
    polygon = {
        "type": "track",
        "name": "truck",
        "track_id": 2,
        "shape": "polygon",
        "keyframes": [
            {"frame": 10, "points": [{"x": 0, "y": 0}, {"x": 9, "y": 0}, {"x": 9, "y": 9}]},
            {"frame": 30, "points": [{"x": 5, "y": 5}, {"x": 20, "y": 5}, {"x": 20, "y": 20}, {"x": 5, "y": 20}]},
        ],
    }
    tracks = [_track(4, "car", [(0, START), (100, END)], attributes={}), polygon]
    saved = project.client.put(f"{files}/{source}/annotations", {"version": 0, "instance_list": tracks})
    xml = write_cvat_video(CvatVideo("clip.mp4", 640, 480, FRAMES, ["car", "truck"], saved["instance_list"]))

    wrong = _video(platform.project_id, "clips", frame_count=FRAMES - 1)
    with pytest.raises(Exception, match="the XML is for a video of 1000 frames; this video has 999") as refused:
        project.client.put(f"{files}/{wrong}/annotations/cvat-video", {"version": 0, "document": xml.decode()})
    assert refused.value.status == 400

    imported = project.client.put(f"{files}/{target}/annotations/cvat-video", {"version": 0, "document": xml.decode()})
    assert imported["version"] == 1 and imported["changes"]["created"] == 2
    assert _edited(project.client.get(f"{files}/{target}/annotations")["instance_list"]) == _edited(
        saved["instance_list"]
    )
    from annolake import VersionConflict

    with pytest.raises(VersionConflict):
        project.client.put(f"{files}/{target}/annotations/cvat-video", {"version": 0, "document": xml.decode()})


def _edited(instances: list[dict]) -> list[dict]:
    """What a user edits of each track (no version bookkeeping), numbers as floats, by track id."""
    bookkeeping = {"id", "root_id", "previous_id", "version", "created_by", "created_at"}
    kept = [{k: v for k, v in i.items() if k not in bookkeeping} for i in instances]
    return sorted(json.loads(json.dumps(kept), parse_int=float), key=lambda i: i["track_id"])


def test_frames_with_a_label_count_the_frames_its_tracks_show_on_from_the_table_and_the_index(platform):
    project = platform.project()
    dataset = "frames-" + uuid.uuid4().hex[:6]
    long, short = _video(platform.project_id, dataset), _video(platform.project_id, dataset)
    files = f"{project._path}/files"
    gone = {"outside": True}
    walking = _track(1, "person", [(0, START), (50, END), (100, END)])
    walking["keyframes"][2] |= gone  # shows on frames 0..99
    crossing = _track(2, "person", [(80, START), (120, END)])
    crossing["keyframes"][1] |= gone  # 80..119: with the first, frames 0..119
    project.client.put(
        f"{files}/{long}/annotations", {"version": 0, "create_labels": True, "instance_list": [walking, crossing]}
    )
    brief = _track(1, "person", [(500, START), (509, END)])
    brief["keyframes"][1] |= gone
    project.client.put(f"{files}/{short}/annotations", {"version": 0, "instance_list": [brief]})
    assert project.client.get(f"{files}/{long}")["frame_counts"] == {"person": 120}
    assert project.client.get(f"{files}/{long}")["label_counts"] == {"person": 2}  # tracks, as before
    assert project.client.get(f"{files}/{short}")["frame_counts"] == {"person": 9}

    path = f"{project._path}/datasets/{dataset}/query"
    expected = {"frames.person >= 30": [long], "frames.person < 30": [short], "frames.person = 120": [long]}
    from annolake_service.services import query_index

    settings = query_index.get_settings()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(query_index, "get_settings", lambda: settings.model_copy(update={"query_engine": "table"}))
        for text, files_found in expected.items():
            answer = project.client.get(path, q=text, limit=10)
            assert answer["engine"]["name"] == "table" and [f["file_id"] for f in answer["files"]] == files_found
    deadline = time.monotonic() + 60
    while (answer := project.client.get(path, q="frames.person >= 30", limit=10))["engine"]["name"] != "index":
        assert time.monotonic() < deadline, f"the columnar index never answered: {answer['engine']}"
        time.sleep(0.2)
    for text, files_found in expected.items():
        assert [f["file_id"] for f in project.client.get(path, q=text, limit=10)["files"]] == files_found, text


def test_a_videos_frame_count_is_on_its_items_in_slice_and_snapshot_pages(platform):
    project = platform.project()
    file_id = _video(platform.project_id, "reels", frame_count=321)
    dataset = project.directory.get("reels")
    (sliced,) = dataset.slice('file.type = "video"').page(0, 10)["items"]
    (pinned,) = dataset.snapshot("reels-v1").page(0, 10)["items"]
    for item in (sliced, pinned):
        assert item["file"]["id"] == file_id and item["file"]["frame_count"] == 321


def test_a_frame_tags_attributes_are_checked_by_the_schema_kept_in_history_and_back_from_a_cvat_round_trip(platform):
    from annolake_service.domain.exports.cvat_video import CvatVideo, write_cvat_video
    from annolake_service.domain.schema import AttributeGroup
    from annolake_service.services import schema

    schema.add_labels(platform.project_id, ["shaky"])
    for group in (
        AttributeGroup(name="cause", kind="select", options=["motion", "focus"], label_names=["shaky"]),
        AttributeGroup(name="severity", kind="number", min=0, max=5, label_names=["shaky"]),
        AttributeGroup(name="sides", kind="multi_select", options=["left", "right"], label_names=["shaky"]),
    ):
        schema.add_attribute_group(platform.project_id, group)
    project = platform.project()
    dataset = "tagged-" + uuid.uuid4().hex[:6]
    source, target = _video(platform.project_id, dataset), _video(platform.project_id, dataset)
    files = f"{project._path}/files"

    def tag(start: int, end: int, **attributes) -> dict:
        return {"type": "frame_tag", "name": "shaky", "frame_start": start, "frame_end": end, "attributes": attributes}

    with pytest.raises(
        Exception, match=r"instance 0 \(frame_tag 'shaky', frames 40\.\.44\): attribute 'severity' must be <= 5"
    ) as bad:
        project.client.put(f"{files}/{source}/annotations", {"version": 0, "instance_list": [tag(40, 44, severity=9)]})
    assert bad.value.status == 400
    with pytest.raises(
        Exception,
        match=r"attribute 'mood' does not apply to label 'shaky': its attributes are \['cause', 'severity', 'sides'\]",
    ):
        project.client.put(f"{files}/{source}/annotations", {"version": 0, "instance_list": [tag(40, 44, mood="x")]})

    tags = [
        tag(40, 44, cause="motion", severity=3, sides=["left", "right"]),
        tag(100, 100, cause="focus", severity=1.5),
    ]
    saved = project.client.put(f"{files}/{source}/annotations", {"version": 0, "instance_list": tags})
    first = saved["instance_list"][0]
    edited = {**first, "attributes": {**first["attributes"], "severity": 4}}
    saved = project.client.put(
        f"{files}/{source}/annotations", {"version": 1, "instance_list": [edited, saved["instance_list"][1]]}
    )
    history = project.client.get(f"{files}/{source}/annotations/history", instance_root_id=first["root_id"])["history"]
    assert [h["attributes"]["severity"] for h in history] == [3, 4]
    on_42 = project.client.get(f"{files}/{source}/frames/42/annotations")["instance_list"]
    assert [i["attributes"] for i in on_42] == [{"cause": "motion", "severity": 4, "sides": ["left", "right"]}]
    query = f"{project._path}/datasets/{dataset}/query"
    assert [f["file_id"] for f in project.client.get(query, q='attributes.cause = "focus"', limit=10)["files"]] == [
        source
    ]

    xml = write_cvat_video(CvatVideo("clip.mp4", 640, 480, FRAMES, ["shaky"], saved["instance_list"])).decode()
    assert '<attribute name="sides">["left", "right"]</attribute>' in xml
    imported = project.client.put(f"{files}/{target}/annotations/cvat-video", {"version": 0, "document": xml})
    assert imported["version"] == 1
    back = project.client.get(f"{files}/{target}/annotations")["instance_list"]
    assert [(t["frame_start"], t["frame_end"], t["attributes"]) for t in back] == [
        (40, 44, {"cause": "motion", "severity": 4, "sides": ["left", "right"]}),
        (100, 100, {"cause": "focus", "severity": 1.5}),
    ]
