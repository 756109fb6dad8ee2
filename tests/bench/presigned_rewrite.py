"""``references="presigned"``: the SDK's rewrite of a downloaded COCO export's S3 URIs, old against new in one run
(``ANNOLAKE_BENCH_PRESIGN_SIZES``, by default 20,000 and 100,000 images).

The export is rendered by the service's own COCO writer (pages of files with a box each, ``coco_url`` the
original's S3 URI, assembled as the export's assembly step joins them); the references endpoint is stood in for
by ``Signer``, which answers a range of files as the service does, each URL a real presigned GET's length and
shape (one URL signed by botocore, its key and signature varied per file: signing 100,000 is not what is
measured). The old rewrite is ``sdk/annolake/export_references.py`` as it was before the streaming rewrite
(``git show <ANNOLAKE_BENCH_PRESIGN_OLD>``), imported under another name. Each runs on a fresh copy of the export:
three times timed without tracing, old and new alternated (the fastest kept), then once under tracemalloc for its
peak; both outputs must be the same bytes.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from tests.bench.__main__ import REPO

SIZES = tuple(int(n) for n in os.environ.get("ANNOLAKE_BENCH_PRESIGN_SIZES", "20000,100000").split(","))
OLD = os.environ.get("ANNOLAKE_BENCH_PRESIGN_OLD", "e5d75f2")  # the last commit with the whole-document rewrite
BUCKET = "annolake-media-123456789012"
PROJECT = "bench-presign"
SERVER_PAGE = 1000  # the service's REFERENCES_PAGE
RUNS = 3


def original_uri(n: int) -> str:
    return f"s3://{BUCKET}/projects/{PROJECT}/files/{n:026d}/original.jpg"


def write_export(target: Path, count: int, fmt: str = "coco") -> None:
    """A ``fmt`` (coco, jsonl) export of ``count`` images with ``references="s3"``, written page by page by the
    service's writer."""
    from annolake_service.domain import exports
    from annolake_service.domain.exports import base

    writer = exports.format_named(fmt)

    context = base.ExportContext(
        labels=["car", "pedestrian"],
        snapshot_name="bench",
        snapshot_digest="0" * 64,
        dataset="bench",
        created_at="2026-01-01T00:00:00+00:00",
        options={"references": "s3"},
    )
    box = {"type": "box", "name": "car", "x_min": 10.0, "y_min": 20.5, "x_max": 110.25, "y_max": 80.0}

    def files(page: int) -> list[base.ExportFile]:
        return [
            base.ExportFile(
                index=n,
                file_id=f"{n:026d}",
                name=f"image-{n:06d}.jpg",
                width=640,
                height=480,
                content_hash="0" * 64,
                annotation_version=1,
                media_uri=original_uri(n),
                instances=[box],
            )
            for n in range(page * 500, min(count, (page + 1) * 500))
        ]

    pages = -(-count // 500)
    rendered: dict[tuple[str, int], bytes] = {}

    def fragment(name: str, page: int) -> bytes:
        if (name, page) not in rendered:
            rendered.clear()
            rendered.update({(f, page): data for f, data in writer.render_page(files(page), context).items()})
        return rendered[(name, page)]

    with target.open("wb") as out:
        for chunk in base.assemble(writer, context, pages, fragment):
            out.write(chunk)


class Signer:
    """``GET …/exports/{id}/references`` as the service answers it (files ``offset .. offset+limit``, their
    originals sorted by key), each URL a real one's length, made anew in each answer."""

    def __init__(self, count: int) -> None:
        import boto3

        s3 = boto3.client(
            "s3", region_name="us-east-1", aws_access_key_id="AKIAEXAMPLE", aws_secret_access_key="secret"
        )
        template = s3.generate_presigned_url("get_object", Params={"Bucket": BUCKET, "Key": "KEY"}, ExpiresIn=900)
        head, _, tail = template.partition("KEY")
        signature = tail.rsplit("X-Amz-Signature=", 1)[0] + "X-Amz-Signature="
        self.count, self.head, self.signature = count, head, signature
        self.asked = 0

    def url(self, n: int) -> str:
        """File ``n``'s URL, a new string each time (as each answer's JSON gives)."""
        signature = hashlib.sha256(str(n).encode()).hexdigest()
        return f"{self.head}projects/{PROJECT}/files/{n:026d}/original.jpg{self.signature}{signature}"

    def get(self, path: str, offset: int = 0, limit: int = SERVER_PAGE, url_expires_in: int | None = None) -> Any:
        self.asked += 1
        found = range(offset, min(self.count, offset + limit))
        following = offset + limit
        return {
            "export_id": "bench",
            "references": sorted(({"uri": original_uri(n), "url": self.url(n)} for n in found), key=lambda r: r["uri"]),
            "url_expires_in": url_expires_in or 900,
            "next_offset": following if following < self.count else None,
        }


def old_module() -> ModuleType:
    source = subprocess.run(  # noqa: S603
        ["git", "show", f"{OLD}:sdk/annolake/export_references.py"],  # noqa: S607
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout
    spec = importlib.util.spec_from_loader("export_references_old", loader=None)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    exec(compile(source, "export_references_old.py", "exec"), module.__dict__)  # noqa: S102 - our own file
    return module


def rewrite_peak(
    rewrite: Callable[..., dict[str, Any]], folder: Path, signer: Signer, fmt: str = "coco"
) -> tuple[int, float, Any]:
    """Peak traced bytes and seconds of one rewrite of ``folder`` (its own calls to the signer included)."""
    from annolake._scope import Scope

    scope = Scope(api=signer, project=PROJECT)  # type: ignore[arg-type]
    job = {"export_id": "bench", "format": fmt}
    tracemalloc.start()
    started = time.perf_counter()
    try:
        answer = rewrite(scope, job, folder)
        return tracemalloc.get_traced_memory()[1], time.perf_counter() - started, answer
    finally:
        tracemalloc.stop()


def _seconds(rewrite: Callable[..., dict[str, Any]], folder: Path, signer: Signer) -> float:
    from annolake._scope import Scope

    started = time.perf_counter()
    rewrite(Scope(api=signer, project=PROJECT), {"export_id": "bench", "format": "coco"}, folder)  # type: ignore[arg-type]
    return time.perf_counter() - started


def _say(*row: str) -> tuple[str, ...]:
    print(" | ".join(row), file=sys.stderr, flush=True)
    return row


def run() -> list[tuple[str, ...]]:
    from annolake import export_references

    old = old_module()
    rows = [_say("load average (1, 5, 15 min) at start", " / ".join(f"{x:.2f}" for x in os.getloadavg()), "")]
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        for count in SIZES:
            source = root / f"export-{count}.json"
            write_export(source, count)
            signer = Signer(count)
            rewrites = {"old": old.rewrite, "new": export_references.rewrite}
            seconds: dict[str, list[float]] = {"old": [], "new": []}
            for _ in range(RUNS):  # alternated, the fastest of each kept: the machine is shared
                for label, rewrite in rewrites.items():
                    folder = root / label
                    folder.mkdir(exist_ok=True)
                    shutil.copyfile(source, folder / "annotations.json")
                    seconds[label].append(_seconds(rewrite, folder, signer))
            figures = {}
            for label, rewrite in rewrites.items():
                folder = root / label
                shutil.copyfile(source, folder / "annotations.json")
                peak, _, answer = rewrite_peak(rewrite, folder, signer)
                assert answer["references_presigned"] == count, answer
                digest = hashlib.sha256((folder / "annotations.json").read_bytes()).digest()
                figures[label] = (peak, min(seconds[label]), digest)
            assert figures["old"][2] == figures["new"][2], "old and new rewrites differ"
            size = source.stat().st_size / 2**20
            rows.append(
                _say(
                    f"presigned rewrite of a COCO export, {count:,} images ({size:.0f} MiB): peak old / new",
                    f"{figures['old'][0] / 2**20:.1f} / {figures['new'][0] / 2**20:.1f} MiB",
                    f"{figures['old'][1]:.2f} / {figures['new'][1]:.2f} s untraced (best of {RUNS}); same bytes",
                )
            )
    rows.append(_say("load average (1, 5, 15 min) at end", " / ".join(f"{x:.2f}" for x in os.getloadavg()), ""))
    return rows
