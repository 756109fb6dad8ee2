"""The label schema's pure rules: an attribute group's default passes the group's own check."""

from __future__ import annotations

import json

import pytest
from annolake_service.domain.schema import AttributeGroup, Schema


@pytest.mark.parametrize(
    ("group", "default"),
    [
        ({"kind": "select", "options": ["no", "partly", "mostly"]}, "partly"),
        ({"kind": "radio", "options": ["no", "yes"]}, "no"),
        ({"kind": "multi_select", "options": ["rain", "fog"]}, ["rain", "fog"]),
        ({"kind": "text"}, "n/a"),
        ({"kind": "number", "min": 0, "max": 10}, 3),
        ({"kind": "number", "min": 0, "max": 1}, 0.5),
        ({"kind": "date"}, "2026-01-31"),
        ({"kind": "tree", "options": ["vehicle/car", "vehicle/bus"]}, ["vehicle", "car"]),
    ],
)
def test_a_default_that_fits_its_group_is_kept(group, default):
    made = AttributeGroup(name="g", **group, default=default)
    assert made.default == default and made.default_problem() is None
    assert AttributeGroup.model_validate(made.model_dump()).default == default  # as stored and read back


@pytest.mark.parametrize(
    ("group", "default", "words"),
    [
        ({"kind": "select", "options": ["no", "yes"]}, "maybe", "must be one of ['no', 'yes']"),
        ({"kind": "select", "options": ["no", "yes"]}, True, "must be one of"),
        ({"kind": "multi_select", "options": ["rain", "fog"]}, ["snow"], "must be a list drawn from"),
        ({"kind": "number", "min": 0, "max": 10}, 11, "must be <= 10"),
        ({"kind": "number", "min": 0, "max": 10}, -1, "must be >= 0"),
        ({"kind": "number"}, "3", "must be a number"),
        ({"kind": "number"}, False, "must be a number"),
        ({"kind": "text"}, 3, "must be text"),
        ({"kind": "date"}, "31/01/2026", "must be a date"),
        ({"kind": "tree", "options": ["vehicle/car"]}, "vehicle/bus", "must be a path among"),
    ],
)
def test_a_default_its_group_refuses_is_named_with_the_value_and_the_fix(group, default, words):
    schema = Schema(attribute_groups=[AttributeGroup(name="occluded", **group, default=default)])
    [problem] = schema.default_problems()
    assert "'occluded'" in problem and words in problem and "give a default that fits, or none" in problem
    assert f"its default {json.dumps(default)} " in problem


def test_no_default_is_no_problem():
    groups = [AttributeGroup(name="occluded", kind="select", options=["no"], required=True)]
    assert groups[0].default is None and Schema(attribute_groups=groups).default_problems() == []
