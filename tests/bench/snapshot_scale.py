"""Snapshots of 10,000 to 100,000 files through the service's own code, in this process, on moto patched as
``make up`` patches it (``ANNOLAKE_BENCH_SCALE_SNAPSHOTS``: 10000,100000).

Files are seeded straight into the store as records (labels, no media: a snapshot reads metadata only), then
a snapshot of them all is taken by ``create_snapshot`` with its build run here (the freeze from the table, then
the chunks one after another and the manifest: the state machine runs the same steps, 8 chunks at a time; no
HTTP, no Step Functions). At the largest size, 1% of the files are re-annotated, a second snapshot taken and
the two diffed.

``ANNOLAKE_BENCH_SNAPSHOT_BASELINE`` (a git revision): at each size the same snapshot is first taken with that
revision's ``services/snapshot_builds.py`` (its chunk size then, 1,000), on the same data in the same run, and
its digest compared with the current code's: the ratio is the result, whatever the machine's load.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any

from tests.bench.in_process import bench_world

SIZES = tuple(int(n) for n in os.environ.get("ANNOLAKE_BENCH_SCALE_SNAPSHOTS", "10000,100000").split(","))
BASELINE = os.environ.get("ANNOLAKE_BENCH_SNAPSHOT_BASELINE", "")
PROJECT = "bench-scale"
_ENV = {
    "SNAPSHOT_INLINE_FILES": str(10 * max(SIZES)),  # the build runs in this process
}


def _say(*row: str) -> tuple[str, ...]:
    print(" | ".join(row), file=sys.stderr, flush=True)
    return row


def _baseline_module(revision: str) -> ModuleType:
    """``services/snapshot_builds.py`` as it was at ``revision``, loaded beside the current one."""
    source = subprocess.run(
        ["git", "show", f"{revision}:functions/annolake_service/services/snapshot_builds.py"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    path = Path(tempfile.mkdtemp()) / "baseline_snapshot_builds.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("baseline_snapshot_builds", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _take(builds: ModuleType, name: str, chunk_files: int, *, keep: bool = True) -> tuple[dict[str, Any], float]:
    """A snapshot of every file, timed; unless ``keep``, its manifest is then removed so that the next build of
    the same content writes its own (it would find it written and skip that)."""
    from annolake_service.adapters import storage
    from annolake_service.shared.settings import get_settings

    os.environ["SNAPSHOT_CHUNK_FILES"] = str(chunk_files)
    get_settings.cache_clear()  # the settings only: clients stay warm, as in a warm function
    started = time.perf_counter()
    taken, _ = builds.create_snapshot(PROJECT, "bench", name, None, author="user:bench")
    seconds = time.perf_counter() - started
    if not keep:
        digest = taken["digest"]
        keys = [storage.snapshot_manifest_key(PROJECT, digest), storage.snapshot_index_key(PROJECT, digest)]
        storage.delete_keys(get_settings().media_bucket, keys)
    return taken, seconds


def _rows(sizes: tuple[int, ...]) -> list[tuple[str, ...]]:
    from annolake_service.adapters.dynamo import files as file_repo
    from annolake_service.services import annotations, projects, schema, slices, snapshot_builds, snapshots

    from tests.bench.snapshots import _seed_records

    rows: list[tuple[str, ...]] = []
    projects.create_project(PROJECT, PROJECT, creator="user:bench")
    schema.add_labels(PROJECT, ["car", "pedestrian"])
    baseline = _baseline_module(BASELINE) if BASELINE else None
    seeded: list[str] = []
    for count in sorted(sizes):
        started = time.perf_counter()
        seeded += _seed_records(PROJECT, "bench", count - len(seeded), len(seeded))
        rows.append(_say(f"seed {count:,} file records (setup)", f"{time.perf_counter() - started:.0f} s", ""))
        started = time.perf_counter()
        assert len(slices.matching_ready_ids(PROJECT, "bench", None)[1]) == count
        rows.append(_say(f"  freeze of {count:,} files (the query)", f"{time.perf_counter() - started:.1f} s", ""))
        old = None
        if baseline is not None:
            old, old_s = _take(baseline, f"old-{count}", 1000, keep=False)
            rows.append(
                _say(f"snapshot of {count:,} files, {BASELINE}", f"{old_s:.1f} s", f"{count / old_s:,.0f} files/s")
            )
        new, new_s = _take(snapshot_builds, f"new-{count}", snapshot_builds.get_settings().snapshot_chunk_files)
        note = f"{count / new_s:,.0f} files/s"
        if old is not None:
            assert (old["digest"], old["count"]) == (new["digest"], new["count"]), (old, new)
            note += f"; {old_s / new_s:.1f}x faster, the same digest"
        rows.append(_say(f"snapshot of {count:,} files, now", f"{new_s:.1f} s", note))
        size = new["manifest_bytes"]
        rows.append(_say(f"  manifest of {count:,} files", f"{size / 2**20:.1f} MiB", f"{size / count:.0f} B/file"))
        if count == max(sizes):
            edited = seeded[: max(count // 100, 1)]
            for file_id in edited:
                version = file_repo.get_file(PROJECT, file_id).annotation_version
                annotations.save_annotations(
                    PROJECT, file_id, expected_version=version, instance_list=[], author="user:bench"
                )
            second, seconds = _take(
                snapshot_builds, f"new-{count}-b", snapshot_builds.get_settings().snapshot_chunk_files
            )
            rows.append(_say(f"second snapshot of {count:,} files, 1% re-annotated", f"{seconds:.1f} s", ""))
            started = time.perf_counter()
            change = snapshots.diff(PROJECT, f"new-{count}", f"new-{count}-b", limit=1000)
            seconds = time.perf_counter() - started
            assert change["changed"] == len(edited) and change["unchanged"] == count - len(edited), change
            rows.append(_say(f"diff of two {count:,}-file snapshots", f"{seconds:.2f} s", f"{len(edited):,} changed"))
    return rows


def run() -> list[tuple[str, ...]]:
    with bench_world(extra_env=_ENV, also_restore=["SNAPSHOT_CHUNK_FILES"]):
        return _rows(SIZES)
