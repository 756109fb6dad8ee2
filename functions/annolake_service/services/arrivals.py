"""Decide what arrived S3 objects are and start their ingest: one execution for each batch of arrivals."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.utilities.data_classes import S3Event

from annolake_service.adapters import workflows
from annolake_service.domain.object_keys import ObjectKeyRejected, decode_event_key, parse_object_key
from annolake_service.services import ingest
from annolake_service.shared.observability import logger


@dataclass(frozen=True)
class ObjectCreated:
    """One S3 ObjectCreated record, its key as S3 sends it (URL-encoded, ``+`` for spaces)."""

    bucket: str
    raw_key: str
    size: int
    etag: str
    sequencer: str

    @property
    def event_id(self) -> str:
        return f"{self.bucket}/{self.raw_key}/{self.etag}/{self.sequencer}"


def arrival_of(created: ObjectCreated) -> dict[str, Any] | None:
    """The ingest's input for one created object, or None: sidecars (attached here when their image came
    first), folder markers and keys outside a project's dataset start nothing."""
    key = decode_event_key(created.raw_key)
    if key.endswith("/"):
        return None
    try:
        arrived = parse_object_key(key)
    except ObjectKeyRejected as exc:
        logger.warning("object ignored", extra={"bucket": created.bucket, "key": key, "reason": str(exc)})
        return None
    if arrived.is_sidecar:
        # Normally read by the ingest of the image it describes; if that image came first, attach it now.
        attached = ingest.attach_late_sidecar(created.bucket, key)
        if attached:
            logger.info("late sidecar attached", extra={"key": key, "file_id": attached})
        return None
    return {"bucket": created.bucket, "key": key, "size": created.size, "etag": created.etag, "source": arrived.source}


def arrivals_in(notification_body: str) -> list[tuple[ObjectCreated, dict[str, Any]]]:
    """The created objects of one S3 notification (an SQS message's body) that start an ingest, each with its
    ``arrival_of``; S3's test event, sent when a bucket's notifications are configured, has none."""
    notification = json.loads(notification_body)
    if "Records" not in notification:
        logger.info("notification without records ignored", extra={"event": notification.get("Event")})
        return []
    created = [
        ObjectCreated(
            bucket=record.s3.bucket.name,
            raw_key=record.s3.get_object.key,
            size=record.s3.get_object.size or 0,
            etag=record.s3.get_object.etag,
            sequencer=record.s3.get_object.get("sequencer") or "",
        )
        for record in S3Event(notification).records
    ]
    return [(each, arrival) for each in created if (arrival := arrival_of(each)) is not None]


def start_ingest(arrivals: list[tuple[ObjectCreated, dict[str, Any]]]) -> str | None:
    """Start one ingest execution for ``arrivals`` (each created object with its ``arrival_of``); None when
    there are none, or when the same events started one already."""
    if not arrivals:
        return None
    event_id = "\n".join(sorted(created.event_id for created, _ in arrivals))
    return workflows.start_ingest({"arrivals": [arrival for _, arrival in arrivals]}, event_id=event_id)


def start_ingest_for(*, bucket: str, raw_key: str, size: int, etag: str, sequencer: str) -> str | None:
    """The ingest of one created object (``arrival_of``, then ``start_ingest``)."""
    created = ObjectCreated(bucket, raw_key, size, etag, sequencer)
    arrival = arrival_of(created)
    return start_ingest([(created, arrival)]) if arrival is not None else None
