"""CVAT for video XML and MOT from a video's tracks: the XML re-imported gives back the same tracks, every frame
of a track is written with its keyframe/outside/occluded flags, and MOT lines are the boxes of each frame."""

from __future__ import annotations

from xml.etree import ElementTree as ET

import pytest
from annolake_service.domain.exports.cvat_video import (
    CvatVideo,
    CvatVideoError,
    read_cvat_video,
    typed_instances,
    write_cvat_video,
)
from annolake_service.domain.exports.mot import mot_lines
from annolake_service.domain.instances import parse_instance_list
from annolake_service.domain.video.interpolation import shape_at

FRAMES = 150


def _box(frame, x0, y0, x1, y1, **more):
    return {"frame": frame, "x_min": x0, "y_min": y0, "x_max": x1, "y_max": y1, **more}


def _ring(frame, *pts, **more):
    return {"frame": frame, "points": [{"x": x, "y": y} for x, y in pts], **more}


TRACKS = [
    {
        "type": "track",
        "name": "person",
        "track_id": 3,
        "shape": "box",
        "attributes": {"role": "cyclist"},
        "keyframes": [
            _box(0, 10.25, 20.5, 50.125, 80.0, attributes={"pose": "standing"}),
            _box(40, 30.1, 20.2, 70.3, 80.4, occluded=True, attributes={"pose": "walking"}),
            _box(60, 31.0, 21.0, 71.0, 81.0, outside=True, attributes={"pose": "walking"}),
            _box(90, 100.0, 40.0, 160.0, 120.0, attributes={"pose": "running"}),
        ],
    },
    {
        "type": "track",
        "name": "road",
        "track_id": 0,
        "shape": "polygon",
        "source": "model",
        "keyframes": [
            _ring(5, (0, 0), (10, 0), (10, 10), (0, 10)),
            _ring(25, (0, 0), (20, 0), (20, 20), (10, 30), (0, 20)),
        ],
    },
    {
        "type": "track",
        "name": "head",
        "track_id": 9,
        "shape": "point",
        "keyframes": [_ring(2, (1, 1), (5, 5)), _ring(6, (3, 9), (5, 1), outside=True)],
    },
    {"type": "frame_tag", "name": "blurry", "frame_start": 40, "frame_end": 44, "attributes": {"cause": "motion"}},
    {"type": "frame_tag", "name": "blurry", "frame_start": 100},
]


def _stored(instances: list[dict]) -> list[dict]:
    parsed = parse_instance_list(instances, width=640, height=480, frame_count=FRAMES)
    normal = []
    for instance in parsed:
        body = instance.model_dump(exclude_none=True)
        if body["type"] == "frame_tag":
            body.setdefault("frame_end", body["frame_start"])
        normal.append(body)
    return sorted(normal, key=lambda i: (i["type"], i.get("track_id", 0), i.get("frame_start", 0)))


def _video(instances: list[dict]) -> CvatVideo:
    return CvatVideo(
        name="street.mp4", width=640, height=480, frame_count=FRAMES, labels=["person", "car"], instances=instances
    )


@pytest.mark.parametrize("keyframes_only", [False, True])
def test_a_cvat_video_export_reimported_gives_back_the_same_tracks(keyframes_only):
    stored = _stored(TRACKS)
    xml = write_cvat_video(_video(stored), keyframes_only=keyframes_only)
    back = read_cvat_video(xml)
    assert (back.name, back.width, back.height, back.frame_count) == ("street.mp4", 640, 480, FRAMES)
    assert back.labels[:2] == ["person", "car"] and {"road", "head", "blurry"} <= set(back.labels)
    assert _stored(back.instances) == stored


def test_every_frame_of_a_track_is_written_with_its_flags_and_interpolated_shape():
    stored = _stored(TRACKS)
    root = ET.fromstring(write_cvat_video(_video(stored)))
    assert root.findtext("version") == "1.1" and root.findtext("meta/task/size") == str(FRAMES)
    person = next(t for t in root.findall("track") if t.get("id") == "3")
    assert person.get("label") == "person" and person.get("source") == "manual"
    frames = {int(b.get("frame")): b for b in person.findall("box")}
    # frames 0..60 (60 is the outside keyframe), none until the next keyframe at 90, then 90..149
    assert sorted(frames) == [*range(0, 61), *range(90, FRAMES)]
    assert [f for f, b in frames.items() if b.get("keyframe") == "1"] == [0, 40, 60, 90]
    assert frames[60].get("outside") == "1" and frames[59].get("outside") == "0"
    assert frames[50].get("occluded") == "1" and frames[39].get("occluded") == "0"
    track = next(t for t in stored if t.get("track_id") == 3)
    expected = shape_at(track, 20)
    assert [frames[20].get(k) for k in ("xtl", "ytl", "xbr", "ybr")] == [
        f"{expected[k]:.2f}" for k in ("x_min", "y_min", "x_max", "y_max")
    ]  # interpolated: 2 decimals, as CVAT writes them
    assert [frames[40].get(k) for k in ("xtl", "ytl", "xbr", "ybr")] == ["30.1", "20.2", "70.3", "80.4"]  # keyframe
    assert {a.get("name"): a.text for a in frames[20].findall("attribute")} == {"role": "cyclist", "pose": "standing"}
    declared = {
        a.findtext("name"): a.findtext("mutable")
        for label in root.findall("meta/task/labels/label")
        if label.findtext("name") == "person"
        for a in label.findall("attributes/attribute")
    }
    assert declared == {"role": "False", "pose": "True"}
    assert [int(t.get("frame")) for t in root.findall("tag")] == [40, 41, 42, 43, 44, 100]


