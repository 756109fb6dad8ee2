"""The local delivery of a table's stream to its mapped functions: filters as Lambda applies them, batches as
the mapping declares them, and a delivery that stops with its emulator."""

from __future__ import annotations

import json
import threading
import time
from types import SimpleNamespace
from typing import Any
from unittest import mock

from infra.local import stream_sources

ACCOUNT = "000000000042"  # no emulator's: deliveries of other tests' tables in this process keep going to theirs
ARN = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:progress"


def _record(kind: str, status: str, before: str | None = None) -> dict[str, Any]:
    images: dict[str, Any] = {"NewImage": {"kind": {"S": kind}, "status": {"S": status}}}
    if before is not None:
        images["OldImage"] = {"kind": {"S": kind}, "status": {"S": before}}
    return {"eventName": "MODIFY" if before else "INSERT", "dynamodb": {"Keys": {"PK": {"S": "p"}}, **images}}


def _mapping(*patterns: dict[str, Any], batch_size: int | None = None, window: float | None = None) -> SimpleNamespace:
    criteria = {"Filters": [{"Pattern": json.dumps(p)} for p in patterns]} if patterns else None
    return SimpleNamespace(
        event_source_arn="arn:stream", filter_criteria=criteria, batch_size=batch_size, max_batch_window=window
    )


class _Backend:
    """What ``get_backend(...)`` answers: records each invocation's records; fails them while ``failing``."""

    def __init__(self, failing: bool, held: threading.Event | None = None) -> None:
        self.failing = failing
        self.invoked: list[list[dict[str, Any]]] = []
        self.called = threading.Event()
        self.held = held  # set: an invocation answers only once the test lets it

    def invoke(self, *, body: str, response_headers: dict[str, Any], **_: Any) -> None:
        self.invoked.append(json.loads(body)["Records"])
        self.called.set()
        if self.held is not None:
            self.held.wait(5)
        if self.failing:
            response_headers["x-amz-function-error"] = "Unhandled"


def _answering(backend: _Backend) -> Any:
    """``get_backend`` answering ``backend`` for this module's account only: an in-process emulator of an earlier
    test in this worker may still be delivering its own stream's records (retries last seconds)."""
    real = stream_sources.get_backend
    return mock.patch.object(
        stream_sources,
        "get_backend",
        side_effect=lambda account, region: backend if account == ACCOUNT else real(account, region),
    )


def _delivering(mapping: SimpleNamespace) -> Any:
    table = SimpleNamespace(name="t", lambda_event_source_mappings={ARN: mapping})
    return stream_sources._Delivery(table, ACCOUNT)


def test_a_mapping_gets_only_the_records_its_filter_patterns_let_through_and_none_without_any():
    submitted = {"dynamodb": {"NewImage": {"kind": {"S": ["task"]}, "status": {"S": ["submitted"]}}}}
    completed = {"dynamodb": {"NewImage": {"kind": {"S": ["job_file"]}, "status": {"S": ["complete"]}}}}
    filtered = _mapping(submitted, completed)
    records = [
        _record("task", "submitted", before="in_progress"),
        _record("task", "available"),
        _record("job_file", "complete", before="annotating"),
        _record("job_file", "reviewing", before="annotating"),
        _record("file", "ready"),
    ]
    passed = [r for r in records if stream_sources._passes(stream_sources._patterns(filtered), r)]
    assert passed == [records[0], records[2]]
    no_filters = stream_sources._patterns(_mapping())
    assert all(stream_sources._passes(no_filters, r) for r in records)  # every record


