"""A COCO / YOLO / JSONL dataset imported as one server-side job (``project.import_coco`` and friends)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm  # type: ignore[import-untyped]

from annolake._scope import Scope
from annolake.errors import ImportFailed
from annolake.file import IMAGE_SUFFIXES

__all__ = ["ImportFailed", "Importer", "import_coco", "import_jsonl", "import_yolo"]

DEFAULT_WORKERS = 8


class Importer:
    """Runs one import job: upload the manifest and media, start, follow the progress."""

    def __init__(self, scope: Scope, fmt: str, directory: str, create_labels: bool) -> None:
        self.scope = scope
        self.job = scope.api.post(
            f"{scope.path}/imports", {"format": fmt, "dataset": directory, "create_labels": create_labels}
        )
        self.import_id = self.job["import_id"]

    def upload_manifest(self, body: bytes) -> None:
        form = self.job["manifest_upload"]
        self.scope.api.post_form(form["url"], {**form["fields"], "file": ("manifest", body)})

    def upload_media(self, files: Iterable[tuple[str, Path]], *, workers: int, progress: bool) -> None:
        """``files``: (key under the import's media prefix, local path)."""
        form = self.job["media_upload"]
        prefix = form["fields"]["key"].removesuffix("${filename}")
        files = list(files)

        def send(item: tuple[str, Path]) -> None:
            relative, local = item
            fields = {**form["fields"], "key": prefix + relative, "file": (local.name, local.read_bytes())}
            self.scope.api.post_form(form["url"], fields)

        with (
            ThreadPoolExecutor(max_workers=workers) as pool,
            tqdm(total=len(files), unit="file", desc="uploading media", disable=not progress) as bar,
        ):
            for future in as_completed(pool.submit(send, item) for item in files):
                future.result()
                bar.update(1)

    def run(self, *, progress: bool, wait_s: float) -> dict[str, Any]:
        path = f"{self.scope.path}/imports/{self.import_id}"
        job = self.scope.api.post(f"{path}/start", {})
        deadline = time.monotonic() + wait_s
        with tqdm(total=job.get("total") or None, unit="item", desc="importing", disable=not progress) as bar:
            while job["status"] in ("queued", "running"):
                if time.monotonic() > deadline:
                    waiting = job["total"] - job["done"] - job["failed"]
                    videos = f": {waiting} videos are still in the video ingest" if job.get("awaiting_videos") else ""
                    raise TimeoutError(f"import {self.import_id} still {job['status']} after {wait_s:.0f}s{videos}")
                time.sleep(0.5)
                job = self.scope.api.get(path)
                bar.total = job["total"] or bar.total
                bar.n = job["done"] + job["failed"]
                bar.refresh()
        if job["status"] == "failed":
            raise ImportFailed(job)
        return job


def import_coco(
    scope: Scope,
    path: str | Path,
    directory: str,
    *,
    images: str | Path | None = None,
    create_labels: bool = True,
    workers: int = DEFAULT_WORKERS,
    progress: bool = True,
    wait_s: float = 3600,
) -> dict[str, Any]:
    """Import a COCO JSON; images are read from ``images`` (default: beside the JSON, or its images/)."""
    path = Path(path)
    document = json.loads(path.read_text())
    root = Path(images) if images else (path.parent / "images" if (path.parent / "images").is_dir() else path.parent)
    importer = Importer(scope, "coco", directory, create_labels)
    importer.upload_manifest(path.read_bytes())
    local = [(img["file_name"], root / img["file_name"]) for img in document.get("images", []) if img.get("file_name")]
    importer.upload_media([(rel, p) for rel, p in local if p.is_file()], workers=workers, progress=progress)
    return importer.run(progress=progress, wait_s=wait_s)


def import_yolo(
    scope: Scope,
    folder: str | Path,
    directory: str,
    *,
    create_labels: bool = True,
    workers: int = DEFAULT_WORKERS,
    progress: bool = True,
    wait_s: float = 3600,
) -> dict[str, Any]:
    """Import a YOLO folder: images/…, labels/….txt and data.yaml (or classes.txt / obj.names)."""
    folder = Path(folder)
    names = next(
        (folder / n for n in ("data.yaml", "dataset.yaml", "classes.txt", "obj.names") if (folder / n).is_file()), None
    )
    if names is None:
        raise FileNotFoundError(f"{folder} has no data.yaml, classes.txt or obj.names naming the classes")
    importer = Importer(scope, "yolo", directory, create_labels)
    importer.upload_manifest(names.read_bytes())
    files = [
        p
        for p in folder.rglob("*")
        if p.is_file() and (p.suffix.lower() in IMAGE_SUFFIXES or (p.suffix == ".txt" and "labels" in p.parts))
    ]
    importer.upload_media([(p.relative_to(folder).as_posix(), p) for p in files], workers=workers, progress=progress)
    return importer.run(progress=progress, wait_s=wait_s)


def import_jsonl(
    scope: Scope,
    path: str | Path,
    directory: str,
    *,
    media_root: str | Path | None = None,
    create_labels: bool = True,
    workers: int = DEFAULT_WORKERS,
    progress: bool = True,
    wait_s: float = 3600,
) -> dict[str, Any]:
    """Import a JSONL of packets; a packet's ``media.path`` is read under ``media_root`` (default: beside it).

    A video's packet (``media.type`` ``"video"``: tracks, frame tags, tags) is handed to the video ingest: the
    job counts it done then, and the video is ready with its annotations when its ingest ends."""
    path = Path(path)
    root = Path(media_root) if media_root else path.parent
    importer = Importer(scope, "jsonl", directory, create_labels)
    importer.upload_manifest(path.read_bytes())
    relative = [json.loads(line)["media"].get("path") for line in path.read_text().splitlines() if line.strip()]
    local = [(rel, root / rel) for rel in relative if rel and (root / rel).is_file()]
    importer.upload_media(local, workers=workers, progress=progress)
    return importer.run(progress=progress, wait_s=wait_s)
