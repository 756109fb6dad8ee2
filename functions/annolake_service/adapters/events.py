"""Domain events on the EventBridge bus: ``source = "annolake"``, ``detail-type`` = the event name."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from annolake_service.adapters.aws_clients import client
from annolake_service.shared.observability import logger
from annolake_service.shared.settings import get_settings

SOURCE = "annolake"


def publish(event_type: str, project_id: str, detail: dict[str, Any]) -> None:
    """Put one event on the bus. Events are notifications: a failure is logged, not raised to the caller.

    botocore retries transient errors itself; what still fails is reported in the log with the event, so
    nothing vanishes silently.
    """
    bus = get_settings().event_bus_name
    if not bus:
        return
    body = {"project_id": project_id, "occurred_at": datetime.now(UTC).isoformat(), **detail}
    entry = {"Source": SOURCE, "DetailType": event_type, "Detail": json.dumps(body, default=str), "EventBusName": bus}
    try:
        response = client("events").put_events(Entries=[entry])
        if response.get("FailedEntryCount"):
            logger.error("event not accepted by the bus", extra={"event": entry, "response": response["Entries"]})
    except Exception:  # noqa: BLE001 - see the docstring
        logger.exception("could not publish an event", extra={"event": entry})
