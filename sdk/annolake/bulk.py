"""Many files at once: a directory of images, or a COCO / YOLO / JSONL dataset imported as one job."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tqdm.auto import tqdm

from annolake.file import IMAGE_SUFFIXES, File, IngestFailed

if TYPE_CHECKING:
    from annolake.project import Project

DEFAULT_WORKERS = 8


class ImportFailed(RuntimeError):
    """The import job failed as a whole (bad manifest, unknown labels); ``job`` has the details."""

    def __init__(self, job: dict[str, Any]) -> None:
        super().__init__(f"import {job['import_id']} failed: {job.get('status_reason')}")
        self.job = job


def _images_under(path: Path) -> list[Path]:
    return sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def from_directory(
    project: Project, path: str | Path, directory: str, *, workers: int = DEFAULT_WORKERS, progress: bool = True
) -> tuple[list[File], list[tuple[Path, str]]]:
    """Upload every image under ``path`` in parallel; returns (ready files, [(path, reason)] of failures)."""
    paths = _images_under(Path(path))
    ready: list[File] = []
    failed: list[tuple[Path, str]] = []
    with (
        ThreadPoolExecutor(max_workers=workers) as pool,
        tqdm(total=len(paths), unit="file", desc=f"uploading to {directory}", disable=not progress) as bar,
    ):
        futures = {pool.submit(project.file.from_local, p, directory): p for p in paths}
        for future in as_completed(futures):
            try:
                ready.append(future.result())
            except (IngestFailed, OSError, RuntimeError) as exc:
                failed.append((futures[future], str(exc)))
            bar.update(1)
    return ready, failed


class Importer:
    """Runs one import job: upload the manifest and media, start, follow the progress."""

    def __init__(self, project: Project, fmt: str, directory: str, create_labels: bool) -> None:
        self.project = project
        self.job = project.client.post(
            f"{project._path}/imports", {"format": fmt, "dataset": directory, "create_labels": create_labels}
        )
        self.import_id = self.job["import_id"]

    def upload_manifest(self, body: bytes) -> None:
        form = self.job["manifest_upload"]
        self.project.client.post_form(form["url"], {**form["fields"], "file": ("manifest", body)})

    def upload_media(self, files: Iterable[tuple[str, Path]], *, workers: int, progress: bool) -> None:
        """``files``: (key under the import's media prefix, local path)."""
        form = self.job["media_upload"]
        prefix = form["fields"]["key"].removesuffix("${filename}")
        files = list(files)

        def send(item: tuple[str, Path]) -> None:
            relative, local = item
            fields = {**form["fields"], "key": prefix + relative, "file": (local.name, local.read_bytes())}
            self.project.client.post_form(form["url"], fields)

        with (
            ThreadPoolExecutor(max_workers=workers) as pool,
            tqdm(total=len(files), unit="file", desc="uploading media", disable=not progress) as bar,
        ):
            for future in as_completed(pool.submit(send, item) for item in files):
                future.result()
                bar.update(1)

    def run(self, *, progress: bool, wait_s: float) -> dict[str, Any]:
        path = f"{self.project._path}/imports/{self.import_id}"
        job = self.project.client.post(f"{path}/start", {})
        deadline = time.monotonic() + wait_s
        with tqdm(total=job.get("total") or None, unit="item", desc="importing", disable=not progress) as bar:
            while job["status"] in ("queued", "running"):
                if time.monotonic() > deadline:
                    raise TimeoutError(f"import {self.import_id} still {job['status']} after {wait_s:.0f}s")
                time.sleep(0.5)
                job = self.project.client.get(path)
                bar.total = job["total"] or bar.total
                bar.n = job["done"] + job["failed"]
                bar.refresh()
        if job["status"] == "failed":
            raise ImportFailed(job)
        return job


def import_coco(
    project: Project,
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
    importer = Importer(project, "coco", directory, create_labels)
    importer.upload_manifest(path.read_bytes())
    local = [(img["file_name"], root / img["file_name"]) for img in document.get("images", []) if img.get("file_name")]
    importer.upload_media([(rel, p) for rel, p in local if p.is_file()], workers=workers, progress=progress)
    return importer.run(progress=progress, wait_s=wait_s)


def import_yolo(
    project: Project,
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
    importer = Importer(project, "yolo", directory, create_labels)
    importer.upload_manifest(names.read_bytes())
    files = [
        p
        for p in folder.rglob("*")
        if p.is_file() and (p.suffix.lower() in IMAGE_SUFFIXES or (p.suffix == ".txt" and "labels" in p.parts))
    ]
    importer.upload_media([(p.relative_to(folder).as_posix(), p) for p in files], workers=workers, progress=progress)
    return importer.run(progress=progress, wait_s=wait_s)


def import_jsonl(
    project: Project,
    path: str | Path,
    directory: str,
    *,
    media_root: str | Path | None = None,
    create_labels: bool = True,
    workers: int = DEFAULT_WORKERS,
    progress: bool = True,
    wait_s: float = 3600,
) -> dict[str, Any]:
    """Import a JSONL of packets; a packet's ``media.path`` is read under ``media_root`` (default: beside it)."""
    path = Path(path)
    root = Path(media_root) if media_root else path.parent
    importer = Importer(project, "jsonl", directory, create_labels)
    importer.upload_manifest(path.read_bytes())
    relative = [json.loads(line)["media"].get("path") for line in path.read_text().splitlines() if line.strip()]
    local = [(rel, root / rel) for rel in relative if rel and (root / rel).is_file()]
    importer.upload_media(local, workers=workers, progress=progress)
    return importer.run(progress=progress, wait_s=wait_s)