def test_a_document_cvat_wrote_is_read_keyframes_only():
    xml = """<?xml version="1.0" encoding="utf-8"?>
<annotations>
  <version>1.1</version>
  <meta><task><name>cars</name><size>10</size><mode>interpolation</mode>
    <labels><label><name>car</name><attributes>
      <attribute><name>parked</name><mutable>False</mutable><input_type>checkbox</input_type></attribute>
    </attributes></label></labels>
    <original_size><width>100</width><height>50</height></original_size></task></meta>
  <track id="4" label="car" source="manual">
    <box frame="2" keyframe="1" outside="0" occluded="0" xtl="1.00" ytl="2.00" xbr="11.00" ybr="12.00" z_order="0">
      <attribute name="parked">false</attribute></box>
    <box frame="3" keyframe="0" outside="0" occluded="0" xtl="3.00" ytl="2.00" xbr="13.00" ybr="12.00" z_order="0">
      <attribute name="parked">false</attribute></box>
    <box frame="4" keyframe="1" outside="1" occluded="0" xtl="5.00" ytl="2.00" xbr="15.00" ybr="12.00" z_order="0">
      <attribute name="parked">false</attribute></box>
  </track>
</annotations>"""
    video = read_cvat_video(xml)
    assert video.frame_count == 10 and (video.width, video.height) == (100, 50)
    [track] = video.instances
    assert track["track_id"] == 4 and track["attributes"] == {"parked": "false"}
    assert [(k["frame"], k["outside"], k["x_min"]) for k in track["keyframes"]] == [(2, False, 1.0), (4, True, 5.0)]
    parse_instance_list(video.instances, width=100, height=50, frame_count=10)  # valid as it stands


@pytest.mark.parametrize(
    "xml, problem",
    [
        ("<annotations><meta>", "not well-formed XML"),
        ('<?xml version="1.0"?><!DOCTYPE a [<!ENTITY e "x">]><annotations/>', "declares a DOCTYPE"),
        ("<dataset/>", "root element is <dataset>"),
        ("<annotations><meta><task><name>a</name></task></meta></annotations>", r"no <size> \(the frame count\)"),
        (
            "<annotations><meta><task><size>5</size></task></meta><track id='1' label='car'>"
            "<box frame='0' keyframe='1' xtl='a' ytl='0' xbr='1' ybr='1'/></track></annotations>",
            "attribute 'xtl' is 'a', not a number",
        ),
    ],
)
def test_a_document_that_is_not_cvat_for_video_is_refused_with_the_reason(xml, problem):
    with pytest.raises(CvatVideoError, match=problem):
        read_cvat_video(xml)


def test_mot_lines_are_every_visible_frame_of_each_box_and_polygon_track():
    stored = _stored(TRACKS)
    lines = mot_lines(stored, FRAMES, ["car", "person", "road"]).splitlines()
    rows = [line.split(",") for line in lines]
    person = [r for r in rows if r[1] == "3"]
    assert [int(r[0]) for r in person] == [*range(1, 61), *range(91, FRAMES + 1)]  # MOT frames count from 1
    at_20 = next(r for r in person if r[0] == "21")  # frame 20, halfway from keyframe 0 to keyframe 40
    x0, y0 = 10.25 + (30.1 - 10.25) / 2, 20.5 + (20.2 - 20.5) / 2
    x1, y1 = 50.125 + (70.3 - 50.125) / 2, 80.0 + (80.4 - 80.0) / 2
    assert at_20[2:] == [f"{x0:.2f}", f"{y0:.2f}", f"{x1 - x0:.2f}", f"{y1 - y0:.2f}", "1", "2", "1"]
    assert next(r for r in person if r[0] == "51")[8] == "0"  # occluded from keyframe 40
    road = [r for r in rows if r[1] == "0"]
    assert road[0][:8] == ["6", "0", "0.00", "0.00", "10.00", "10.00", "1", "3"]  # the polygon's bounding box
    assert not [r for r in rows if r[1] == "9"]  # points have no box
    assert [(int(r[0]), int(r[1])) for r in rows] == sorted((int(r[0]), int(r[1])) for r in rows)


