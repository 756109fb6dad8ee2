"""S3 ObjectCreated (drop folder, completed uploads) -> one ingest execution per media object."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.data_classes import S3Event, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from annolake_service.services.arrivals import start_ingest_for


@event_source(data_class=S3Event)
def handler(event: S3Event, context: LambdaContext) -> dict[str, Any]:
    started = [
        arn
        for record in event.records
        if (
            arn := start_ingest_for(
                bucket=record.s3.bucket.name,
                raw_key=record.s3.get_object.key,  # as S3 sends it: URL-encoded, `+` for spaces
                size=record.s3.get_object.size or 0,
                etag=record.s3.get_object.etag,
                sequencer=record.s3.get_object.get("sequencer") or "",
            )
        )
    ]
    return {"started": started}
