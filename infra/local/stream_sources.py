"""DynamoDB Streams -> Lambda event source mappings, run the way Lambda's stream poller runs them.

moto numbers a shard's records from the same start again each time a mapped function took them (so sequence
numbers repeat), and invokes the function inside the ``PutItem`` that wrote the record, one call per write.
Here each record gets a sequence number above every earlier one (time-based, so it keeps growing across a
restart), the writer returns at once, and a delivery thread per table hands the function the records in
batches (up to ``BATCH_SIZE``, after a short batching window), in order, each mapping the records its filter
patterns let through. A batch the function fails is
retried with backoff, as Lambda blocks a shard on a failing batch; after the last attempt the batch is
logged and dropped (the cloud sends it to the mapping's on-failure queue).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import deque
from typing import Any

from moto.awslambda.utils import get_backend
from moto.dynamodb.models.table import StreamRecord, StreamShard
from moto.events.models import EventPattern

log = logging.getLogger("local-runtime.stream-sources")
BATCH_SIZE = 100
WINDOW_S = 0.2
RETRY_DELAYS_S = (0.5, 1.0, 2.0, 4.0, 4.0, 4.0, 4.0, 4.0, 4.0, 4.0)  # ten retries, as the mapping declares
_original_add = StreamShard.add
_sequence_lock = threading.Lock()
_last_sequence = 0


def _next_sequence() -> int:
    global _last_sequence
    with _sequence_lock:
        _last_sequence = max(_last_sequence + 1, time.time_ns())
        return _last_sequence


class _Delivery:
    """The records of one table's stream waiting for its mapped functions, and the thread delivering them."""

    def __init__(self, table: Any, account_id: str) -> None:
        self.table = table
        self.account_id = account_id
        self.pending: deque[dict[str, Any]] = deque()
        self.ready = threading.Condition()
        self.stopped = False
        self.thread = threading.Thread(target=self._run, name=f"stream-{table.name}", daemon=True)
        self.thread.start()

    def add(self, record: dict[str, Any]) -> None:
        with self.ready:
            if self.stopped:
                return
            self.pending.append(record)
            self.ready.notify()

    def stop(self) -> None:
        """Deliver nothing more (what waits is dropped): the emulator whose functions these were has stopped."""
        with self.ready:
            self.stopped = True
            self.pending.clear()
            self.ready.notify()

    def _take(self) -> list[dict[str, Any]]:
        with self.ready:
            while not self.pending and not self.stopped:
                self.ready.wait()
        time.sleep(WINDOW_S)  # let a burst of writes share a batch
        with self.ready:
            return [self.pending.popleft() for _ in range(min(BATCH_SIZE, len(self.pending)))]

    def _run(self) -> None:
        while not self.stopped:
            batch = self._take()
            for function_arn, mapping in list(self.table.lambda_event_source_mappings.items()):
                if batch and not self.stopped:
                    self._deliver(function_arn, mapping, batch)

    def _deliver(self, function_arn: str, mapping: Any, batch: list[dict[str, Any]]) -> None:
        region = function_arn.split(":")[3]
        patterns = _patterns(mapping)
        records = [{**r, "awsRegion": region, "eventSourceARN": mapping.event_source_arn} for r in batch]
        records = [r for r in records if _passes(patterns, r)]
        if not records:
            return
        event = {"Records": records}
        for attempt in range(len(RETRY_DELAYS_S) + 1):
            if self.stopped:
                return
            headers: dict[str, Any] = {}
            try:
                get_backend(self.account_id, region).invoke(
                    function_name=function_arn,
                    qualifier=None,
                    body=json.dumps(event),
                    headers={},
                    response_headers=headers,
                )
            except Exception:  # noqa: BLE001 - an invocation that cannot run fails the batch
                log.exception("invoking %s for the stream of %s failed", function_arn, self.table.name)
                headers = {"x-amz-function-error": "Unhandled"}
            if "x-amz-function-error" not in headers:
                return
            if attempt < len(RETRY_DELAYS_S):
                time.sleep(RETRY_DELAYS_S[attempt])
        log.error(
            "a batch of %d records of the stream of %s failed %d times in %s; dropped",
            len(batch),
            self.table.name,
            len(RETRY_DELAYS_S) + 1,
            function_arn,
        )


Pattern = tuple[EventPattern, dict[str, Any]]


def _patterns(mapping: Any) -> list[Pattern]:
    """The mapping's filter patterns (Lambda's event filtering: EventBridge's pattern syntax over the record),
    each with its parsed form."""
    filters = (getattr(mapping, "filter_criteria", None) or {}).get("Filters") or []
    return [(EventPattern.load(f["Pattern"]), json.loads(f["Pattern"])) for f in filters if f.get("Pattern")]


def _named(shape: Any, event: Any) -> Any:
    """Only the parts of ``event`` a pattern of this ``shape`` names: moto's matcher flattens the whole event
    first, and a record carries two whole item images. A level with an operator key (``$or``) is kept whole."""
    if not isinstance(shape, dict) or not isinstance(event, dict) or any(k.startswith("$") for k in shape):
        return event
    return {key: _named(shape[key], event[key]) for key in shape if key in event}


def _passes(patterns: list[Pattern], record: dict[str, Any]) -> bool:
    """Whether ``record`` reaches a mapping with these filter ``patterns``: none, or the record matches one."""
    return not patterns or any(pattern.matches_event(_named(shape, record)) for pattern, shape in patterns)


_deliveries: dict[int, _Delivery] = {}
_deliveries_lock = threading.Lock()


def _delivery(shard: StreamShard) -> _Delivery:
    with _deliveries_lock:
        found = _deliveries.get(id(shard.table))
        if found is None or found.table is not shard.table:
            found = _deliveries[id(shard.table)] = _Delivery(shard.table, shard.account_id)
        return found


def _add(self: StreamShard, old: Any, new: Any) -> None:
    view_type = self.table.stream_specification["StreamViewType"]  # type: ignore[index]
    event_name = "INSERT" if old is None else ("REMOVE" if new is None else "MODIFY")
    record = StreamRecord(self.table, view_type, event_name, old, new, _next_sequence())
    self.items.append(record)
    del self.items[:-10_000]  # GetRecords readers see the recent records; the mappings get them all
    if self.table.lambda_event_source_mappings:
        as_json = record.to_json()
        dynamodb = dict(as_json["dynamodb"])
        dynamodb["ApproximateCreationDateTime"] = dynamodb["ApproximateCreationDateTime"].timestamp()
        _delivery(self).add({**{k: v for k, v in as_json.items() if k != "dynamodb"}, "dynamodb": dynamodb})


def stop_deliveries() -> None:
    """Stop every table's delivery thread (a later write starts a new one): a batch still being retried must
    not reach moto's own invoke (its Docker path) once the emulator's function runtime is gone."""
    with _deliveries_lock:
        stopping = list(_deliveries.values())
        _deliveries.clear()
    for delivery in stopping:
        delivery.stop()


def installed() -> bool:
    return StreamShard.add is _add


def install() -> None:
    StreamShard.add = _add  # type: ignore[method-assign]


def uninstall() -> None:
    StreamShard.add = _original_add  # type: ignore[method-assign]
