"""Webhook delivery: an SQS batch of domain events (from the EventBridge rule) -> signed POSTs."""

from __future__ import annotations

import functools
import json
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from annolake_service.services import webhooks
from annolake_service.shared.observability import logger


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    subscriptions = functools.cache(webhooks.subscriptions)  # each project's webhooks read once per batch

    def deliver(record: SQSRecord) -> list[dict[str, Any]]:
        return webhooks.deliver(json.loads(record.body), subscriptions)

    return process_partial_response(
        event=event, record_handler=deliver, processor=BatchProcessor(event_type=EventType.SQS), context=context
    )
