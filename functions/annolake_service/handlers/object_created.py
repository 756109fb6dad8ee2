"""S3 ObjectCreated (drop folder, completed uploads) via SQS -> one ingest execution per batch of arrivals."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from annolake_service.services.arrivals import ObjectCreated, arrivals_in, start_ingest
from annolake_service.shared.observability import logger


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    """One execution for the batch's arrivals. A message that fails (a late sidecar that could not be
    attached) is reported failed and delivered again; if the execution cannot start, the whole batch is (a
    redelivered arrival ingested already is found recorded: the ingest's writes are conditional).

    A processor per invocation: it keeps the batch's records and outcomes on itself, and the local runtime's
    function workers run invocations side by side on threads (one shared processor lost a record)."""
    arrivals: list[tuple[ObjectCreated, dict[str, Any]]] = []

    def take(record: SQSRecord) -> None:
        arrivals.extend(arrivals_in(record.body))

    response = process_partial_response(
        event=event, record_handler=take, processor=BatchProcessor(event_type=EventType.SQS), context=context
    )
    start_ingest(arrivals)
    return response
