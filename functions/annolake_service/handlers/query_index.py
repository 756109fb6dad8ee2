"""The query index updater: a batch of the table's change stream (keys only) -> delta files, then upkeep.

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
        change = query_index.change_of(stream.get("Keys", {}), stream.get("SequenceNumber", "0"))
        if change is not None:
            changes.append(change)
    touched = query_index.apply_changes(changes)
    query_index.maintain(touched)
    return {"changes": len(changes), "datasets": len(touched)}
