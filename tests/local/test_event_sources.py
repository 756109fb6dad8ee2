"""The local SQS -> Lambda poller: a poller stopped with its emulator delivers and retries nothing more."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace
from typing import Any

from infra.local import event_sources


class _FailingFunction:
    """A backend whose function always fails: each invocation is counted."""

    account_id, region_name = "123456789012", "us-east-1"

    def __init__(self) -> None:
        self.invocations = 0
        self.called = threading.Event()

    def invoke(self, *, response_headers: dict[str, Any], **_: Any) -> None:
        self.invocations += 1
        self.called.set()
        response_headers["x-amz-function-error"] = "Unhandled"


def _message(n: int) -> SimpleNamespace:
    return SimpleNamespace(id=f"m{n}", receipt_handle=f"r{n}", body="{}", body_md5="x")


def test_a_poller_stopped_with_its_emulator_retries_nothing_and_drops_what_waits(monkeypatch):
    monkeypatch.setattr(event_sources, "RETRY_DELAYS_S", (0.3, 0.3, 0.3, 0.3))
    queue = SimpleNamespace(redrive_policy=None, name="q")
    monkeypatch.setattr(event_sources, "_queue_of", lambda *_: (queue, None))
    monkeypatch.setattr(event_sources, "_mapping_of", lambda *_: SimpleNamespace(batch_size=1, max_batch_window=0))
    backend = _FailingFunction()
    poller = event_sources._Poller(backend, "arn:function", "arn:queue")  # type: ignore[arg-type]
    poller.add([_message(n) for n in range(5)])  # two batches start, three wait
    assert backend.called.wait(5)
    poller.stop()
    started = backend.invocations
    time.sleep(1.0)  # past the retries' backoff
    assert backend.invocations == started <= 2  # the batches under way were not retried, the others never ran
    assert poller.waiting == []
