"""Domain events on the EventBridge bus: ``source = "annolake"``, ``detail-type`` = the event name."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from annolake_service.adapters.aws_clients import TransientError, client
from annolake_service.shared.observability import logger
from annolake_service.shared.settings import get_settings

SOURCE = "annolake"


def publish(event_type: str, project_id: str, detail: dict[str, Any], *, required: bool = False) -> None:
    """Put one event on the bus. Most events are notifications: a failure is logged, not raised to the caller.

    botocore retries transient errors itself; what still fails is reported in the log with the event, so
    nothing vanishes silently. ``required``: the event gives work to others (``file_ingested`` starts the
    review of files in the jobs watching their dataset), so a failure raises ``TransientError`` and the step
    that publishes it is retried, then recorded as failed, rather than the work being lost.
    """
    bus = get_settings().event_bus_name
    if not bus:
        return
    body = {"project_id": project_id, "occurred_at": datetime.now(UTC).isoformat(), **detail}
    entry = {"Source": SOURCE, "DetailType": event_type, "Detail": json.dumps(body, default=str), "EventBusName": bus}
    try:
        response = client("events").put_events(Entries=[entry])
        problem = response["Entries"] if response.get("FailedEntryCount") else None
    except Exception as exc:  # noqa: BLE001 - see the docstring
        problem = f"{type(exc).__name__}: {exc}"
    if problem is None:
        return
    logger.error("could not publish an event", extra={"event": entry, "problem": problem})
    if required:
        raise TransientError(f"the {event_type} event was not published: {problem}")
