"""The prediction state machine's steps other than the chunk step (``handlers/model.py``, the model function).
Each parses its input and calls one service."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from annolake_service.services import predictions
from annolake_service.shared.observability import logger


@logger.inject_lambda_context
def plan_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return predictions.plan(event["project_id"], event["run_id"])


@logger.inject_lambda_context
def finish_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return predictions.finish(event["project_id"], event["run_id"])


@logger.inject_lambda_context
def fail_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return predictions.fail(event["project_id"], event["run_id"], event.get("error") or {})
