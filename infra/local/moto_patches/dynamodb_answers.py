"""DynamoDB item answers written as DynamoDB JSON in one pass, not through moto's shape serializer."""

from __future__ import annotations

import base64
import functools
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from infra.local.moto_patches.patching import replace

# DynamoDB's data-plane answers: items and keys in DynamoDB JSON, nothing the generic serializer reshapes.
_DYNAMODB_ITEM_ACTIONS = frozenset(
    {
        "GetItem",
        "BatchGetItem",
        "Query",
        "Scan",
        "PutItem",
        "UpdateItem",
        "DeleteItem",
        "TransactGetItems",
        "TransactWriteItems",
        "BatchWriteItem",
    }
)


def _dynamodb_wire(value: object) -> object:
    """An answer as DynamoDB writes it, in one pass over what moto built: the ``{"S": ...}`` maps moto holds
    as they are, its ``DynamoType`` values expanded, binary values base64, no ``None`` members."""
    if type(value) is _dynamo_type():
        return _attribute_wire(value)
    if isinstance(value, dict):
        return {key: _dynamodb_wire(item) for key, item in value.items() if item is not None}
    if isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, list | tuple):
        return [_dynamodb_wire(item) for item in value]
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode()
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, _dynamo_type()):
        return _attribute_wire(value)
    if hasattr(value, "to_json"):
        return _dynamodb_wire(value.to_json())
    return value


def _attribute_wire(value: Any) -> dict[str, object]:
    """One attribute value (a ``DynamoType``), by its type: most of an item answer's cost, so no generic walk."""
    kind, inner, dynamo_type = value.type, value.value, _dynamo_type()
    if kind == "M":
        return {"M": {k: _attribute_wire(v) if type(v) is dynamo_type else _dynamodb_wire(v) for k, v in inner.items()}}
    if kind == "L":
        return {"L": [_attribute_wire(v) if type(v) is dynamo_type else _dynamodb_wire(v) for v in inner]}
    if kind in ("S", "N", "BOOL", "NULL", "SS", "NS"):
        return {kind: inner}
    return {kind: _dynamodb_wire(inner)}  # B/BS: base64 text from the wire, or bytes


@functools.cache
def _dynamo_type() -> type:
    from moto.dynamodb.models.dynamo_type import DynamoType

    return DynamoType


def plain_dynamodb_item_answers() -> None:
    """moto converts every DynamoDB answer to plain Python (decoding binary values) and then serializes it by
    walking the operation's output shape attribute by attribute: two thirds of the emulator's CPU for a page
    of 100 items. DynamoDB's item operations answer with the item maps as moto already holds them (DynamoDB
    JSON), so they are written with ``json.dumps`` in one pass; errors and every other operation keep moto's
    conversion, done when the answer is written, and its serializer."""
    from moto.core.responses import ActionResult
    from moto.dynamodb.models.utilities import dynamo_to_dict
    from moto.dynamodb.responses import DynamoResult

    def keep_result(_: Callable[..., Any]) -> Callable[..., Any]:
        def __init__(self: DynamoResult, result: object) -> None:
            ActionResult.__init__(self, result)  # converted in execute_result, where the operation is known

        return __init__

    def plain(original: Callable[..., Any]) -> Callable[..., Any]:
        def execute_result(self: DynamoResult, context: Any) -> tuple[int, dict[str, str], str]:
            if context.operation_model.name not in _DYNAMODB_ITEM_ACTIONS or not isinstance(self.result, dict):
                self._result = dynamo_to_dict(self._result)
                return original(self, context)
            body = json.dumps(_dynamodb_wire(self.result), separators=(",", ":"))
            return 200, {"Content-Type": "application/x-amz-json-1.0"}, body

        return execute_result

    replace(DynamoResult, "__init__", "raw-result", keep_result)
    replace(DynamoResult, "execute_result", "plain-json", plain)
