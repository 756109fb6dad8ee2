"""Files: upload, read, and save annotations with optimistic locking."""

from __future__ import annotations

import mimetypes
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm  # type: ignore[import-untyped]

from annolake._scope import Scope, scope_of
from annolake.errors import IngestFailed

__all__ = ["IMAGE_SUFFIXES", "File", "Files", "IngestFailed"]

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff")


class File:
    """One file of a project: its record (name, size, status, metadata) and its annotations.

    The object remembers the annotation version it was read at; ``update()`` saves against that version, so
    a save based on a stale read raises ``VersionConflict`` instead of replacing someone else's work.
    ``refresh()`` reads the file again (new version, new presigned URLs).
    """

    def __init__(self, scope: Any, data: dict[str, Any]) -> None:
        self.scope: Scope = scope_of(scope)
        self._data = data
        self._annotations: dict[str, Any] | None = None

    id = property(lambda self: self._data["file_id"])
    name = property(lambda self: self._data["original_name"])
    width = property(lambda self: self._data.get("width"))  # after EXIF orientation
    height = property(lambda self: self._data.get("height"))
    status = property(lambda self: self._data["status"])  # processing | ready | quarantined
    status_reason = property(
        lambda self: self._data.get("status_reason"),
        doc="why a quarantined file was refused, or a note on a ready one (a sidecar it refused)",
    )
    mime_type = property(lambda self: self._data.get("mime_type"))
    media_type = property(lambda self: self._data.get("media_type", "image"), doc="image or video")
    # A video's frame-exact facts (None on images): frames decoded, average frames per second, seconds.
    frame_count = property(lambda self: (self._data.get("video") or {}).get("frame_count"))
    fps = property(lambda self: (self._data.get("video") or {}).get("fps"))
    duration_s = property(lambda self: (self._data.get("video") or {}).get("duration_s"))
    size_bytes = property(lambda self: self._data.get("size_bytes"))
    content_hash = property(lambda self: self._data.get("content_hash"), doc="sha256 of the original bytes")
    label_counts = property(lambda self: self._data.get("label_counts", {}))
    created_at = property(lambda self: self._data.get("created_at"))
    metadata = property(lambda self: self._data.get("metadata", {}))
    # Presigned GETs minted when this record was read; they expire (``refresh()`` mints new ones).
    media_url = property(lambda self: self._data.get("media_url"))
    thumbnail_url = property(lambda self: self._data.get("thumbnail_url"))

    @property
    def project(self) -> Any:
        """The ``Project`` this file was read through (None if made from a bare ``Scope``)."""
        return self.scope.owner

    @property
    def _path(self) -> str:
        return f"{self.scope.path}/files/{self.id}"

    def refresh(self) -> File:
        """Read the file again: its current record, annotation version and presigned URLs."""
        self._data = self.scope.api.get(self._path)
        self._annotations = None
        return self

    @property
    def annotation_version(self) -> int:
        """The annotation version this object holds: the one it was read at, or last saved or loaded."""
        if self._annotations is not None:
            return self._annotations["version"]
        return int(self._data.get("annotation_version") or 0)

    @property
    def instance_list(self) -> list[dict[str, Any]]:
        """The live instances (loaded on first use; from then on this object holds their version)."""
        return self._load_annotations()["instance_list"]

    def _load_annotations(self) -> dict[str, Any]:
        if self._annotations is None:
            self._annotations = self.scope.api.get(f"{self._path}/annotations")
        return self._annotations

    def update(self, instance_list: list[dict[str, Any]], *, create_labels: bool = False) -> File:
        """Save ``instance_list`` as a new version, based on ``annotation_version`` (what this object read).

        Raises ``VersionConflict`` (409, ``current_version`` set) if someone saved since: ``refresh()``,
        reapply your change, and save again.
        """
        saved = self.scope.api.put(
            f"{self._path}/annotations",
            {"version": self.annotation_version, "instance_list": instance_list, "create_labels": create_labels},
        )
        self._annotations = {"version": saved["version"], "instance_list": saved["instance_list"]}
        return self

    def history(self) -> list[dict[str, Any]]:
        """Every saved version, oldest first (read page by page: a page of large versions ends early)."""
        versions: list[dict[str, Any]] = []
        cursor = None
        while True:
            page = self.scope.api.get(f"{self._path}/annotations/history", cursor=cursor)
            versions += page["history"]
            cursor = page.get("cursor")
            if not cursor:
                return versions

    def set_metadata(self, metadata: dict[str, Any]) -> File:
        self._data = self.scope.api.patch(self._path, {"metadata": metadata})
        return self

    def delete(self) -> None:
        self.scope.api.delete(self._path)

    def __repr__(self) -> str:
        reason = f": {self.status_reason}" if self.status_reason else ""
        return f"File({self.id!r}, {self.name!r}, {self.status}{reason})"


