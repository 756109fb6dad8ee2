"""Pushdown against a real (moto) DynamoDB: the plan's filter plus its residual selects exactly what ``evaluate`` does.

Files are written once per module as items carrying the per-file summary (the attribute contract of
``domain/query/pushdown.py``); hypothesis draws queries from the AST types, renders them to text and
parses them back, then compares a filtered ``scan`` + residual with brute force over every file.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from annolake_service.domain.query import FileView, Node, evaluate, format_query, parse_query, plan
from annolake_service.domain.query.pushdown import created_at_string, dynamo_number
from hypothesis import HealthCheck, given, settings

from tests.support.query_data import ATTRIBUTE_POOLS, CREATED, LABELS, queries, random_files

REGION = "us-east-1"


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
    files = random_files()
    items = [{"PutRequest": {"Item": _item(file_id, view)}} for file_id, view in files.items()]
    for start in range(0, len(items), 25):
        client.batch_write_item(RequestItems={table: items[start : start + 25]})
    yield Store(client, table, files)
    client.delete_table(TableName=table)


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
