"""One prediction run on the local stack, in a process of its own: ``python tests/bench/prediction_platform.py
ROOT WORK``, where ROOT is the checkout whose platform runs (this one, or the baseline the predictions bench
compares it with) and WORK holds ``model.onnx``, ``images/*`` and ``spec.json``; the figures go to
``WORK/result.json``.

Run as a script so that ``infra``, ``annolake_service`` and ``tests.support`` are ROOT's own: the same driver
measures the code before and after a change on the same bytes. The emulator runs in this process (the state
machine on moto's ASL engine, the handlers in function worker processes), as under ``make up``. The run starts
once the query index updater has taken in the ingest (its catch-up is not the run's cost).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

PROJECT = "bench"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _StreamWatch:
    """Whether the local stream poller has records waiting or a batch in its function (the query index updater)."""

    def __init__(self) -> None:
        self.busy: set[int] = set()
        self.lock = threading.Lock()

    @contextlib.contextmanager
    def installed(self) -> Iterator[_StreamWatch]:
        from infra.local import stream_sources

        take = stream_sources._Delivery._take
        watch = self

        def watched_take(delivery: Any) -> list[dict[str, Any]]:
            with watch.lock:  # the batch taken before this one has been delivered
                watch.busy.discard(id(delivery))
            batch = take(delivery)
            with watch.lock:
                watch.busy.add(id(delivery))
            return batch

        stream_sources._Delivery._take = watched_take  # type: ignore[method-assign]
        try:
            yield self
        finally:
            stream_sources._Delivery._take = take  # type: ignore[method-assign]

    def idle(self) -> bool:
        from infra.local import stream_sources

        with self.lock:
            if self.busy:
                return False
        return all(not d.pending for d in list(stream_sources._deliveries.values()))

    def settle(self, timeout: float = 900) -> float:
        """Seconds until the stream has been idle for a second (records are batched for 0.2 s before delivery)."""
        started = time.perf_counter()
        quiet_since = None
        while time.perf_counter() - started < timeout:
            if not self.idle():
                quiet_since = None
            elif quiet_since is None:
                quiet_since = time.perf_counter()
            elif time.perf_counter() - quiet_since >= 1.0:
                return quiet_since - started
            time.sleep(0.05)
        raise TimeoutError("the query index updater did not settle")


def _platform_run(endpoint_url: str, watch: _StreamWatch, work: Path) -> dict[str, Any]:
    import boto3
    import urllib3

    from infra.local.provisioner import Provisioner
    from tests.support.auth import local_assembly, reset_service_caches

    spec_args = json.loads((work / "spec.json").read_text())
    images = [p.read_bytes() for p in sorted((work / "images").iterdir())]
    session = boto3.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1")
    deployment = Provisioner(session, endpoint_url).deploy(local_assembly())
    os.environ.update(deployment.merged_environment())
    os.environ.update(
        {
            "AWS_ENDPOINT_URL": endpoint_url,
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_REGION": "us-east-1",
        }
    )
    reset_service_caches()
    _handlers_as_make_up_runs_them()
    from annolake_service.domain.models import ModelSpec
    from annolake_service.services import ingest, models, predictions, projects, schema

    projects.create_project(PROJECT, "Bench", creator="user:bench")
    schema.add_labels(PROJECT, spec_args["labels"])
    dataset = projects.ensure_dataset(PROJECT, "default")
    for start in range(0, len(images), 500):
        batch = images[start : start + 500]
        facts = [ingest.store_media(PROJECT, body) for body in batch]
        ingest.record_new_files(
            PROJECT,
            dataset.dataset_id,
            [
                {"name": f"{start + n:05d}.img", "facts": f, "instance_list": [], "metadata": {}}
                for n, f in enumerate(facts)
            ],
            author="bench",
        )
    spec = ModelSpec(**spec_args)
    created = models.register_version(PROJECT, "det", spec, author="user:bench")
    form = created["upload"]
    model = (work / "model.onnx").read_bytes()
    urllib3.PoolManager().request("POST", form["url"], fields={**form["fields"], "file": ("m.onnx", model)})
    models.check_version(PROJECT, "det", created["version"])
    ingest_settled = watch.settle()
    load_before = os.getloadavg()[0]
    workers_cpu_started = _function_workers_cpu()
    cpu_started, started = time.process_time(), time.perf_counter()
    run = predictions.start_run(
        PROJECT, "det", dataset="default", query=None, threshold=None, version=None, author="user:bench"
    )
    while (state := predictions.describe_run(PROJECT, run["run_id"]))["status"] in ("queued", "running"):
        time.sleep(0.2)
    seconds = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    workers_cpu = _function_workers_cpu() - workers_cpu_started
    return {
        "status": state["status"],
        "done": state["done"],
        "failed": state["failed"],
        "seconds": seconds,
        "rate": state["done"] / seconds,
        "cpu_ms_per_file": 1000 * (cpu + workers_cpu) / max(1, state["done"] + state["failed"]),
        "workers_cpu_ms_per_file": 1000 * workers_cpu / max(1, state["done"] + state["failed"]),
        "ingest_settled": ingest_settled,
        "run_settled": watch.settle(),
        "load": [load_before, os.getloadavg()[0]],
    }


def _handlers_as_make_up_runs_them() -> None:
    """The handlers in function worker processes, as ``make up`` runs them (code that has none: in-process)."""
    from infra.local import lambda_runtime, runtime

    if hasattr(lambda_runtime, "run_functions_in_workers"):
        lambda_runtime.run_functions_in_workers(
            runtime.function_worker_count(),
            runtime.FUNCTION_WORKER_THREADS,
            lambda handler: handler not in runtime.MEDIA_HANDLERS,
        )


def _function_workers_cpu() -> float:
    """User + system CPU seconds of the function worker processes so far."""
    from infra.local import lambda_runtime

    ticks = 0
    for pid in getattr(lambda_runtime, "function_worker_pids", list)():
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def main() -> None:
    root, work = Path(sys.argv[1]).resolve(), Path(sys.argv[2]).resolve()
    # this folder (put first by running a file) must not shadow anything; ROOT's packages come first
    sys.path[:1] = [str(root / "functions"), str(root), str(root / "sdk")]
    os.chdir(root)
    warnings.simplefilter("ignore")
    from infra.local.emulator import Emulator

    emulator = Emulator(port=_free_port())
    watch = _StreamWatch()
    with watch.installed():
        emulator.start()
        try:
            result = _platform_run(emulator.endpoint_url, watch, work)
        finally:
            emulator.stop()
    (work / "result.json").write_text(json.dumps(result))


if __name__ == "__main__":
    main()
