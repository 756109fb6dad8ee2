"""Datasets ("directories" in the Diffgram SDK's words)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from annolake.file import File
from annolake.slices import Slice

if TYPE_CHECKING:
    from annolake.project import Project


class Dataset:
    def __init__(self, project: Project, data: dict[str, Any]) -> None:
        self.project = project
        self.name: str = data["name"]
        self.dataset_id: str = data["dataset_id"]
        self.description: str = data.get("description", "")
        self._data = data
        self._slice: Slice | None = None

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

    # -- samples: the dataset's ready files as one slice, frozen on first use ----------------------------
    @property
    def _all(self) -> Slice:
        if self._slice is None:
            self._slice = Slice(self.project, self.name)
        return self._slice

    def __len__(self) -> int:
        """Ready files, in the order frozen on first use (``file_count()`` counts every file, now)."""
        return len(self._all)

    def __getitem__(self, index: int) -> dict:
        return self._all[index]

    def __iter__(self) -> Iterator[dict]:
        return iter(self._all)

    def slice(self, query: str) -> Slice:
        """The files matching a query (``labels.car > 3 and labels.pedestrian >= 1``), frozen on first use."""
        return Slice(self.project, self.name, query)

    def query(self, query: str, limit: int = 20) -> dict:
        """How many files match, and the first ``limit`` of them (nothing frozen)."""
        return self.project.client.get(f"{self._path}/query", q=query, limit=limit)

    def to_pytorch(self, **options: object) -> object:
        return self._all.to_pytorch(**options)

    def to_tensorflow(self, **options: object) -> object:
        return self._all.to_tensorflow(**options)

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
