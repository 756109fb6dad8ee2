"""The query index's functions. The updater: a batch of the table's change stream (keys only) -> delta files,
then upkeep. The compactor: run on a schedule, folds every index's deltas into a new base.

A failed batch raises, so the stream retries it (and splits it to find a bad record) before it goes to the
dead-letter queue; writing a batch twice writes the same rows (``services/query_index.py``).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from annolake_service.services import query_index
from annolake_service.shared.observability import logger


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    changes = []
    for record in event.get("Records", []):
        stream = record.get("dynamodb", {})
        change = query_index.change_of(
            stream.get("Keys", {}), stream.get("SequenceNumber", "0"), record.get("eventName", "MODIFY")
        )
        if change is not None:
            changes.append(change)
    touched = query_index.apply_changes(changes)
    query_index.maintain(touched)
    return {"changes": len(changes), "datasets": len(touched)}


@logger.inject_lambda_context
def compact_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """A scheduled event (its content unused); raises if any index failed to compact, so the run counts as an
    error (alarmed) and the next run tries again."""
    compacted = query_index.compact_all()
    return {"compacted": len(compacted)}
