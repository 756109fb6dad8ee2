"""``make bench``: side-by-side figures, printed as a table. Not timed tests: nothing asserts here."""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _cold_import_ms(module: str, runs: int = 7) -> float:
    """Median self-reported import time of ``module`` in fresh interpreters (python -X importtime)."""
    samples = []
    env = {**os.environ, "PYTHONPATH": f"{REPO / 'functions'}:{REPO}"}
    for _ in range(runs):
        result = subprocess.run(  # noqa: S603
            [sys.executable, "-X", "importtime", "-c", f"import {module}"],
            capture_output=True,
            text=True,
            env=env,
            check=True,
        )
        last = [line for line in result.stderr.splitlines() if line.rstrip().endswith(f"| {module}")][-1]
        samples.append(int(last.split("|")[1]) / 1000)
    return statistics.median(samples)


def _synth_seconds() -> float:
    with tempfile.TemporaryDirectory() as out:
        env = {
            **os.environ,
            "CDK_OUTDIR": out,
            "ANNOLAKE_SKIP_BUNDLING": "1",
            "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
        }
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "infra.app"], cwd=REPO, env=env, check=True, capture_output=True)  # noqa: S603
        return time.perf_counter() - started


def _basics() -> list[tuple[str, str, str]]:
    handler = _cold_import_ms("annolake_service.api.handler")
    floor = _cold_import_ms("fastapi")
    return [
        ("API Lambda handler module, cold import", f"{handler:.0f} ms", "target <= 300 ms"),
        ("  of which: bare `import fastapi`", f"{floor:.0f} ms", f"{handler / floor:.2f}x handler/fastapi"),
        ("CDK synth, all stacks (bundling skipped)", f"{_synth_seconds():.1f} s", ""),
    ]


def main() -> None:
    """``python -m tests.bench [basics api_latency checkpoint dataset_count emulator_memory emulator_requests
    export_scale ingest_calls ingest_rate local_store media_scale packed_shards predictions presigned_rewrite
    query_cost query_index query_service restart snapshot_scale snapshots snapshots_large streaming task_tokens
    video_exports workflow workflow_calls web_explorer web_video]``
    (default: all)."""
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    from tests.bench import (
        api_latency,
        checkpoint,
        cpu_limit,
        dataset_count,
        emulator_memory,
        emulator_requests,
        export_scale,
        ingest_calls,
        ingest_rate,
        local_store,
        media_scale,
        packed_shards,
        predictions,
        presigned_rewrite,
        query_cost,
        query_index,
        restart,
        snapshot_scale,
        snapshots,
        streaming,
        task_tokens,
        video_exports,
        web_explorer,
        web_video,
        workflow,
        workflow_calls,
    )

    suites = {
        "basics": _basics,
        "api_latency": api_latency.run,
        "checkpoint": checkpoint.run,
        "dataset_count": dataset_count.run,
        "emulator_memory": emulator_memory.run,
        "emulator_requests": emulator_requests.run,
        "export_scale": export_scale.run,
        "ingest_calls": ingest_calls.run,
        "ingest_rate": ingest_rate.run,
        "local_store": local_store.run,
        "media_scale": media_scale.run,
        "query_index": query_index.run,
        "query_service": query_index.service_rows,
        "query_cost": query_cost.run,
        "streaming": streaming.run,
        "packed_shards": packed_shards.run,
        "restart": restart.run,
        "snapshots": snapshots.run,
        "snapshots_large": snapshots.run_large,
        "snapshot_scale": snapshot_scale.run,
        "task_tokens": task_tokens.run,
        "workflow": workflow.run,
        "workflow_calls": workflow_calls.run,
        "web_explorer": web_explorer.run,
        "web_video": web_video.run,
        "predictions": predictions.run,
        "presigned_rewrite": presigned_rewrite.run,
        "video_exports": video_exports.run,
    }
    limited = cpu_limit.limit_from_environment()
    if limited:
        print(limited)
    rows = []
    for name in sys.argv[1:] or list(suites):
        rows += suites[name]()
    width = max(len(r[0]) for r in rows)
    print(f"{'benchmark'.ljust(width)}  {'value':>10}  note")
    for name, value, note in rows:
        print(f"{name.ljust(width)}  {value:>10}  {note}")


if __name__ == "__main__":
    main()
