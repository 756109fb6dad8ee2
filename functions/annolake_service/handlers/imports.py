"""The import state machine's Lambda steps. Each parses its input and calls one service function."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from annolake_service.services import imports
from annolake_service.services.steps import step
from annolake_service.shared.observability import logger


@logger.inject_lambda_context
@step
def plan_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return imports.plan(event["project_id"], event["import_id"])


@logger.inject_lambda_context
@step
def chunk_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return imports.import_chunk(event["project_id"], event["import_id"], event["chunk_key"])


@logger.inject_lambda_context
@step
def finish_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return imports.finish(event["project_id"], event["import_id"])


@logger.inject_lambda_context
@step
def fail_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return imports.fail(event["project_id"], event["import_id"], event.get("error") or {})
