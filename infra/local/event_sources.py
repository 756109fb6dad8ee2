"""SQS -> Lambda event source mappings, run the way Lambda's poller runs them.

moto invokes a mapped function inside ``SendMessage`` itself, one message per invocation, and ignores
partial batch responses. So an ``events:PutEvents`` from an API request would wait for webhook deliveries,
and a failed record would vanish. Here the messages go to the mapping's poller instead (the sender returns at
once), which hands the function batches as Lambda's does: up to the mapping's ``BatchSize`` messages, as many
as are waiting, gathered for up to its ``MaximumBatchingWindowInSeconds`` first when it has one, with at most
``BATCHES_IN_FLIGHT`` batches of one mapping running at once (a burst of a thousand events is a hundred
invocations, not a thousand). Records a function reports as failed (``batchItemFailures``, or all of them on
a function error) are retried with a short backoff, and after the queue's ``maxReceiveCount`` they go to its
dead-letter queue, as SQS would move them. Locally the backoff is seconds, not the visibility timeout, so
development does not wait minutes.

A message sent to a queue a function is mapped to goes to that mapping's poller at once, as it is added: moto
instead received from the whole queue in each sender's thread (a scan of every message, copies, a 185-character
receipt handle drawn a character at a time, and a delete that scans again), and two senders at once could take
each other's messages, so one of them deleted with a stale receipt handle and failed (``ReceiptHandleIsInvalid``).

While the platform starts (``hold`` .. ``release``), batches wait: nothing is delivered before the saved state
is back, so no handler runs against half-restored data and no message is dead-lettered because of it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from moto.awslambda.models import LambdaBackend
from moto.awslambda.utils import get_backend
from moto.sqs.models import Message, Queue

log = logging.getLogger("local-runtime.event-sources")
RETRY_DELAYS_S = (1.0, 2.0, 4.0, 8.0)
_original = LambdaBackend.send_sqs_batch
_original_add_message = Queue.add_message
BATCHES_IN_FLIGHT = 2  # per mapping: what a slow function (a webhook's endpoint) holds up is its own mapping's
_workers = ThreadPoolExecutor(max_workers=8, thread_name_prefix="sqs-poller")
_held: list[tuple[Any, ...]] | None = None  # batches that arrived while held
_held_lock = threading.Lock()
_pollers: dict[tuple[str, str], _Poller] = {}  # (function ARN, queue ARN) -> its poller


def _record(message: Any, queue_arn: str, region: str, receive_count: int) -> dict[str, Any]:
    return {
        "messageId": message.id,
        "receiptHandle": message.receipt_handle,
        "body": message.body,
        "attributes": {"ApproximateReceiveCount": str(receive_count), "SentTimestamp": str(int(time.time() * 1000))},
        "messageAttributes": {},
        "md5OfBody": message.body_md5,
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


def _queue_of(queue_arn: str, account_id: str, region: str) -> Any:
    from moto.sqs.models import sqs_backends

    backend = sqs_backends[account_id][region]
    return next(q for q in backend.queues.values() if q.queue_arn == queue_arn), backend


def _failed_ids(payload: bytes | str | None, function_error: bool, batch: list[Any]) -> set[str]:
    if function_error:
        return {m.id for m in batch}
    try:
        response = json.loads(payload or b"null")
    except (TypeError, ValueError):
        return set()
    failures = response.get("batchItemFailures", []) if isinstance(response, dict) else []
    return {f["itemIdentifier"] for f in failures if isinstance(f, dict) and "itemIdentifier" in f}


def _deliver(poller: _Poller, messages: list[Any]) -> None:
    backend, function_arn, queue_arn = poller.backend, poller.function_arn, poller.queue_arn
    queue, sqs = _queue_of(queue_arn, backend.account_id, backend.region_name)
    redrive = queue.redrive_policy or {}
    max_receives = int(redrive.get("maxReceiveCount") or len(RETRY_DELAYS_S) + 1)
    pending = list(messages)
    for attempt in range(1, max_receives + 1):
        if poller.stopped:  # its emulator stopped: its function runtime is gone, so no attempt can run
            return
        headers: dict[str, Any] = {}
        event = {"Records": [_record(m, queue_arn, backend.region_name, attempt) for m in pending]}
        try:
            payload = backend.invoke(
                function_name=function_arn, qualifier=None, body=json.dumps(event), headers={}, response_headers=headers
            )
        except Exception:  # noqa: BLE001 - an invocation that cannot run fails the whole batch
            log.exception("invoking %s for %s failed", function_arn, queue_arn)
            payload, headers = None, {"x-amz-function-error": "Unhandled"}
        failed = _failed_ids(payload, "x-amz-function-error" in headers, pending)
        pending = [m for m in pending if m.id in failed]
        if not pending:
            return
        if attempt < max_receives:
            time.sleep(RETRY_DELAYS_S[min(attempt - 1, len(RETRY_DELAYS_S) - 1)])
    target = redrive.get("deadLetterTargetArn")
    for message in pending:
        if target:
            dead_letters, _ = _queue_of(target, backend.account_id, backend.region_name)
            sqs.send_message(dead_letters.name, message.body)
        log.warning("message %s from %s failed %d times; moved to %s", message.id, queue_arn, max_receives, target)


class _Poller:
    """One mapping's messages not yet handed to its function, and the batches it has running."""

    def __init__(self, backend: LambdaBackend, function_arn: str, queue_arn: str) -> None:
        self.backend, self.function_arn, self.queue_arn = backend, function_arn, queue_arn
        mapping = _mapping_of(backend, function_arn, queue_arn)
        self.batch_size = int(getattr(mapping, "batch_size", None) or 10)
        self.window_s = float(getattr(mapping, "max_batch_window", None) or 0)
        self.waiting: list[Any] = []
        self.running = 0  # batches handed to the function and not yet settled
        self.gathering = False  # a batching window is open
        self.stopped = False  # set when the emulator stops: nothing more is delivered or retried

    def stop(self) -> None:
        """Deliver nothing more (what waits is dropped, a batch being retried is not retried again)."""
        with _held_lock:
            self.stopped = True
            self.waiting.clear()

    def add(self, messages: list[Any]) -> None:
        with _held_lock:
            self.waiting.extend(messages)
            self._start_batches()

    def _start_batches(self) -> None:
        """Under ``_held_lock``: hand out full batches, or what waits once no window is open."""
        while self.waiting and self.running < BATCHES_IN_FLIGHT and not self.stopped:
            if len(self.waiting) < self.batch_size and self.window_s and not self.gathering:
                self.gathering = True  # the first message of a batch opens the window
                _workers.submit(self._close_window)
                return
            if self.gathering and len(self.waiting) < self.batch_size:
                return  # the open window ends the gathering
            self._hand_out()

    def _hand_out(self) -> None:
        """Under ``_held_lock``: the next batch of what waits goes to the function."""
        batch, self.waiting = self.waiting[: self.batch_size], self.waiting[self.batch_size :]
        self.running += 1
        _workers.submit(self._run, batch)

    def _close_window(self) -> None:
        time.sleep(self.window_s)
        with _held_lock:
            self.gathering = False
            if self.waiting and self.running < BATCHES_IN_FLIGHT:
                self._hand_out()  # however few gathered
            self._start_batches()

    def _run(self, batch: list[Any]) -> None:
        try:
            _deliver(self, batch)
        finally:
            with _held_lock:
                self.running -= 1
                self._start_batches()