def images_under(path: Path) -> list[Path]:
    """Every image file under ``path`` (by suffix), sorted."""
    return sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


class Files:
    """``project.file``: upload files (local, URL, packet, a whole directory) and read them by id."""

    def __init__(self, scope: Any) -> None:
        self.scope: Scope = scope_of(scope)

    @property
    def _path(self) -> str:
        return f"{self.scope.path}/files"

    def from_directory(
        self, path: str | Path, directory: str = "default", *, workers: int = 8, progress: bool = True
    ) -> tuple[list[File], list[tuple[Path, str]]]:
        """Upload every image under ``path`` in parallel with a progress bar; returns (files, failures)."""
        paths = images_under(Path(path))
        ready: list[File] = []
        failed: list[tuple[Path, str]] = []
        with (
            ThreadPoolExecutor(max_workers=workers) as pool,
            tqdm(total=len(paths), unit="file", desc=f"uploading to {directory}", disable=not progress) as bar,
        ):
            futures = {pool.submit(self.from_local, p, directory): p for p in paths}
            for future in as_completed(futures):
                try:
                    ready.append(future.result())
                except (IngestFailed, OSError, RuntimeError) as exc:
                    failed.append((futures[future], str(exc)))
                bar.update(1)
        return ready, failed

    def get_by_id(self, file_id: str) -> File:
        return File(self.scope, self.scope.api.get(f"{self._path}/{file_id}"))

    def from_local(
        self,
        path: str | Path,
        directory: str = "default",
        instance_list: list[dict[str, Any]] | None = None,
        *,
        create_labels: bool = False,
        wait_s: float = 120.0,
    ) -> File:
        """Upload a local image (presigned POST straight to S3), wait for ingest, attach instances."""
        path = Path(path)
        body = path.read_bytes()
        content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        upload = self.scope.api.post(
            f"{self.scope.path}/uploads",
            {"dataset": directory, "file_name": path.name, "content_type": content_type, "size_bytes": len(body)},
        )
        self.scope.api.post_form(upload["url"], {**upload["fields"], "file": (path.name, body, content_type)})
        file = self._wait_for_upload(upload["upload_id"], wait_s)
        if instance_list:
            file.update(instance_list, create_labels=create_labels)
        return file

    def from_url(
        self,
        url: str,
        directory: str = "default",
        instance_list: list[dict[str, Any]] | None = None,
        *,
        create_labels: bool = False,
        wait_s: float = 120.0,
    ) -> File:
        """The server downloads ``url`` (public http(s) hosts only) and ingests it; returns the ready file."""
        body = {"url": url, "dataset": directory, "instance_list": instance_list, "create_labels": create_labels}
        upload = self.scope.api.post(f"{self._path}/from_url", body)
        return self._wait_for_upload(upload["upload_id"], wait_s)

    def from_packet(
        self, packet: dict[str, Any], directory: str = "default", *, create_labels: bool = False, wait_s: float = 120.0
    ) -> File:
        """Diffgram's packet: ``{"media": {"url": ..., "type": "image"}, "instance_list": [...]}``."""
        body = {**packet, "dataset": packet.get("dataset", directory), "create_labels": create_labels}
        upload = self.scope.api.post(f"{self._path}/from_packet", body)
        return self._wait_for_upload(upload["upload_id"], wait_s)

    def _wait_for_upload(self, upload_id: str, wait_s: float) -> File:
        deadline = time.monotonic() + wait_s
        delay = 0.1
        while True:
            upload = self.scope.api.get(f"{self.scope.path}/uploads/{upload_id}")
            if upload["status"] == "ready":
                return self.get_by_id(upload["file_id"])
            if upload["status"] == "quarantined":
                raise IngestFailed(f"{upload['file_name']} was quarantined: {upload['status_reason']}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"upload {upload_id} was not ingested within {wait_s:.0f}s")
            time.sleep(delay)
            delay = min(delay * 2, 2.0)
