"""DynamoDB Streams -> Lambda event source mappings, run the way Lambda's stream poller runs them.

moto numbers a shard's records from the same start again each time a mapped function took them (so sequence
numbers repeat), and invokes the function inside the ``PutItem`` that wrote the record, one call per write.
Here each record gets a sequence number above every earlier one (time-based, so it keeps growing across a
restart), the writer returns at once, and each mapping of the table has a feed of its own, with its own
thread: the records its filter patterns let through are gathered into batches as the mapping declares them,
in order, a batch sent once it holds ``BatchSize`` records (100 when unset) or once its oldest record has
waited ``MaximumBatchingWindowInSeconds`` (none when unset), here at most ``MAX_WINDOW_S``: records waiting
are held in memory only, so a crash loses them (the cloud's stream keeps them a day), and the local platform
keeps that exposure short. A batch the function fails is retried with backoff, as Lambda blocks a shard on a
failing batch (that mapping's feed only, so a failing function holds up no other); after the last attempt the
batch is logged and dropped (the cloud sends it to the mapping's on-failure queue).
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
DEFAULT_BATCH_SIZE = 100  # Lambda's default for a stream
MAX_WINDOW_S = 0.2
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
    """One table's stream on its way to the table's mapped functions: a feed per mapping."""

    def __init__(self, table: Any, account_id: str) -> None:
        self.table = table
        self.account_id = account_id
        self.stopped = False
        self._feeds: dict[str, _Feed] = {}
        self._lock = threading.Lock()

    def add(self, record: dict[str, Any]) -> None:
        arrived = time.monotonic()
        for function_arn in list(self.table.lambda_event_source_mappings):
            feed = self._feeds.get(function_arn)
            if feed is None:
                with self._lock:
                    if self.stopped:
                        return
                    feed = self._feeds.get(function_arn)
                    if feed is None:
                        feed = self._feeds[function_arn] = _Feed(self, function_arn)
            feed.add(arrived, record)

    def stop(self) -> None:
        """Deliver nothing more (what waits is dropped): the emulator whose functions these were has stopped."""
        with self._lock:
            self.stopped = True
            feeds = list(self._feeds.values())
        for feed in feeds:
            feed.stop()

    def join(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for the feeds' threads to end (once stopped); whether all did."""
        deadline = time.monotonic() + timeout
        for feed in list(self._feeds.values()):
            feed.thread.join(max(0.0, deadline - time.monotonic()))
        return not any(feed.thread.is_alive() for feed in list(self._feeds.values()))

    def _deliver(self, function_arn: str, mapping: Any, batch: list[dict[str, Any]]) -> None:
        """Invoke the function with ``batch`` (records its filters let through), retrying a failed batch."""
        region = function_arn.split(":")[3]
        event = {"Records": [{**r, "awsRegion": region, "eventSourceARN": mapping.event_source_arn} for r in batch]}
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


class _Feed:
    """The records of one table's stream waiting for one mapped function, and the thread batching them.

    The writer only appends (and wakes the thread for a first record, or when a batch may be full); the
    thread filters, so a write request pays nothing for the patterns."""

    def __init__(self, delivery: _Delivery, function_arn: str) -> None:
        self.delivery = delivery
        self.function_arn = function_arn
        self.pending: deque[tuple[float, dict[str, Any]]] = deque()
        self.ready = threading.Condition()
        self.stopped = False
        self.batch_size, self.window = DEFAULT_BATCH_SIZE, 0.0
        self._mapping: Any = None
        self._criteria: Any = None
        self._patterns: list[Pattern] = []
        name = f"stream-{delivery.table.name}-{function_arn.rsplit(':', 1)[-1]}"
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)
        self.thread.start()

    def add(self, arrived: float, record: dict[str, Any]) -> None:
        with self.ready:
            if self.stopped:
                return
            self.pending.append((arrived, record))
            if len(self.pending) == 1 or len(self.pending) % self.batch_size == 0:
                self.ready.notify()

    def stop(self) -> None:
        with self.ready:
            self.stopped = True
            self.pending.clear()
            self.ready.notify()

    def _run(self) -> None:
        passed: deque[tuple[float, dict[str, Any]]] = deque()  # let through, not yet sent
        while True:
            with self.ready:
                while not self.stopped:
                    if not passed and not self.pending:
                        self.ready.wait()
                        continue
                    left = (passed or self.pending)[0][0] + self.window - time.monotonic()
                    if left <= 0 or len(passed) + len(self.pending) >= self.batch_size:
                        break
                    self.ready.wait(left)
                if self.stopped:
                    return
                arrived, self.pending = self.pending, deque()
            mapping = self._configured()
            if mapping is None:  # the mapping was deleted: its records go nowhere
                passed.clear()
                continue
            passed.extend(item for item in arrived if _passes(self._patterns, item[1]))
            if not passed or (len(passed) < self.batch_size and passed[0][0] + self.window > time.monotonic()):
                continue
            batch = [passed.popleft()[1] for _ in range(min(self.batch_size, len(passed)))]
            self.delivery._deliver(self.function_arn, mapping, batch)  # noqa: SLF001 - the delivery's own feed

    def _configured(self) -> Any:
        """The mapping as it is now (None once deleted), its batch size, window and patterns taken from it."""
        mapping = self.delivery.table.lambda_event_source_mappings.get(self.function_arn)
        if mapping is None:
            return None
        criteria = getattr(mapping, "filter_criteria", None)
        if mapping is not self._mapping or criteria is not self._criteria:
            self._mapping, self._criteria, self._patterns = mapping, criteria, _patterns(mapping)
        self.batch_size = int(getattr(mapping, "batch_size", None) or DEFAULT_BATCH_SIZE)
        self.window = min(float(getattr(mapping, "max_batch_window", None) or 0), MAX_WINDOW_S)
        return mapping


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
