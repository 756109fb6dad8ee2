"""The single table's change stream for service tests: the records moto has put on it since the last delivery,
handed to the workflow's progress as Lambda's stream poller hands them to its function (the filters left
out: the function ignores what they would have held back)."""

from __future__ import annotations

import os
from typing import Any

from infra.local.state.moto_backends import moto_table


class TableStream:
    """The stream of the table the service is pointed at (``TABLE_NAME``), read from its next record on."""

    def __init__(self) -> None:
        self.table = moto_table(os.environ.get("AWS_DEFAULT_REGION", "us-east-1"), os.environ["TABLE_NAME"])
        assert self.table is not None, "the table is not in this process's moto"  # noqa: S101
        self.after = self._last()

    def _records(self) -> list[dict[str, Any]]:
        return [record.to_json() for record in self.table.stream_shard.items]

    def _last(self) -> int:
        return max((int(r["dynamodb"]["SequenceNumber"]) for r in self._records()), default=0)

    def take(self) -> list[dict[str, Any]]:
        """The records written since the last ``take``, oldest first."""
        records = [r for r in self._records() if int(r["dynamodb"]["SequenceNumber"]) > self.after]
        self.after = max((int(r["dynamodb"]["SequenceNumber"]) for r in records), default=self.after)
        return records

    def deliver_progress(self) -> dict[str, Any]:
        """The new records to the workflow's progress (``services/workflow_progress.apply``): its outcome."""
        from annolake_service.services import workflow_progress

        return workflow_progress.apply(self.take())
