"""The snapshot state machine's Lambda steps. Each parses its input and calls one service function."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from annolake_service.services import snapshot_builds
from annolake_service.shared.observability import logger


@logger.inject_lambda_context
def plan_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return snapshot_builds.plan(event["project_id"], event["name"])


@logger.inject_lambda_context
def chunk_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return snapshot_builds.chunk(event["project_id"], event["name"], int(event["chunk"]))


@logger.inject_lambda_context
def finish_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return snapshot_builds.finish(event["project_id"], event["name"])


@logger.inject_lambda_context
def fail_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return snapshot_builds.fail(event["project_id"], event["name"], event.get("error") or {})
