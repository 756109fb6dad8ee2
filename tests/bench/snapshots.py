"""Snapshots, diffs and exports on the local platform: how long they take, how large a manifest is, and whether
an export step's memory grows with the snapshot.

Starts ``python -m infra.local`` (what ``make up`` runs), seeds ``ANNOLAKE_BENCH_SNAPSHOT_FILES`` (2,000)
labelled JPEGs through the service's code, then through the SDK: a snapshot of them all and of a fifth
(timed; manifest size per file), 1% of files re-annotated and a second snapshot, the diff of the two, and an
export in each format through the export state machine (timed end to end: plan, pages, multipart assembly,
on the emulator's Step Functions). Last, the export steps are run again in this process under tracemalloc on
the fifth and on the whole, to compare their peak memory.

``run_large`` (suite ``snapshots_large``): snapshots of ``ANNOLAKE_BENCH_LARGE_SNAPSHOTS`` (10,000 and 100,000)
files seeded straight into the store (file records with labels, no media: a snapshot reads metadata only), taken
through the SDK: the API request (it freezes the file list and starts the snapshot state machine) and the whole
build (a Map over chunks on the emulator's Step Functions, then the manifest), timed apart. At the largest size,
1% of the files are re-annotated, a second snapshot taken and the two diffed (timed); at
``ANNOLAKE_BENCH_LARGE_EXPORT_FILES`` (10,000) files, an export in each format (records only: the formats
without media need none).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.bench.streaming import _configure_service_for
from tests.e2e.conftest import free_port, start_platform
from tests.support import slice_data

COUNT = int(os.environ.get("ANNOLAKE_BENCH_SNAPSHOT_FILES", "2000"))
LARGE = tuple(int(n) for n in os.environ.get("ANNOLAKE_BENCH_LARGE_SNAPSHOTS", "10000,100000").split(","))
EXPORT_FILES = int(os.environ.get("ANNOLAKE_BENCH_LARGE_EXPORT_FILES", "10000"))  # a size in LARGE, or none
FORMATS = ("coco", "yolo", "voc", "sagemaker", "jsonl")


@contextmanager
def _on_platform() -> Iterator[tuple[str, Any]]:
    """A platform of its own (``python -m infra.local`` in a temporary home), the service in this process set up
    for it: its project's id and an SDK ``Project`` through its API key. Stopped afterwards."""
    from annolake import Project

    from tests.support.auth import reset_service_caches

    with tempfile.TemporaryDirectory() as home:
        platform = start_platform(
            Path(home) / "home", free_port(), free_port(), timeout_s=900, snapshot_seconds=24 * 3600
        )
        try:
            _configure_service_for(platform)
            reset_service_caches()
            creds = platform.credentials
            yield (
                creds["project"],
                Project(creds["project"], creds["client_id"], creds["client_secret"], platform.api_url),
            )
        finally:
            platform.stop(timeout=600)


def _timed(call):  # noqa: ANN001, ANN202
    started = time.perf_counter()
    result = call()
    return result, time.perf_counter() - started


def _peaks(project_id: str, export_id: str) -> tuple[int, int]:
    """Peak traced memory (bytes) of one page step and of the assembly, run here on the stored export."""
    from annolake_service.services import exports

    tracemalloc.start()
    exports.export_page(project_id, export_id, 0)
    page_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.reset_peak()
    exports.assemble(project_id, export_id)
    assemble_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return page_peak, assemble_peak


