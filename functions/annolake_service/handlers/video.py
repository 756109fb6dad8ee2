"""The video ingest state machine's steps (the only functions with PyAV in their layer).

Each execution's input is the arrival as the ingest state machine got it (``{"bucket", "key", ...}``); the
probe's answer is kept at ``$.plan`` and a refusal at ``$.error``.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from annolake_service.services import video_ingest
from annolake_service.services.steps import step
from annolake_service.shared.observability import logger


@logger.inject_lambda_context
@step
def probe_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return video_ingest.plan_video(event["bucket"], event["key"])


@logger.inject_lambda_context
@step
def segment_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return video_ingest.extract_segment(event)


@logger.inject_lambda_context
@step
def finish_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return video_ingest.finish_video(event["bucket"], event["key"], event["plan"])


@logger.inject_lambda_context
@step
def discard_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return video_ingest.discard_video(event["bucket"], event["key"], event["error"], event.get("plan"))
