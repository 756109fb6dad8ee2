"""Datasets ("directories" in the Diffgram SDK's words)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from annolake.file import File

if TYPE_CHECKING:
    from annolake.project import Project


class Dataset:
    def __init__(self, project: Project, data: dict[str, Any]) -> None:
        self.project = project
        self.name: str = data["name"]
        self.dataset_id: str = data["dataset_id"]
        self.description: str = data.get("description", "")
        self._data = data

    @property
    def _path(self) -> str:
        return f"{self.project._path}/datasets/{quote(self.name, safe='')}"

    def file_count(self) -> int:
        return self.project.client.get(self._path)["file_count"]

    def files(self, *, status: str | None = None, page_size: int = 100) -> Iterator[File]:
        """Every file of the dataset, newest first, page by page (cursor pagination)."""
        cursor = None
        while True:
            page = self.project.client.get(f"{self._path}/files", limit=page_size, cursor=cursor, status=status)
            for data in page["files"]:
                yield File(self.project, data)
            cursor = page["cursor"]
            if not cursor:
                return

    def __repr__(self) -> str:
        return f"Dataset({self.name!r})"


class Directories:
    def __init__(self, project: Project) -> None:
        self.project = project

    def get(self, name: str) -> Dataset:
        return Dataset(self.project, self.project.client.get(f"{self.project._path}/datasets/{quote(name, safe='')}"))

    def new(self, name: str, description: str = "") -> Dataset:
        data = self.project.client.post(f"{self.project._path}/datasets", {"name": name, "description": description})
        return Dataset(self.project, data)

    def list(self) -> list[Dataset]:
        return [Dataset(self.project, d) for d in self.project.client.get(f"{self.project._path}/datasets")["datasets"]]
