"""Reference semantics of slice queries (``evaluate`` on a ``FileView``)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from annolake_service.domain.entities import FileRecord
from annolake_service.domain.query import FileView, evaluate, parse_query

VIEW = FileView(
    name="Cat 1.jpg",
    type="image",
    width=640,
    height=None,
    created=datetime(2026, 1, 31, 23, 59, 59, 999_999, tzinfo=UTC),
    status="ready",
    metadata={
        "camera": {"model": "X100", "iso": 400, "lens.id": "35mm"},
        "tags": ["outdoor", 7, True],
        "reviewed": True,
        "score": 0.75,
        "taken": "2026-01-30T08:00:00Z",
    },
    label_counts={"car": 3, "traffic light": 1, "bus": 0},
    attribute_values={
        "colour": ["red", "blue"],
        "time of day": ["night"],
        "score": [2, 2.5, "3"],
        "flag": ["true"],
        "when": ["2026-01-30"],
        "kind": ["vehicle", "car", "sedan"],
    },
    dataset_names=frozenset({"train", "city scenes"}),
    dataset_ids=frozenset({"ds-1", "ds-7"}),
)


def matches(text: str, view: FileView = VIEW) -> bool:
    return evaluate(parse_query(text), view)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("labels.car = 3", True),
        ("labels.car >= 3 and labels.car <= 3", True),
        ("labels.car > 3", False),
        ('labels."traffic light" >= 1', True),
        # a file without the label counts 0
        ("labels.bike = 0", True),
        ("labels.bike < 2", True),
        ("labels.bike >= 0", True),
        ("labels.bike > 0", False),
        ("labels.bike != 0", False),
        ("labels.bike in [0, 1]", True),
        ("labels.bike not in [0]", False),
        ("labels.bus = 0", True),  # an explicit 0 is the same as none
        ("-1 < labels.bike", True),
        ("labels.car in [1, 2]", False),
        ("labels.car not in [1, 2]", True),
        ("labels.car = 3.0", True),
        ("labels.car < 3.5", True),
    ],
)
def test_label_counts(text, expected):
    assert matches(text) is expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ('attributes.colour = "red"', True),  # contains
        ('attributes.colour = "blue"', True),
        ('attributes.colour = "Red"', False),
        ('attributes.colour != "green"', True),  # does not contain
        ('attributes.colour != "red"', False),
        ('attributes.colour in ["green", "blue"]', True),  # contains any
        ('attributes.colour in ["green", "pink"]', False),
        ('attributes.colour not in ["green", "pink"]', True),  # contains none
        ('attributes.colour not in ["green", "red"]', False),
        ('attributes."time of day" = "night"', True),
        ('attributes.kind = "car"', True),  # every element of a tree path
        ('attributes.kind = "vehicle" and attributes.kind = "sedan"', True),
        ("attributes.score > 2.4", True),  # some value satisfies the ordering
        ("attributes.score > 2.5", False),  # "3" is a string, not a number
        ("attributes.score < 2", False),
        ("attributes.score <= 2", True),
        ("attributes.score = 2.0", True),
        ("attributes.score = 3", False),
        ('attributes.score = "3"', True),
        ('attributes.score >= "3"', True),  # strings order among strings
        ("attributes.flag = true", True),  # booleans are summarised as "true"/"false"
        ("attributes.flag != false", True),
        ('attributes.flag = "true"', True),
        ("attributes.when = 2026-01-30", True),  # dates are summarised as YYYY-MM-DD
        ("attributes.when < 2026-01-31", True),
        ("attributes.when > 2026-01-30", False),
        ('attributes.missing = "x"', False),
        ('attributes.missing != "x"', True),
        ("attributes.missing > 0", False),
        ("attributes.missing not in [1]", True),
    ],
)
def test_attribute_values(text, expected):
    assert matches(text) is expected


def test_raw_booleans_in_an_attribute_summary_read_as_strings():
    view = replace(VIEW, attribute_values={"flag": [True]})
    assert matches("attributes.flag = true", view)
    assert matches('attributes.flag = "true"', view)


@pytest.mark.parametrize(
    "text, expected",
    [
        ('file.name = "Cat 1.jpg"', True),
        ('file.name != "Cat 1.jpg"', False),
        ('file.name > "C"', True),
        ('file.name < "a"', True),  # code point order: upper case first
        ('file.name in ["a.jpg", "Cat 1.jpg"]', True),
        ('file.type = "image"', True),
        ('file.type not in ["image"]', False),
        ("file.width = 640", True),
        ("file.width >= 640.0", True),
        ("file.width < 100", False),
        ('file.status = "ready"', True),
        ('file.status in ["processing", "quarantined"]', False),
        # a file without a size matches only != and not in
        ("file.height = 480", False),
        ("file.height < 10000", False),
        ("file.height > -1", False),
        ("file.height != 480", True),
        ("file.height not in [480]", True),
        ("not file.height < 100", True),
    ],
)
def test_file_fields(text, expected):
    assert matches(text) is expected


@pytest.mark.parametrize(
    "text, expected",
    [
        # a date is its whole UTC day (created is 2026-01-31 23:59:59.999999Z)
        ("file.created = 2026-01-31", True),
        ("file.created != 2026-01-31", False),
        ("file.created = 2026-02-01", False),
        ("file.created < 2026-02-01", True),
        ("file.created < 2026-01-31", False),
        ("file.created <= 2026-01-31", True),
        ("file.created > 2026-01-30", True),
        ("file.created > 2026-01-31", False),
        ("file.created >= 2026-01-31", True),
        ('file.created = "2026-01-31"', True),
        ("file.created in [2026-01-29, 2026-01-31]", True),
        ("file.created not in [2026-01-29, 2026-01-30]", True),
        # a date-time is an instant
        ("file.created = 2026-01-31T23:59:59.999999Z", True),
        ("file.created < 2026-01-31T23:59:59.999999Z", False),
        ("file.created > 2026-01-31T23:59:59Z", True),
        ("file.created < 2026-02-01T00:00:00Z", True),
        ("file.created < 2026-02-01T00:59:00+01:00", False),  # 2026-01-31T23:59:00Z
        ('file.created >= "2026-01-31T12:00:00Z"', True),
        ("2026-02-01 > file.created", True),
    ],
)
def test_created(text, expected):
    assert matches(text) is expected


def test_created_day_is_the_utc_day():
    view = replace(VIEW, created=datetime(2026, 2, 1, 0, 30, tzinfo=UTC))
    assert matches("file.created = 2026-02-01", view)
    assert not matches("file.created = 2026-01-31", view)


def test_naive_created_is_taken_as_utc():
    view = replace(VIEW, created=datetime(2026, 1, 31, 12))
    assert view.created.tzinfo is UTC
    assert matches("file.created = 2026-01-31T12:00:00Z", view)


@pytest.mark.parametrize(
    "text, expected",
    [
        ('file.metadata.camera.model = "X100"', True),
        ("file.metadata.camera.iso >= 400", True),
        ("file.metadata.camera.iso > 400", False),
        ('file.metadata.camera.iso = "400"', False),  # kinds do not mix
        ('file.metadata.camera."lens.id" = "35mm"', True),  # a key with a dot, quoted
        ('file.metadata.camera.lens.id = "35mm"', False),  # ... is not a path
        ('file.metadata.tags = "outdoor"', True),  # a list behaves like a set
        ("file.metadata.tags = 7", True),
        ("file.metadata.tags = true", True),
        ("file.metadata.tags > 6", True),
        ('file.metadata.tags != "rain"', True),
        ('file.metadata.tags in ["rain", "outdoor"]', True),
        ("file.metadata.reviewed = true", True),
        ("file.metadata.reviewed = 1", False),  # a boolean is not a number
        ("file.metadata.reviewed != false", True),
        ("file.metadata.score < 1", True),
        ("file.metadata.taken > 2026-01-30", True),  # dates compare as their ISO strings
        ("file.metadata.taken < 2026-01-30T09:00:00Z", True),
        ('file.metadata.missing = "x"', False),
        ('file.metadata.missing != "x"', True),
        ("file.metadata.missing < 1", False),
        ("file.metadata.camera = 1", False),  # an object matches nothing but !=
        ("file.metadata.camera != 1", True),
        ('file.metadata.camera.model.deeper = "x"', False),
    ],
)
def test_metadata(text, expected):
    assert matches(text) is expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ('dataset.name = "train"', True),
        ('dataset.name = "city scenes"', True),
        ('dataset.name = "val"', False),
        ('dataset.name != "val"', True),
        ('dataset.name != "train"', False),
        ('dataset.name in ["val", "train"]', True),
        ('dataset.name not in ["val", "test"]', True),
        ('dataset.id = "ds-7"', True),
        ('dataset.id in ["ds-2"]', False),
        ('"train" = dataset.name', True),
    ],
)
def test_dataset_refs(text, expected):
    assert matches(text) is expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("labels.car > 1 and labels.bike = 0", True),
        ("labels.car > 5 or labels.bike = 0", True),
        ("labels.car > 5 or labels.bike > 0", False),
        ("not labels.car > 5", True),
        ("not (labels.car > 1 and labels.bike = 0)", False),
        ("labels.car > 5 or labels.car > 1 and labels.bike > 0", False),
        ("(labels.car > 5 or labels.car > 1) and labels.bike = 0", True),
        ('not not attributes.colour = "red"', True),
    ],
)
def test_boolean_structure(text, expected):
    assert matches(text) is expected


def _record(**overrides: Any) -> FileRecord:
    fields: dict[str, Any] = {
        "project_id": "p",
        "file_id": "f1",
        "original_name": "a.jpg",
        "status": "ready",
        "width": 10,
        "height": 20,
        "metadata": {"k": 1},
        "label_counts": {"car": 2},
        "attribute_values": {"colour": ["red"]},
        "created_at": datetime(2026, 1, 31, 10, tzinfo=UTC),
    }
    return FileRecord(**{**fields, **overrides})


def test_view_from_record():
    view = FileView.from_record(_record(), dataset_names=["train"], dataset_ids={"ds-1"})
    assert view == FileView(
        name="a.jpg",
        type="image",
        width=10,
        height=20,
        created=datetime(2026, 1, 31, 10, tzinfo=UTC),
        status="ready",
        metadata={"k": 1},
        label_counts={"car": 2},
        attribute_values={"colour": ["red"]},
        dataset_names=frozenset({"train"}),
        dataset_ids=frozenset({"ds-1"}),
    )
    assert evaluate(parse_query('labels.car = 2 and dataset.name = "train" and file.metadata.k = 1'), view)
    naive = FileView.from_record(_record(created_at=datetime(2026, 1, 31, 10)))
    assert naive.created == datetime(2026, 1, 31, 10, tzinfo=UTC)
    assert naive.dataset_names == frozenset()
