"""Pushdown against a real (moto) DynamoDB: the plan's filter plus its residual selects exactly what ``evaluate`` does.

Files are written once per module as items carrying the per-file summary (the attribute contract of
``domain/query/pushdown.py``); hypothesis draws queries from the AST types, renders them to text and
parses them back, then compares a filtered ``scan`` + residual with brute force over every file.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import boto3
import pytest
from annolake_service.domain.query import (
    And,
    AttributeValues,
    Compare,
    DatasetRef,
    FileField,
    FileView,
    InList,
    LabelCount,
    Metadata,
    Node,
    Not,
    Or,
    evaluate,
    format_query,
    parse_query,
    plan,
)
from annolake_service.domain.query.pushdown import created_at_string, dynamo_number
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

REGION = "us-east-1"
LABELS = ["car", "traffic light", "a.b", "bus"]
ATTRIBUTE_POOLS: dict[str, list[Any]] = {
    "colour": ["red", "green", "blue", "Red"],
    "time of day": ["day", "night"],
    "score": [1, 2, 2.5, -1, 0, 10],
    "flag": ["true", "false"],
    "when": ["2026-01-30", "2026-01-31"],
    "mixed": ["3", 3, "x y"],
}
NAMES = ["a.jpg", "b.png", "Cat 1.jpg", "ünïcode.jpg", "z", "b"]
TYPES = ["image", "video"]
SIZES = [None, 0, 100, 640, 1024]
STATUSES = ["ready", "quarantined", "processing"]
BASE = datetime(2026, 1, 30, tzinfo=UTC)
CREATED = [
    BASE,
    BASE + timedelta(microseconds=1),
    BASE + timedelta(hours=12),
    BASE + timedelta(days=1) - timedelta(microseconds=1),
    BASE + timedelta(days=1),
    BASE + timedelta(days=1, hours=23, minutes=59, seconds=59),
    BASE + timedelta(days=2, hours=6, microseconds=250_000),
]
DATASETS = {"train": "ds-1", "val": "ds-2", "test set": "ds-3"}
FILE_COUNT = 72


def _random_file(rng: random.Random, index: int) -> tuple[str, FileView]:
    counts = {name: rng.randint(0, 4) for name in LABELS if rng.random() < 0.6}
    attributes = {
        group: sorted(set(rng.sample(pool, rng.randint(1, min(3, len(pool))))), key=lambda v: (isinstance(v, str), v))
        for group, pool in ATTRIBUTE_POOLS.items()
        if rng.random() < 0.6
    }
    metadata: dict[str, Any] = {}
    if rng.random() < 0.7:
        metadata["camera"] = {
            k: v
            for k, v in (("model", rng.choice(["X100", "A7"])), ("iso", rng.choice([100, 400.0, "800"])))
            if rng.random() < 0.8
        }
    if rng.random() < 0.5:
        metadata["tags"] = rng.sample(["outdoor", "rain", 7, True], rng.randint(0, 2))
    if rng.random() < 0.5:
        metadata["reviewed"] = rng.choice([True, False, "yes"])
    datasets = [name for name in DATASETS if rng.random() < 0.5]
    view = FileView(
        name=rng.choice(NAMES),
        type=rng.choice(TYPES),
        width=rng.choice(SIZES),
        height=rng.choice(SIZES),
        created=rng.choice(CREATED),
        status=rng.choice(STATUSES),
        metadata=metadata,
        label_counts=counts,
        attribute_values=attributes,
        dataset_names=frozenset(datasets),
        dataset_ids=frozenset(DATASETS[name] for name in datasets),
    )
    return f"f{index:03d}", view


def _typed(value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        return {"S": value}
    number = dynamo_number(value)
    assert number is not None
    return {"N": number}


def _item(file_id: str, view: FileView) -> dict[str, Any]:
    """The item as the store keeps it (the attribute contract of the pushdown)."""
    item: dict[str, Any] = {
        "PK": {"S": f"P#proj#F#{file_id}"},
        "SK": {"S": "FILE"},
        "kind": {"S": "FileItem"},
        "file_id": {"S": file_id},
        "original_name": {"S": view.name},
        "media_type": {"S": view.type},
        "status": {"S": view.status},
        "created_at": {"S": created_at_string(view.created)},
        "file_metadata": {"S": json.dumps(view.metadata)},
        "label_counts": {"M": {name: _typed(n) for name, n in view.label_counts.items()}},
        "attribute_values": {
            "M": {group: {"L": [_typed(v) for v in values]} for group, values in view.attribute_values.items()}
        },
    }
    for name in ("width", "height"):
        if getattr(view, name) is not None:
            item[name] = _typed(getattr(view, name))
    return item


class Store:
    def __init__(self, client: Any, table: str, files: dict[str, FileView]) -> None:
        self.client = client
        self.table = table
        self.files = files

    def select(self, node: Node) -> set[str]:
        """What the service would return: a filtered scan, then the residual in Python."""
        query_plan = plan(node)
        kwargs: dict[str, Any] = {"TableName": self.table}
        if query_plan.filter is not None:
            kwargs.update(query_plan.filter.as_kwargs())
        found: set[str] = set()
        while True:
            page = self.client.scan(**kwargs)
            for item in page["Items"]:
                file_id = item["file_id"]["S"]
                if query_plan.matches(self.files[file_id]):
                    found.add(file_id)
            if "LastEvaluatedKey" not in page:
                return found
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def brute_force(self, node: Node) -> set[str]:
        return {file_id for file_id, view in self.files.items() if evaluate(node, view)}


@pytest.fixture(scope="module")
def store(moto_endpoint: str) -> Iterator[Store]:
    client = boto3.client(
        "dynamodb",
        endpoint_url=moto_endpoint,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",  # noqa: S106
    )
    table = f"query-pushdown-{uuid.uuid4().hex[:8]}"
    client.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "PK", "KeyType": "HASH"}, {"AttributeName": "SK", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "PK", "AttributeType": "S"},
            {"AttributeName": "SK", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    rng = random.Random(20260131)
    files = dict(_random_file(rng, i) for i in range(FILE_COUNT))
    items = [{"PutRequest": {"Item": _item(file_id, view)}} for file_id, view in files.items()]
    for start in range(0, len(items), 25):
        client.batch_write_item(RequestItems={table: items[start : start + 25]})
    yield Store(client, table, files)
    client.delete_table(TableName=table)


# --- queries drawn from the AST -----------------------------------------------------------------------------------

ALL_OPS = st.sampled_from(["=", "!=", "<", "<=", ">", ">="])
EQUALITY_OPS = st.sampled_from(["=", "!="])
NUMBERS = st.sampled_from([-1, 0, 1, 2, 3, 4, 0.5, 2.0, 2.5, 10, 100, 640, 1024])
ATTRIBUTE_LITERALS = st.sampled_from(
    ["red", "Red", "green", "day", "night", "3", "x y", "true", "2026-01-31", 1, 2, 2.5, 3, 3.0, -1, 0, 10, True, False]
    + [date(2026, 1, 30), date(2026, 1, 31)]
)
TEMPORAL = st.sampled_from(
    [date(2026, 1, 29), date(2026, 1, 30), date(2026, 1, 31), date(2026, 2, 1), date(2026, 2, 2), *CREATED]
    + [BASE + timedelta(hours=13), BASE - timedelta(microseconds=1)]
)
METADATA_LITERALS = st.sampled_from(["X100", "A7", "800", "outdoor", "yes", 7, 100, 400, 400.0, 0, True, False])


def _ordered(value: Any) -> bool:
    return not isinstance(value, bool)


@st.composite
def comparison(draw: st.DrawFn) -> Node:
    kind = draw(
        st.sampled_from(["label", "attribute", "name", "type", "size", "created", "status", "metadata", "dataset"])
    )
    if kind == "label":
        field: Any = LabelCount(draw(st.sampled_from([*LABELS, "absent"])))
        values, ops = NUMBERS, ALL_OPS
    elif kind == "attribute":
        field = AttributeValues(draw(st.sampled_from([*ATTRIBUTE_POOLS, "nothing"])))
        values, ops = ATTRIBUTE_LITERALS, ALL_OPS
    elif kind in ("name", "type"):
        field = FileField(kind)
        values, ops = st.sampled_from(NAMES + TYPES + ["Cat", ""]), ALL_OPS
    elif kind == "size":
        field = FileField(draw(st.sampled_from(["width", "height"])))
        values, ops = NUMBERS, ALL_OPS
    elif kind == "created":
        field = FileField("created")
        values, ops = TEMPORAL, ALL_OPS
    elif kind == "status":
        field = FileField("status")
        values, ops = st.sampled_from(STATUSES), EQUALITY_OPS
    elif kind == "metadata":
        field = Metadata(
            draw(st.sampled_from([("camera", "model"), ("camera", "iso"), ("tags",), ("reviewed",), ("nope",)]))
        )
        values, ops = METADATA_LITERALS, ALL_OPS
    else:
        by = draw(st.sampled_from(["name", "id"]))
        field = DatasetRef(by)
        values = st.sampled_from([*DATASETS, "other"] if by == "name" else [*DATASETS.values(), "ds-9"])
        ops = EQUALITY_OPS
    if draw(st.booleans()):
        return InList(field, tuple(draw(st.lists(values, min_size=1, max_size=3))), draw(st.booleans()))
    value = draw(values)
    op = draw(ops) if _ordered(value) else draw(EQUALITY_OPS)
    return Compare(field, op, value)


queries = st.recursive(
    comparison(),
    lambda children: st.one_of(
        st.lists(children, min_size=2, max_size=3).map(lambda xs: And(tuple(xs))),
        st.lists(children, min_size=2, max_size=3).map(lambda xs: Or(tuple(xs))),
        children.map(Not),
    ),
    max_leaves=8,
)


@pytest.mark.slow  # 120 generated queries against brute force, ~7 s; the examples below stay fast
@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(node=queries)
def test_filter_and_residual_select_what_brute_force_selects(store: Store, node: Node) -> None:
    text = format_query(node)
    parsed = parse_query(text)
    assert parsed == node, text
    assert store.select(parsed) == store.brute_force(parsed), f"{text}\n{plan(parsed)}"


def test_the_data_exercises_the_edges(store: Store) -> None:
    """The fixed data set has files with and without each label, size and attribute group."""
    views = list(store.files.values())
    for label in LABELS:
        assert any(label in v.label_counts for v in views) and any(label not in v.label_counts for v in views)
    assert any(v.width is None for v in views) and any(v.width is not None for v in views)
    for group in ATTRIBUTE_POOLS:
        assert any(group in v.attribute_values for v in views) and any(group not in v.attribute_values for v in views)
    assert {v.created for v in views} == set(CREATED)


@pytest.mark.parametrize(
    "text",
    [
        "labels.car = 0",
        "labels.car < 2 and labels.absent = 0",
        'labels."traffic light" >= 1 or labels."a.b" in [0, 3]',
        'attributes.colour = "red" and attributes."time of day" != "night"',
        "attributes.score in [2.5, -1] and attributes.mixed = 3",
        "attributes.flag = true or attributes.when = 2026-01-31",
        "file.created = 2026-01-31 or file.created > 2026-01-31T23:59:59Z",
        "file.created <= 2026-01-30 and not file.created < 2026-01-30",
        'file.width != 640 and file.name >= "b" and file.status in ["ready", "processing"]',
        'not (labels.car > 1 or file.metadata.camera.model = "X100")',
        'dataset.name = "train" and labels.bus >= 1',
    ],
)
def test_examples_push_down_and_agree(store: Store, text: str) -> None:
    node = parse_query(text)
    assert store.select(node) == store.brute_force(node)
