"""Decide what an arrived S3 object is and start its ingest."""

from __future__ import annotations

from annolake_service.adapters import workflows
from annolake_service.domain.object_keys import ObjectKeyRejected, decode_event_key, parse_object_key
from annolake_service.services import ingest
from annolake_service.shared.observability import logger


def start_ingest_for(*, bucket: str, raw_key: str, size: int, etag: str, sequencer: str) -> str | None:
    """Start the ingest execution for one object; sidecars and folder markers start none."""
    key = decode_event_key(raw_key)
    if key.endswith("/"):
        return None
    try:
        arrived = parse_object_key(key)
    except ObjectKeyRejected as exc:
        logger.warning("object ignored", extra={"bucket": bucket, "key": key, "reason": str(exc)})
        return None
    if arrived.is_sidecar:
        # Normally read by the ingest of the image it describes; if that image came first, attach it now.
        attached = ingest.attach_late_sidecar(bucket, key)
        if attached:
            logger.info("late sidecar attached", extra={"key": key, "file_id": attached})
        return None
    payload = {"bucket": bucket, "key": key, "size": size, "etag": etag, "source": arrived.source}
    return workflows.start_ingest(payload, event_id=f"{bucket}/{key}/{etag}/{sequencer}")
