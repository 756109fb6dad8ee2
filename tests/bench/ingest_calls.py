"""What one ingested file costs the emulator, call by call: the AWS calls the platform makes per dropped photo.

Runs the local platform (``python -m tests.bench.ingest_calls``: ``infra.local`` with every request counted, not
only the handlers' own), drops ``WARM`` photos so that the dataset and schema exist, clears the counts, drops
``COUNT`` more and waits until every one is ready and the platform is quiet. The calls are split by who made them:
a Lambda handler (by function), or the platform itself (the Step Functions engine, the event-source pollers).
Polling calls (``sqs:ReceiveMessage`` and the like) depend on time, not on files: they are shown apart.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import urllib3

from tests.bench.local_store import WORKERS, _s3, noise_jpeg
from tests.e2e.conftest import free_port, start_platform

COUNT = int(os.environ.get("BENCH_CALLS_FILES", "40"))
WARM = 5
POLLING = {"sqs:ReceiveMessage", "sqs:GetQueueAttributes"}
PLATFORM = "(platform)"  # a call made in the platform's process outside any handler: the engine, a poller
CLIENT = "(client)"  # a call from another process that names no function: the bench's own, or the API workers


def _calls(emulator_url: str) -> Counter[tuple[str, str]]:
    answer = json.loads(urllib3.PoolManager().request("GET", f"{emulator_url}/_annolake/faults").data)
    return Counter({(c["function"], c["operation"]): c["count"] for c in answer["calls"]})


def _drop(s3: Any, bucket: str, dataset: str, bodies: list[bytes], first: int) -> None:
    with ThreadPoolExecutor(WORKERS) as pool:
        list(
            pool.map(
                lambda n: s3.put_object(Bucket=bucket, Key=f"demo/{dataset}/p{first + n:05d}.jpg", Body=bodies[n]),
                range(len(bodies)),
            )
        )


def quiet(emulator_url: str) -> None:
    """Until no call but polling was made for 3 s."""
    last, quiet_since = None, time.monotonic()
    while time.monotonic() - quiet_since < 3:
        time.sleep(0.5)
        seen = {k: n for k, n in _calls(emulator_url).items() if k[1] not in POLLING}
        if seen != last:
            last, quiet_since = seen, time.monotonic()


def _settle(s3: Any, emulator_url: str, bucket: str, dataset: str) -> None:
    """Until the drop folder is empty and the platform quiet."""
    while s3.list_objects_v2(Bucket=bucket, Prefix=f"demo/{dataset}/", MaxKeys=1).get("KeyCount", 0):
        time.sleep(0.25)
    quiet(emulator_url)


def counting_platform(home: Path) -> Any:
    """The local platform with every request to its emulator counted (``_count_every_call``)."""
    return start_platform(
        home, free_port(), free_port(), snapshot_seconds=30, timeout_s=900, module="tests.bench.ingest_calls"
    )


def clear_counts(emulator_url: str) -> None:
    urllib3.PoolManager().request("DELETE", f"{emulator_url}/_annolake/faults")


def measure(count: int = COUNT) -> Counter[tuple[str, str]]:
    """Calls made for ``count`` dropped 640x480 photos, by (caller, operation)."""
    bodies = [noise_jpeg(640, 480, seed=n) for n in range(WARM + count)]
    with tempfile.TemporaryDirectory() as tmp:
        platform = counting_platform(Path(tmp) / "home")
        try:
            s3, _ = _s3(platform)
            drop = platform.credentials["drop_bucket"]
            _drop(s3, drop, "calls", bodies[:WARM], 0)
            _settle(s3, platform.emulator_url, drop, "calls")
            clear_counts(platform.emulator_url)
            _drop(s3, drop, "calls", bodies[WARM:], WARM)
            _settle(s3, platform.emulator_url, drop, "calls")
            return _calls(platform.emulator_url)
        finally:
            platform.stop(timeout=600)


def table(
    calls: Counter[tuple[str, str]],
    count: int,
    *,
    what: str = f"ingested file ({COUNT} x 640x480)",
    bare: int = 4,
    clients: str | None = None,
) -> list[tuple[str, str, str]]:
    """Calls per ``what``, by caller and operation; ``clients``: the name of the processes calling the emulator
    from outside (the API workers), whose calls count (else they are the bench's own, left out)."""
    named = Counter({((clients or CLIENT) if k[0] == CLIENT else k[0], k[1]): n for k, n in calls.items()})
    per_unit = [(k, n) for k, n in named.items() if k[1] not in POLLING and k[0] != CLIENT]
    rows = []
    for (caller, operation), n in sorted(per_unit, key=lambda kn: (kn[0][0], -kn[1])):
        rows.append((f"  {caller}: {operation}", f"{n / count:.2f}", f"calls per {what.split(' (')[0]}"))
    total = sum(n for _, n in per_unit) / count
    rows.append((f"AWS calls per {what}, all callers", f"{total:.1f}", f"bare work: {bare}"))
    polling = sum(n for k, n in calls.items() if k[1] in POLLING)
    rows.append(("  polling calls in that time (not per file)", f"{polling}", ", ".join(sorted(POLLING))))
    return rows


def run() -> list[tuple[str, str, str]]:
    return table(measure(), COUNT)


def _count_every_call() -> None:
    """Count the platform's own calls outside handlers too (the faults endpoint counts only the handlers')."""
    from infra.local import faults
    from infra.local.lambda_runtime import running_function

    counted = faults.FaultInjection.__call__
    lock = threading.Lock()

    def call(self: faults.FaultInjection, environ: dict[str, Any], start_response: Any) -> Any:
        by_handler = running_function.get() or environ.get(faults.FUNCTION_HEADER_ENVIRON)
        if by_handler is None and environ.get("PATH_INFO") != faults.FAULTS_PATH:
            operation = faults.request_operation(environ)
            if operation is not None:
                caller = PLATFORM if environ.get("REMOTE_PORT") == 0 else CLIENT
                with lock:
                    self.calls[(caller, operation)] += 1
        return counted(self, environ, start_response)

    faults.FaultInjection.__call__ = call  # type: ignore[method-assign]


if __name__ == "__main__":
    _count_every_call()
    from infra.local.runtime import main

    main()
