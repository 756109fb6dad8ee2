"""The export state machine's Lambda steps. Each parses its input and calls one service function."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from annolake_service.services import exports
from annolake_service.shared.observability import logger


@logger.inject_lambda_context
def plan_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return exports.plan(event["project_id"], event["export_id"])


@logger.inject_lambda_context
def page_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return exports.export_page(event["project_id"], event["export_id"], int(event["page"]))


@logger.inject_lambda_context
def assemble_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return exports.assemble(event["project_id"], event["export_id"])


@logger.inject_lambda_context
def fail_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return exports.fail(event["project_id"], event["export_id"], event.get("error") or {})
