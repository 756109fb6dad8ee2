"""What the emulator keeps after requests: memory retained by reads and saves on a dataset already written.

The service's own code on moto in a process of its own (``in_process.bench_world``, patched as ``make up``
patches it), once as it is and once with moto's instance lists left as moto keeps them
(``ANNOLAKE_BENCH_KEEP_MODEL_INSTANCES=1``: every model instance moto ever made stays listed). ``FILES`` files
are recorded by the ingest code, a few requests warm the caches, then ``READS`` dataset pages (the table
engine's query, which reads every membership, and the index's) and ``SAVES`` annotation saves run, then
``OBJECTS`` objects are dropped as uploads, copied where media go and the uploads deleted (what ingest does
with each drop); the figure is the memory still allocated afterwards (``tracemalloc``, after a collection), per
request or per object.
"""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import tracemalloc
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FILES, READS, SAVES, OBJECTS = 1000, 100, 100, 1000
QUERY = "labels.car >= 1"


def _measure() -> dict[str, float]:
    if os.environ.get("ANNOLAKE_BENCH_KEEP_MODEL_INSTANCES") == "1":
        from infra.local import moto_patches

        moto_patches.keep_no_model_instances = lambda: None  # type: ignore[assignment]
    from tests.bench.in_process import bench_world
    from tests.bench.query_cost import _seed_table_only

    with bench_world(also_restore=["QUERY_ENGINE"]):
        from annolake_service.services import annotations, projects, query_index, schema, slices

        projects.create_project("bench", "bench", creator="user:bench")
        schema.add_labels("bench", ["car", "pedestrian"])
        dataset_id = _seed_table_only("bench", "reads", FILES)
        query_index.build("bench", dataset_id)
        page = slices.query_files("bench", "reads", QUERY, limit=SAVES + 3, cursor=None)
        ids = [f.get("file_id") or f["id"] for f in page["files"]]

        def reads(engine: str, count: int) -> None:
            os.environ["QUERY_ENGINE"] = engine
            for _ in range(count):
                slices.query_files("bench", "reads", QUERY, limit=100, cursor=None)

        def saves(count: int) -> None:
            for file_id in ids[:count]:  # each file once: the same files again are saved over
                current = annotations.get_annotations("bench", file_id)
                annotations.save_annotations(
                    "bench",
                    file_id,
                    expected_version=current["version"],
                    instance_list=current["instance_list"],
                    author="bench",
                )

        def objects(count: int) -> None:
            from annolake_service.adapters import aws_clients

            s3, bucket = aws_clients.client("s3"), os.environ["MEDIA_BUCKET"]
            for n in range(count):
                s3.put_object(Bucket=bucket, Key=f"uploads/{n}", Body=b"x" * 1000)
                s3.copy_object(Bucket=bucket, Key=f"media/{n}", CopySource={"Bucket": bucket, "Key": f"uploads/{n}"})
                s3.delete_object(Bucket=bucket, Key=f"uploads/{n}")

        figures: dict[str, float] = {}
        for name, work, count in (
            ("table", lambda n: reads("table", n), READS),
            ("index", lambda n: reads("auto", n), READS),
            ("save", saves, SAVES),
            ("object", objects, OBJECTS),
        ):
            work(3)
            gc.collect()
            tracemalloc.start()
            before = tracemalloc.get_traced_memory()[0]
            work(count)
            gc.collect()
            figures[name] = (tracemalloc.get_traced_memory()[0] - before) / count
            tracemalloc.stop()
    return figures


def run() -> list[tuple[str, str, str]]:
    rows = []
    answers = {}
    for keep in ("1", "0"):
        env = {
            **os.environ,
            "ANNOLAKE_BENCH_KEEP_MODEL_INSTANCES": keep,
            "PYTHONPATH": f"{REPO / 'sdk'}:{REPO / 'functions'}:{REPO}",
        }
        out = (
            subprocess.run(  # noqa: S603
                [
                    sys.executable,
                    "-c",
                    "import json; from tests.bench.emulator_memory import _measure; print(json.dumps(_measure()))",
                ],
                cwd=REPO,
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
            .stdout.strip()
            .splitlines()[-1]
        )
        answers[keep] = json.loads(out)
    labels = {
        "table": f"a page on the table engine ({FILES:,} memberships read)",
        "index": "a page on the index",
        "save": "an annotation save",
        "object": "an object dropped, copied to media, its upload deleted",
    }
    for name, label in labels.items():
        before, after = answers["1"][name] / 1024, answers["0"][name] / 1024
        rows.append(
            (
                f"emulator memory kept per request or object: {label}",
                f"{after:.1f} KiB",
                f"{before:.1f} KiB with moto's instance lists "
                f"({FILES:,} files, {READS} reads, {SAVES} saves, {OBJECTS} objects)",
            )
        )
    return rows
