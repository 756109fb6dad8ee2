"""The ingest state machine's Lambda steps. Each parses its input and calls one service function."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from annolake_service.services import ingest
from annolake_service.services.steps import step
from annolake_service.shared.observability import logger


@logger.inject_lambda_context
@step
def process_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return ingest.process_media(event["bucket"], event["key"])


@logger.inject_lambda_context
@step
def hand_over_video_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return ingest.hand_over_video(event)


@logger.inject_lambda_context
@step
def register_handler(event: dict[str, Any], context: LambdaContext) -> list[dict[str, Any]]:
    return ingest.register_files(event["arrivals"])


@logger.inject_lambda_context
@step
def quarantine_handler(event: dict[str, Any], context: LambdaContext) -> Any:
    """One arrival refused (``bucket``, ``key``), or a batch whose registration failed as a whole (``arrivals``)."""
    if "arrivals" in event:
        return ingest.quarantine_unregistered(event["arrivals"], event.get("error") or {})
    return ingest.quarantine(event["bucket"], event["key"], event.get("error") or {})
