"""S3 ObjectCreated (drop folder, completed uploads) via SQS -> one ingest execution per batch of arrivals."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.utilities.data_classes import S3Event, SQSEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from annolake_service.services.arrivals import ObjectCreated, arrival_of, start_ingest
from annolake_service.shared.observability import logger


def _created(body: str) -> list[ObjectCreated]:
    notification = json.loads(body)
    if "Records" not in notification:  # S3's test event, sent when a bucket's notifications are configured
        logger.info("notification without records ignored", extra={"event": notification.get("Event")})
        return []
    return [
        ObjectCreated(
            bucket=record.s3.bucket.name,
            raw_key=record.s3.get_object.key,
            size=record.s3.get_object.size or 0,
            etag=record.s3.get_object.etag,
            sequencer=record.s3.get_object.get("sequencer") or "",
        )
        for record in S3Event(notification).records
    ]


@logger.inject_lambda_context
@event_source(data_class=SQSEvent)
def handler(event: SQSEvent, context: LambdaContext) -> dict[str, Any]:
    """One execution for the batch's arrivals. A message whose sidecar could not be attached is reported
    failed (SQS delivers it again); if the execution cannot start, the whole batch is (a redelivered arrival
    ingested already is found recorded: the ingest's writes are conditional)."""
    arrivals: list[tuple[ObjectCreated, dict[str, Any]]] = []
    failed: list[dict[str, str]] = []
    for record in event.records:
        try:
            found = [(created, arrival) for created in _created(record.body) if (arrival := arrival_of(created))]
        except Exception:  # noqa: BLE001 - this message alone is retried
            logger.exception("notification not handled", extra={"message_id": record.message_id})
            failed.append({"itemIdentifier": record.message_id})
        else:
            arrivals.extend(found)
    started = start_ingest(arrivals)
    return {"started": [started] if started else [], "batchItemFailures": failed}
