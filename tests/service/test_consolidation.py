"""Consensus of several annotators' instance lists."""

from __future__ import annotations

import pytest
from annolake_service.domain.consolidation import consolidate, iou


def box(name, x0, y0, x1, y1, **attributes):
    return {"type": "box", "name": name, "x_min": x0, "y_min": y0, "x_max": x1, "y_max": y1, "attributes": attributes}


def test_iou():
    assert iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1
    assert iou((0, 0, 10, 10), (10, 10, 20, 20)) == 0
    assert iou((0, 0, 10, 10), (5, 0, 15, 10)) == pytest.approx(50 / 150)


def test_identical_work_agrees_fully():
    work = [box("car", 0, 0, 10, 10), {"type": "tag", "name": "day"}]
    merged = consolidate([work, work])
    assert merged.agreement == 1.0
    assert merged.per_annotator == [1.0, 1.0]
    assert [(i["type"], i["name"]) for i in merged.instance_list] == [("box", "car"), ("tag", "day")]


def test_matched_boxes_are_averaged_with_majority_attributes():
    a = [box("car", 0, 0, 10, 10, colour="red")]
    b = [box("car", 2, 0, 12, 10, colour="red")]
    c = [box("car", 0, 2, 10, 12, colour="blue")]
    merged = consolidate([a, b, c])
    (car,) = merged.instance_list
    assert (car["x_min"], car["y_min"], car["x_max"], car["y_max"]) == (
        pytest.approx(0.67, abs=0.01),
        pytest.approx(0.67, abs=0.01),
        pytest.approx(10.67, abs=0.01),
        pytest.approx(10.67, abs=0.01),
    )
    assert car["attributes"] == {"colour": "red"}
    assert car["score"] == 1.0
    assert 0.7 < merged.agreement < 1.0


def test_labels_do_not_match_across_names_and_minorities_are_dropped():
    a = [box("car", 0, 0, 10, 10)]
    b = [box("truck", 0, 0, 10, 10)]
    c = [box("car", 0, 0, 10, 10)]
    merged = consolidate([a, b, c])
    assert [i["name"] for i in merged.instance_list] == ["car"]  # 2 of 3 drew a car; the truck had 1 of 3
    assert merged.per_annotator[1] == 0.0
    assert merged.agreement < 1.0


def test_disagreement_scores_low():
    a = [box("car", 0, 0, 10, 10)]
    b = [box("car", 50, 50, 60, 60)]
    merged = consolidate([a, b])
    assert merged.agreement == 0.5  # two boxes, each drawn by half the annotators
    assert len(merged.instance_list) == 2  # with two annotators, half is enough to keep (the reviewer decides)


def test_tags_need_a_strict_majority_and_globals_take_the_most_common_value():
    a = [{"type": "tag", "name": "night"}, {"type": "global", "name": "global", "attributes": {"weather": "rain"}}]
    b = [{"type": "tag", "name": "night"}, {"type": "global", "name": "global", "attributes": {"weather": "sun"}}]
    c = [{"type": "tag", "name": "day"}, {"type": "global", "name": "global", "attributes": {"weather": "rain"}}]
    merged = consolidate([a, b, c])
    tags = [i["name"] for i in merged.instance_list if i["type"] == "tag"]
    (glob,) = [i for i in merged.instance_list if i["type"] == "global"]
    assert tags == ["night"]
    assert glob["attributes"] == {"weather": "rain"}


def test_other_shapes_come_from_the_annotator_who_agreed_most():
    poly = {"type": "polygon", "name": "road", "points": [{"x": 0, "y": 0}, {"x": 5, "y": 0}, {"x": 5, "y": 5}]}
    a = [box("car", 0, 0, 10, 10), poly]
    b = [box("car", 0, 0, 10, 10)]
    c = [box("bus", 30, 30, 40, 40), {**poly, "name": "sidewalk"}]
    merged = consolidate([a, b, c])
    assert [i["name"] for i in merged.instance_list if i["type"] == "polygon"] == ["road"]


def test_nobody_drew_anything_is_full_agreement_and_one_annotator_is_passed_through():
    assert consolidate([[], []]).agreement == 1.0
    single = consolidate([[box("car", 0, 0, 1, 1)]])
    assert single.agreement == 1.0 and single.instance_list[0]["name"] == "car"