def _mapping_of(backend: LambdaBackend, function_arn: str, queue_arn: str) -> Any:
    with contextlib.suppress(Exception):
        queue, _ = _queue_of(queue_arn, backend.account_id, backend.region_name)
        return queue.lambda_event_source_mappings.get(function_arn)
    return None


def _poller(backend: LambdaBackend, function_arn: str, queue_arn: str) -> _Poller:
    with _held_lock:
        poller = _pollers.get((function_arn, queue_arn))
    if poller is None or poller.backend is not backend:  # a mapping of a new emulator (tests start several)
        poller = _Poller(backend, function_arn, queue_arn)
        with _held_lock:
            _pollers[(function_arn, queue_arn)] = poller
    return poller


def _send_sqs_batch_async(self: LambdaBackend, function_arn: str, messages: Any, queue_arn: str) -> bool:
    batch = list(messages)
    if batch:
        with _held_lock:
            if _held is not None:
                _held.append((self, function_arn, batch, queue_arn))
                return True
        _poller(self, function_arn, queue_arn).add(batch)
    return True  # the messages are now this poller's: moto deletes them from the queue


def _add_message_to_its_mapping(self: Queue, message: Message) -> None:
    """moto's ``Queue.add_message``, except that a message for a mapped function is received by the mapping's
    poller straight away (it never waits in the queue for a sender's thread to find it). A FIFO queue, a
    delayed message or a queue no function is mapped to takes moto's path."""
    mapped = next((arn for arn, esm in self.lambda_event_source_mappings.items() if esm.enabled), None)
    if mapped is None or self.fifo_queue or message.delayed:
        _original_add_message(self, message)
        return
    message.approximate_receive_count += 1
    message.approximate_first_receive_timestamp = message.sent_timestamp
    message.receipt_handle = uuid.uuid4().hex
    get_backend(self.account_id, self.region).send_sqs_batch(mapped, [message], self.queue_arn)


def install() -> None:
    LambdaBackend.send_sqs_batch = _send_sqs_batch_async  # type: ignore[method-assign]
    Queue.add_message = _add_message_to_its_mapping  # type: ignore[method-assign]


def hold() -> None:
    """Keep batches from now on until ``release``."""
    global _held
    with _held_lock:
        if _held is None:
            _held = []


def release() -> int:
    """Deliver the batches kept since ``hold``, and every later one at once; returns how many were kept."""
    global _held
    with _held_lock:
        kept, _held = _held or [], None
    for backend, function_arn, batch, queue_arn in kept:
        _poller(backend, function_arn, queue_arn).add(batch)
    return len(kept)


def uninstall() -> None:
    """moto's own delivery again, and every poller stopped: what waits is dropped and a batch being retried is
    not retried again (its next attempt would reach moto's own invoke, its Docker path, in a later emulator's
    process)."""
    LambdaBackend.send_sqs_batch = _original  # type: ignore[method-assign]
    Queue.add_message = _original_add_message  # type: ignore[method-assign]
    with _held_lock:
        stopping = list(_pollers.values())
        _pollers.clear()
    for poller in stopping:
        poller.stop()
