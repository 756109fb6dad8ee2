"""Datasets ("directories" in the Diffgram SDK's words)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

from annolake._scope import Scope, scope_of
from annolake.file import File
from annolake.slices import Slice
from annolake.snapshots import Snapshot, Snapshots


class Dataset:
    """A named set of files in a project (Diffgram's "directory"), and its ready files as samples.

    ``len(ds)``, ``ds[7]`` and ``for sample in ds`` read the ready files in an order frozen on first use;
    ``ds.slice(query)`` narrows them; ``ds.to_pytorch()`` / ``ds.to_tensorflow()`` stream them.
    """

    def __init__(self, scope: Any, data: dict[str, Any]) -> None:
        self.scope: Scope = scope_of(scope)
        self.name: str = data["name"]
        self.dataset_id: str = data["dataset_id"]
        self.description: str = data.get("description", "")
        self._data = data
        self._slice: Slice | None = None

    @property
    def project(self) -> Any:
        """The ``Project`` this dataset was read through (None if made from a bare ``Scope``)."""
        return self.scope.owner

    @property
    def _path(self) -> str:
        return f"{self.scope.path}/datasets/{quote(self.name, safe='')}"

    def file_count(self) -> int:
        return self.scope.api.get(self._path)["file_count"]

    def files(self, *, status: str | None = None, page_size: int = 100) -> Iterator[File]:
        """Every file of the dataset, newest first, page by page (cursor pagination)."""
        cursor = None
        while True:
            page = self.scope.api.get(f"{self._path}/files", limit=page_size, cursor=cursor, status=status)
            for data in page["files"]:
                yield File(self.scope, data)
            cursor = page["cursor"]
            if not cursor:
                return

    # -- samples: the dataset's ready files as one slice, frozen on first use ----------------------------
    @property
    def _all(self) -> Slice:
        if self._slice is None:
            self._slice = Slice(self.scope, self.name)
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
        return Slice(self.scope, self.name, query)

    def snapshot(
        self, name: str, query: str | None = None, *, progress: bool = False, wait_s: float = 3600.0
    ) -> Snapshot:
        """Pin the ready files matching ``query`` (all if None) at their current annotation versions, for good;
        a large one is built on the server and waited for. See ``annolake.snapshots``."""
        return Snapshots(self.scope).new(name, directory=self.name, query=query, progress=progress, wait_s=wait_s)

    def query(self, query: str, limit: int = 20, *, engine: str = "auto") -> dict:
        """How many files match, and the first ``limit`` of them (nothing frozen). ``engine``: ``auto`` (Athena for
        a very large dataset), ``embedded`` or ``athena``; the answer's ``engine`` says which ran it."""
        return self.scope.api.get(f"{self._path}/query", q=query, limit=limit, engine=engine)

    def to_pytorch(self, **options: Any) -> Any:
        """The ready files as a PyTorch dataset (see ``Slice.to_pytorch``)."""
        return self._all.to_pytorch(**options)

    def to_tensorflow(self, **options: Any) -> Any:
        """The ready files as a ``tf.data.Dataset`` (see ``Slice.to_tensorflow``)."""
        return self._all.to_tensorflow(**options)

    def __repr__(self) -> str:
        return f"Dataset({self.name!r})"


class Directories:
    """``project.directory``: get, create and list datasets."""

    def __init__(self, scope: Any) -> None:
        self.scope: Scope = scope_of(scope)

    def get(self, name: str) -> Dataset:
        return Dataset(self.scope, self.scope.api.get(f"{self.scope.path}/datasets/{quote(name, safe='')}"))

    def new(self, name: str, description: str = "") -> Dataset:
        data = self.scope.api.post(f"{self.scope.path}/datasets", {"name": name, "description": description})
        return Dataset(self.scope, data)

    def list(self) -> list[Dataset]:
        return [Dataset(self.scope, d) for d in self.scope.api.get_all(f"{self.scope.path}/datasets", "datasets")]
