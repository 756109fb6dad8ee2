"""The ingest state machine's video step (the only function with PyAV in its layer)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from annolake_service.services import video_ingest
from annolake_service.services.steps import step
from annolake_service.shared.observability import logger


@logger.inject_lambda_context
@step
def process_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    seconds_left = context.get_remaining_time_in_millis() / 1000
    return video_ingest.process_video(event["bucket"], event["key"], seconds_left=seconds_left)