def test_attribute_text_read_from_a_document_gets_the_kinds_of_the_schemas_groups():
    from annolake_service.domain.schema import AttributeGroup, Schema

    schema = Schema(
        attribute_groups=[
            AttributeGroup(name="severity", kind="number", label_names=["blurry"]),
            AttributeGroup(name="sides", kind="multi_select", options=["left", "right"]),
            AttributeGroup(name="kind", kind="tree", options=["vehicle", "vehicle/car"]),
            AttributeGroup(name="cause", kind="select", options=["1", "2"]),
        ]
    )
    text = {"severity": "2.5", "sides": "left, right", "kind": "vehicle/car", "cause": "2", "other": "7"}
    tag = {"type": "frame_tag", "name": "blurry", "frame_start": 4, "frame_end": 6, "attributes": text}
    track = {**TRACKS[0], "name": "car", "attributes": {"severity": "3", "sides": '["right"]'}}
    track["keyframes"] = [{**k, "attributes": {"kind": "vehicle"}} for k in TRACKS[0]["keyframes"]]
    typed_tag, typed_track = typed_instances([tag, track], schema)
    assert typed_tag["attributes"] == {
        "severity": 2.5,
        "sides": ["left", "right"],
        "kind": ["vehicle", "car"],
        "cause": "2",  # a select's options are text
        "other": "7",  # no such group: kept for the check to name
    }
    assert typed_track["attributes"] == {"severity": "3", "sides": ["right"]}  # severity is blurry's alone
    assert {str(k["attributes"]["kind"]) for k in typed_track["keyframes"]} == {"['vehicle']"}
    (bad,) = typed_instances([{**tag, "attributes": {"severity": "high"}}], schema)
    assert bad["attributes"] == {"severity": "high"}  # not a number: the check says so
    assert schema.attribute_problems("blurry", bad["attributes"]) == ["attribute 'severity' must be a number"]


def test_a_frame_tags_attributes_are_declared_with_their_schema_kinds_and_written_on_each_of_its_frames():
    from annolake_service.domain.schema import AttributeGroup

    groups = [
        AttributeGroup(name="cause", kind="select", options=["motion", "focus"], label_names=["blurry"]),
        AttributeGroup(name="severity", kind="number", min=0, max=5),
        AttributeGroup(name="sides", kind="multi_select", options=["left", "right"]),
    ]
    defaults = [
        groups[0].model_copy(update={"default": "focus"}),
        groups[1].model_copy(update={"default": 3}),
        groups[2],
    ]
    attributes = {"cause": "focus", "severity": 2, "sides": ["left"], "note": "x"}
    tag = {"type": "frame_tag", "name": "blurry", "frame_start": 7, "frame_end": 8, "attributes": attributes}
    video = CvatVideo("a.mp4", 64, 48, 10, ["blurry"], [tag], attribute_groups=groups)
    root = ET.fromstring(write_cvat_video(video))
    (label,) = root.findall("meta/task/labels/label")
    declared = {
        a.findtext("name"): (a.findtext("mutable"), a.findtext("input_type"), a.findtext("values"))
        for a in label.findall("attributes/attribute")
    }
    assert declared == {
        "cause": ("True", "select", "motion\nfocus"),
        "severity": ("True", "number", "0.0\n5.0\n1"),
        "sides": ("True", "text", ""),  # CVAT has no multi-select: text, typed back by the schema on import
        "note": ("True", "text", ""),  # not in the schema
    }
    assert {a.findtext("name"): a.findtext("default_value") for a in label.findall("attributes/attribute")} == {
        "cause": "motion",  # no default: the first option, as CVAT needs one
        "severity": "0.0",
        "sides": "",
        "note": "",
    }
    with_defaults = ET.fromstring(
        write_cvat_video(CvatVideo("a.mp4", 64, 48, 10, ["blurry"], [tag], attribute_groups=defaults))
    )
    assert {
        a.findtext("name"): a.findtext("default_value")
        for a in with_defaults.findall("meta/task/labels/label/attributes/attribute")
    } == {"cause": "focus", "severity": "3", "sides": "", "note": ""}  # the schema's defaults, declared as CVAT's
    tags = root.findall("tag")
    assert [(t.get("frame"), t.get("label")) for t in tags] == [("7", "blurry"), ("8", "blurry")]
    assert {a.get("name"): a.text for a in tags[1].findall("attribute")} == {
        "cause": "focus",
        "severity": "2",
        "sides": '["left"]',
        "note": "x",
    }
