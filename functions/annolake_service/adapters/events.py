"""Domain events on the EventBridge bus: ``source = "annolake"``, ``detail-type`` = the event name."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from annolake_service.adapters.aws_clients import TransientError, client
from annolake_service.shared.observability import logger
from annolake_service.shared.settings import get_settings

SOURCE = "annolake"


PUT_EVENTS_LIMIT = 10  # entries one PutEvents call takes


def publish(event_type: str, project_id: str, detail: dict[str, Any], *, required: bool = False) -> None:
    """Put one event on the bus. Most events are notifications: a failure is logged, not raised to the caller.

    botocore retries transient errors itself; what still fails is reported in the log with the event, so
    nothing vanishes silently. ``required``: the event gives work to others (``file_ingested`` starts the
    review of files in the jobs watching their dataset), so a failure raises ``TransientError`` and the step
    that publishes it is retried, then recorded as failed, rather than the work being lost.
    """
    publish_all([(event_type, project_id, detail)], required=required)


def publish_all(events: list[tuple[str, str, dict[str, Any]]], *, required: bool = False) -> None:
    """Put ``(event_type, project_id, detail)`` events on the bus, ten to a call; failures as ``publish``'s."""
    bus = get_settings().event_bus_name
    if not bus or not events:
        return
    occurred_at = datetime.now(UTC).isoformat()
    entries = [
        {
            "Source": SOURCE,
            "DetailType": event_type,
            "Detail": json.dumps({"project_id": project_id, "occurred_at": occurred_at, **detail}, default=str),
            "EventBusName": bus,
        }
        for event_type, project_id, detail in events
    ]
    for start in range(0, len(entries), PUT_EVENTS_LIMIT):
        chunk = entries[start : start + PUT_EVENTS_LIMIT]
        try:
            response = client("events").put_events(Entries=chunk)
            problem = response["Entries"] if response.get("FailedEntryCount") else None
        except Exception as exc:  # noqa: BLE001 - see publish's docstring
            problem = f"{type(exc).__name__}: {exc}"
        if problem is None:
            continue
        logger.error("could not publish events", extra={"events": chunk, "problem": problem})
        if required:
            names = ", ".join(sorted({entry["DetailType"] for entry in chunk}))
            counted = "event was" if len(chunk) == 1 else f"events ({len(chunk)}) were"
            raise TransientError(f"the {names} {counted} not published: {problem}")