def run() -> list[tuple[str, str, str]]:
    rows: list[tuple[str, str, str]] = []
    with _on_platform() as (project_id, project):
        file_ids = slice_data.seed_dataset(project_id, "bench-snap", COUNT)
        dataset = project.directory.get("bench-snap")
        whole, seconds = _timed(lambda: dataset.snapshot("bench-all"))
        rows.append((f"snapshot of {COUNT:,} files", f"{seconds:.2f} s", f"{COUNT / seconds:,.0f} files/s"))
        rows.append(("  manifest size", f"{whole._data['manifest_bytes'] / COUNT:.0f} B/file", ""))
        fifth, _ = _timed(lambda: dataset.snapshot("bench-fifth", query="labels.car = 1"))

        edited = file_ids[: max(COUNT // 100, 1)]
        for file_id in edited:
            project.file.get_by_id(file_id).update([])
        second = dataset.snapshot("bench-all-2")
        change, seconds = _timed(lambda: whole.diff(second))
        assert change["changed"] == len(edited), change
        rows.append((f"diff of two {COUNT:,}-file snapshots", f"{seconds:.2f} s", f"{len(edited)} changed"))

        for fmt in FORMATS:
            job, seconds = _timed(lambda fmt=fmt: whole.export(fmt, progress=False, wait_s=1800))
            size = job["size_bytes"] / 1024
            rows.append((f"export {fmt}, {COUNT:,} files (state machine)", f"{seconds:.1f} s", f"{size:,.0f} KiB"))

        _peaks(project_id, fifth.export("coco", progress=False, wait_s=1800)["export_id"])  # warm-up:
        # the first run also traces what is loaded once per process (botocore models, imports)
        for name, snap in (("a fifth", fifth), ("all", whole)):
            job = snap.export("coco", progress=False, wait_s=1800)
            page_peak, assemble_peak = _peaks(project_id, job["export_id"])
            note = f"{len(snap):,} files; assembly peak {assemble_peak / 2**20:.1f} MiB"
            rows.append((f"export step peak memory, {name}: one page", f"{page_peak / 2**20:.1f} MiB", note))
    return rows


def _seed_records(project_id: str, dataset_name: str, count: int, start: int) -> list[str]:
    """``count`` ready files with boxes, written as records only (no media): what a snapshot reads; their ids."""
    import hashlib

    from annolake_service.adapters import storage
    from annolake_service.domain import media
    from annolake_service.services import ingest, projects, schema

    schema.add_labels(project_id, list(slice_data.LABELS))
    dataset = projects.ensure_dataset(project_id, dataset_name)
    ids = []
    for chunk_start in range(start, start + count, 500):
        files = []
        for i in range(chunk_start, min(start + count, chunk_start + 500)):
            content_hash = hashlib.sha256(f"bench-large-{i}".encode()).hexdigest()
            file_id = media.file_id_for_content(project_id, content_hash)
            facts = {
                "file_id": file_id,
                "mime_type": "image/jpeg",
                "width": 64,
                "height": 48,
                "size_bytes": 1000,
                "content_hash": content_hash,
                "original_key": storage.original_key(project_id, file_id, "jpg"),
                "thumbnail_key": storage.thumbnail_key(project_id, file_id),
            }
            instances = slice_data.boxes(i, 64, 48)
            files.append({"name": f"big_{i:07d}.jpg", "facts": facts, "instance_list": instances, "metadata": {}})
            ids.append(file_id)
        ingest.record_new_files(project_id, dataset.dataset_id, files, author="seed")
    return ids


def _await_index(project_id: str, dataset_name: str, count: int) -> None:
    """Wait until the file list a snapshot freezes (the query index, seconds behind writes) holds every seeded
    file: the two requests per snapshot below must see the same files."""
    from annolake_service.services import slices

    deadline = time.monotonic() + 600
    while len(slices.matching_ready_ids(project_id, dataset_name, None)[1]) < count:
        assert time.monotonic() < deadline, f"the index never reached {count} files"
        time.sleep(1)


def _diff_rows(project, snap, ids: list[str], count: int) -> list[tuple[str, str, str]]:  # noqa: ANN001
    """1% of the files re-annotated through the SDK, a second snapshot, then the diff of the two, timed."""
    edited = ids[: max(count // 100, 1)]
    for file_id in edited:
        project.file.get_by_id(file_id).update([])
    second, seconds = _timed(lambda: project.directory.get("bench-large").snapshot(f"large-{count}-b"))
    rows = [(f"second snapshot of {count:,} files, 1% re-annotated", f"{seconds:.1f} s", "until ready")]
    change, seconds = _timed(lambda: snap.diff(second))
    assert change["changed"] == len(edited), change
    rows.append((f"diff of two {count:,}-file snapshots", f"{seconds:.2f} s", f"{len(edited):,} changed"))
    return rows


def _export(snap, fmt: str) -> dict:  # noqa: ANN001
    """``snap.export``, asked again once when the loaded emulator drops the connection (the same snapshot and
    format name the same export, so asking again joins it)."""
    import urllib3

    try:
        return snap.export(fmt, progress=False, wait_s=3600)
    except urllib3.exceptions.ProtocolError:
        return snap.export(fmt, progress=False, wait_s=3600)


def _export_rows(snap, count: int) -> list[tuple[str, str, str]]:  # noqa: ANN001
    """An export in each format of the ``count``-file snapshot (state machine, timed end to end)."""
    rows = []
    for fmt in FORMATS:
        job, seconds = _timed(lambda fmt=fmt: _export(snap, fmt))
        size = job["size_bytes"] / 2**20
        rows.append((f"export {fmt}, {count:,} files (state machine)", f"{seconds:.1f} s", f"{size:,.1f} MiB"))
    return rows


class _Rows(list):
    """The rows, each also printed as it comes (to stderr): a long run on a loaded machine still leaves its
    figures when it is stopped."""

    def append(self, row: tuple[str, str, str]) -> None:
        print(" | ".join(row), file=sys.stderr, flush=True)
        super().append(row)

    def __iadd__(self, rows):  # noqa: ANN001, ANN204
        for row in rows:
            self.append(row)
        return self


def run_large() -> list[tuple[str, str, str]]:
    rows = _Rows()
    with _on_platform() as (project_id, project):
        seeded, ids = 0, []
        for count in sorted(LARGE):
            new_ids, seconds = _timed(lambda c=count: _seed_records(project_id, "bench-large", c - seeded, seeded))
            ids += new_ids
            rows.append((f"seed {count - seeded:,} file records (bench setup)", f"{seconds:.0f} s", ""))
            seeded = count
            _await_index(project_id, "bench-large", count)
            path = f"{project._path}/datasets/bench-large/snapshots"
            answer, request = _timed(lambda c=count: project.client.post(path, {"name": f"large-{c}"}))
            rows.append((f"snapshot of {count:,} files: API request", f"{request:.2f} s", answer["status"]))
            snap, total = _timed(lambda c=count: project.directory.get("bench-large").snapshot(f"large-{c}"))
            assert len(snap) == count, (len(snap), count)
            total += request
            note = f"{count / total:,.0f} files/s; {answer['chunks_total']} chunks (state machine)"
            rows.append((f"snapshot of {count:,} files: until ready", f"{total:.1f} s", note))
            size = snap._data["manifest_bytes"]
            rows.append((f"  manifest of {count:,} files", f"{size / 2**20:.1f} MiB", f"{size / count:.0f} B/file"))
            if count == max(LARGE):
                rows += _diff_rows(project, snap, ids, count)
            if count == EXPORT_FILES:
                rows += _export_rows(snap, count)
    return rows
