"""Calling the model function (the one with onnxruntime, numpy and pycocotools) synchronously from the API."""

from __future__ import annotations

import json
from typing import Any

from annolake_service.adapters.aws_clients import client
from annolake_service.shared.settings import get_settings


class ModelFunctionFailed(Exception):
    """The model function raised; the message is its error type and message."""


def invoke(event: dict[str, Any]) -> dict[str, Any]:
    response = client("lambda").invoke(
        FunctionName=get_settings().model_function_name,
        InvocationType="RequestResponse",
        Payload=json.dumps(event).encode(),
    )
    payload = json.loads(response["Payload"].read() or b"null")
    if response.get("FunctionError"):
        error = payload if isinstance(payload, dict) else {}
        raise ModelFunctionFailed(f"{error.get('errorType', 'Error')}: {error.get('errorMessage', payload)}")
    return payload
