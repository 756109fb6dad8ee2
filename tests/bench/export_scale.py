"""An export's memory against its size: every step of a COCO export of 2,000 and of 20,000 files, run through the
service's own code in this process against moto, patched as ``make up`` patches it, in a process of its own (so
that what is traced here is what a step's Lambda function holds) (``ANNOLAKE_BENCH_EXPORT_SIZES``).

Files are seeded straight into the store as records with boxes (no media: an export of records renders
metadata only), a snapshot of them all is taken, and the export's steps are run one after another as the state
machine runs them (plan, every page, assembly), each under tracemalloc: the peak of the plan, the largest peak
of any page and the peak of the assembly. Then the run is interrupted: the export's parts are deleted but half,
and the steps run again (a re-drive) must render only the missing pages and assemble the same bytes (sha256).
"""

from __future__ import annotations

import os
import sys
import time
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from tests.bench.in_process import bench_world_apart

SIZES = tuple(int(n) for n in os.environ.get("ANNOLAKE_BENCH_EXPORT_SIZES", "2000,20000").split(","))
FORMAT = os.environ.get("ANNOLAKE_BENCH_EXPORT_FORMAT", "coco")
PROJECT = "bench-export"
_ENV = {"SNAPSHOT_INLINE_FILES": str(10 * max(SIZES))}  # the snapshot's build runs in this process


def _say(*row: str) -> tuple[str, ...]:
    print(" | ".join(row), file=sys.stderr, flush=True)
    return row


def _traced(call: Callable[[], Any]) -> tuple[Any, int, float]:
    """(the call's result, its peak traced memory in bytes, its seconds)."""
    tracemalloc.start()
    started = time.perf_counter()
    try:
        result = call()
        return result, tracemalloc.get_traced_memory()[1], time.perf_counter() - started
    finally:
        tracemalloc.stop()


def _new_export(digest: str, name: str) -> str:
    """The export job the API would record (no state machine here: the steps run in this process)."""
    from annolake_service.adapters.dynamo import exports as export_repo
    from annolake_service.domain import exports as formats
    from annolake_service.domain.exports import ExportJob

    options = formats.format_named(FORMAT).options({})
    export_id = formats.export_id(PROJECT, digest, FORMAT, options)
    export_repo.create_export(
        ExportJob(
            project_id=PROJECT,
            export_id=export_id,
            snapshot_name=name,
            snapshot_digest=digest,
            format=FORMAT,
            options=options,
            status="queued",
            created_by="user:bench",
            created_at=datetime.now(UTC),
        )
    )
    return export_id


def _run_steps(export_id: str) -> dict[str, Any]:
    """Plan, pages and assembly in turn, as the state machine orders them; peaks and times of each kind."""
    from annolake_service.services import exports

    planned, plan_peak, plan_s = _traced(lambda: exports.plan(PROJECT, export_id))
    page_peak, pages_s, rendered = 0, 0.0, 0
    for page in planned["pages"]:
        done, peak, seconds = _traced(lambda page=page: exports.export_page(PROJECT, export_id, page["page"]))
        page_peak, pages_s, rendered = max(page_peak, peak), pages_s + seconds, rendered + (not done.get("skipped"))
    assembled, assemble_peak, assemble_s = _traced(lambda: exports.assemble(PROJECT, export_id))
    return {
        "pages": len(planned["pages"]),
        "rendered": rendered,
        "peaks": (plan_peak, page_peak, assemble_peak),
        "seconds": (plan_s, pages_s, assemble_s),
        "sha256": assembled["sha256"],
        "size": assembled["size_bytes"],
    }


def _interrupt(export_id: str) -> int:
    """What a killed run leaves: the job marked running and the parts of its first half of pages; how many pages
    lost theirs."""
    from annolake_service.adapters import storage
    from annolake_service.adapters.dynamo import exports as export_repo
    from annolake_service.shared.settings import get_settings

    bucket = get_settings().media_bucket
    parts = storage.list_keys(bucket, storage.key_prefix("exports", PROJECT, export_id, "parts"))
    pages = sorted({key.rsplit("/", 1)[1] for key in parts})
    lost = set(pages[len(pages) // 2 :])
    storage.delete_keys(bucket, [key for key in parts if key.rsplit("/", 1)[1] in lost])
    export_repo.mark_export(PROJECT, export_id, status="running")
    return len(lost)


def _mib(size: int) -> str:
    return f"{size / 2**20:.2f} MiB"


def _rows(sizes: tuple[int, ...]) -> list[tuple[str, ...]]:
    from annolake_service.services import projects, schema, snapshot_builds

    from tests.bench.snapshots import _seed_records

    rows: list[tuple[str, ...]] = []
    projects.create_project(PROJECT, PROJECT, creator="user:bench")
    schema.add_labels(PROJECT, ["car", "pedestrian"])
    seeded = 0
    tracemalloc.start()  # the first traced run also counts what is loaded once per process (imports, models)
    tracemalloc.stop()
    for count in sorted(sizes):
        started = time.perf_counter()
        _seed_records(PROJECT, "bench", count - seeded, seeded)
        seeded = count
        rows.append(_say(f"seed {count:,} file records (setup)", f"{time.perf_counter() - started:.0f} s", ""))
        name = f"export-{count}"
        taken, _ = snapshot_builds.create_snapshot(PROJECT, "bench", name, None, author="user:bench")
        export_id = _new_export(taken["digest"], name)
        if count == min(sizes):  # warm: the first step also loads what every later one reuses
            _run_steps(export_id)
            export_id = _new_export_again(export_id)
        first = _run_steps(export_id)
        plan_peak, page_peak, assemble_peak = first["peaks"]
        plan_s, pages_s, assemble_s = first["seconds"]
        rows.append(
            _say(
                f"{FORMAT} export of {count:,} files: peak memory plan / any page / assembly",
                f"{_mib(plan_peak)} / {_mib(page_peak)} / {_mib(assemble_peak)}",
                f"{first['pages']} pages; {plan_s:.2f} / {pages_s:.1f} / {assemble_s:.1f} s; {_mib(first['size'])}",
            )
        )
        lost = _interrupt(export_id)
        again = _run_steps(export_id)
        same = again["sha256"] == first["sha256"]
        assert same and again["rendered"] == lost, (first, again, lost)
        rows.append(
            _say(
                f"  re-drive after the parts of {lost} of {first['pages']} pages were lost",
                f"{again['rendered']} pages rendered again",
                f"the same sha256; page peak {_mib(again['peaks'][1])}, {sum(again['seconds']):.1f} s",
            )
        )
    return rows


def _new_export_again(export_id: str) -> str:
    """The warm-up's export, set back to queued with its output removed, to be run again from the start."""
    from annolake_service.adapters import storage
    from annolake_service.adapters.dynamo import exports as export_repo
    from annolake_service.shared.settings import get_settings

    bucket = get_settings().media_bucket
    storage.delete_keys(bucket, storage.list_keys(bucket, storage.key_prefix("exports", PROJECT, export_id)))
    export_repo.mark_export(PROJECT, export_id, status="queued")
    return export_id


def run() -> list[tuple[str, ...]]:
    with bench_world_apart(extra_env=_ENV):
        return _rows(SIZES)