def test_patterns_on_either_image_or_with_an_or_match_as_on_the_whole_record():
    """The query index updater's filters (a kind on the new or the old image: a removed item has only the old)
    and an ``$or`` pattern, against records whose images carry more than the patterns name."""
    kinds = {"S": ["file", "dataset_member"]}
    updater = _mapping({"dynamodb": {"NewImage": {"kind": kinds}}}, {"dynamodb": {"OldImage": {"kind": kinds}}})
    either = _mapping({"$or": [{"eventName": ["REMOVE"]}, {"dynamodb": {"NewImage": {"status": {"S": ["ready"]}}}}]})
    removed = {"eventName": "REMOVE", "dynamodb": {"OldImage": {"kind": {"S": "dataset_member"}, "n": {"N": "1"}}}}
    records = [
        _record("file", "ready", before="processing"),
        _record("task", "submitted", before="in_progress"),
        removed,
        {"eventName": "REMOVE", "dynamodb": {"OldImage": {"kind": {"S": "task"}}}},
    ]
    for record in records:  # the images carry much more than the patterns name
        for image in record["dynamodb"].values():
            image.update({f"a{i}": {"L": [{"M": {"x": {"N": str(i)}}}]} for i in range(30)})
    assert [r for r in records if stream_sources._passes(stream_sources._patterns(updater), r)] == [
        records[0],
        records[2],
    ]
    assert [r for r in records if stream_sources._passes(stream_sources._patterns(either), r)] == [
        records[0],
        records[2],
        records[3],
    ]


def test_a_delivery_stopped_with_its_emulator_stops_retrying_and_drops_what_waits():
    answer = threading.Event()
    backend = _Backend(failing=True, held=answer)
    with _answering(backend):
        delivery = _delivering(_mapping())
        delivery.add(_record("task", "submitted", before="in_progress"))
        assert backend.called.wait(5), "the batch was never delivered"
        delivery.stop()  # while the invocation runs: its failure comes after the stop, however slow this thread is
        answer.set()
        delivery.add(_record("task", "submitted", before="reserved"))  # arrives after the stop
        assert delivery.join(timeout=5)
        time.sleep(stream_sources.RETRY_DELAYS_S[0])
    assert len(backend.invoked) == 1  # the failed batch was not retried, the later record not delivered


def test_stopping_the_deliveries_forgets_them_so_a_later_write_starts_a_new_one():
    backend = _Backend(failing=False)
    shard = SimpleNamespace(table=SimpleNamespace(name="t", lambda_event_source_mappings={}), account_id=ACCOUNT)
    with _answering(backend):
        first = stream_sources._delivery(shard)
        assert stream_sources._delivery(shard) is first
        stream_sources.stop_deliveries()
        assert first.stopped and first.join(timeout=5)
        second = stream_sources._delivery(shard)
        assert second is not first and not second.stopped
        stream_sources.stop_deliveries()


def test_records_go_in_batches_of_the_mappings_size_or_once_the_oldest_waited_its_window():
    """A full batch goes at once; what is left goes when its oldest record has waited the mapping's window (at
    most ``MAX_WINDOW_S`` here: records in memory are lost at a crash); records the filter drops count for
    nothing, and the order is kept."""
    window = 2.0  # the cap, raised here so that a slow machine sends the full batches well within it
    backend = _Backend(failing=False)
    submitted = {"dynamodb": {"NewImage": {"status": {"S": ["submitted"]}}}}
    arrived: list[float] = []
    record_invocation = backend.invoke

    def timed(**kwargs: Any) -> None:
        arrived.append(time.monotonic())
        record_invocation(**kwargs)

    backend.invoke = timed  # type: ignore[method-assign]
    with _answering(backend), mock.patch.object(stream_sources, "MAX_WINDOW_S", window):
        delivery = _delivering(_mapping(submitted, batch_size=3, window=5.0))  # the cap applies
        started = time.monotonic()
        for n in range(7):
            delivery.add(_record(f"t{n}", "submitted", before="in_progress"))
            delivery.add(_record(f"x{n}", "available"))  # filtered out
        deadline = time.monotonic() + window + 10
        while len(backend.invoked) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        delivery.stop()
    kinds = [[r["dynamodb"]["NewImage"]["kind"]["S"] for r in batch] for batch in backend.invoked]
    assert kinds == [["t0", "t1", "t2"], ["t3", "t4", "t5"], ["t6"]]
    assert arrived[1] - started < window  # the full batches did not wait for the window
    assert window <= arrived[2] - started < 5.0  # the last record waited the window out, capped


def test_without_a_window_the_records_waiting_go_at_once():
    backend = _Backend(failing=False)
    with _answering(backend):
        delivery = _delivering(_mapping())
        delivery.add(_record("task", "submitted", before="in_progress"))
        assert backend.called.wait(5), "the record was never delivered"
        delivery.stop()
    assert len(backend.invoked) == 1
