"""Typed DynamoDB items as JSON text can hold them: binary values (B, BS) base64-encoded, M and L recursively."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any


def encode_item(item: Mapping[str, Any]) -> dict[str, Any]:
    return {name: _encode_value(value) for name, value in item.items()}


def decode_item(item: Mapping[str, Any]) -> dict[str, Any]:
    return {name: _decode_value(value) for name, value in item.items()}


def _encode_value(value: Mapping[str, Any]) -> dict[str, Any]:
    ((kind, content),) = value.items()
    if kind == "B":
        return {"B": base64.b64encode(content).decode("ascii")}
    if kind == "BS":
        return {"BS": [base64.b64encode(b).decode("ascii") for b in content]}
    if kind == "M":
        return {"M": {k: _encode_value(v) for k, v in content.items()}}
    if kind == "L":
        return {"L": [_encode_value(v) for v in content]}
    return {kind: content}


def _decode_value(value: Mapping[str, Any]) -> dict[str, Any]:
    ((kind, content),) = value.items()
    if kind == "B":
        return {"B": base64.b64decode(content)}
    if kind == "BS":
        return {"BS": [base64.b64decode(b) for b in content]}
    if kind == "M":
        return {"M": {k: _decode_value(v) for k, v in content.items()}}
    if kind == "L":
        return {"L": [_decode_value(v) for v in content]}
    return {kind: content}


def encode_model_item(item: Mapping[str, Any]) -> dict[str, Any]:
    """moto's ``Item.to_json()`` attributes as ``encode_item`` writes them: it base64-encodes a top-level B
    but leaves bytes in sets, lists and maps."""
    return {name: _encode_model_value(value) for name, value in item.items()}


def _encode_model_value(value: Mapping[str, Any]) -> dict[str, Any]:
    ((kind, content),) = value.items()
    if kind == "B":
        return {"B": _text(content)}
    if kind == "BS":
        return {"BS": [_text(b) for b in content]}
    if kind == "M":
        return {"M": {k: _encode_model_value(v) for k, v in content.items()}}
    if kind == "L":
        return {"L": [_encode_model_value(v) for v in content]}
    return {kind: content}


def _text(content: Any) -> str:
    return base64.b64encode(content).decode("ascii") if isinstance(content, bytes | bytearray) else content
