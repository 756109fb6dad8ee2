"""``Project``: the SDK's entry point, one per Annolake project. No network until first used."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from annolake import bulk
from annolake._scope import Scope
from annolake.client import ApiClient
from annolake.credentials import resolve_credentials
from annolake.directory import Directories
from annolake.file import Files
from annolake.models import Models
from annolake.snapshots import Snapshots
from annolake.workflow import Jobs, Tasks, Webhooks


class Project:
    """One project on one Annolake deployment: its datasets, files, labels, jobs, tasks and webhooks.

    ``Project()`` takes its connection from the arguments, else the ``ANNOLAKE_*`` environment variables,
    else a credentials.json. Resources hang off it as in Diffgram's SDK: ``project.directory``,
    ``project.file``, ``project.job``, ``project.task``, ``project.webhook``, ``project.snapshot``. Picklable:
    a copy (in a DataLoader worker, say) opens its own connections.
    """

    def __init__(
        self,
        project_string_id: str | None = None,
        client_id: str | None = None,
        client_secret: str | None = None,
        host: str | None = None,
        debug: bool = False,
    ) -> None:
        """``debug=True`` (as in the Diffgram SDK) logs every HTTP request at DEBUG level."""
        if debug:
            logging.basicConfig()
            logging.getLogger("urllib3").setLevel(logging.DEBUG)
        credentials = resolve_credentials(
            host=host, project=project_string_id, client_id=client_id, client_secret=client_secret
        )
        api = ApiClient(credentials.host, credentials.client_id, credentials.client_secret)
        self._connect(Scope(api, credentials.project, credentials.host, owner=self))

    def _connect(self, scope: Scope) -> None:
        self.scope = scope
        self.project_string_id = scope.project
        self.host = scope.host
        self.client = scope.api
        self.directory = Directories(scope)
        self.file = Files(scope)
        self.job = Jobs(scope)
        self.task = Tasks(scope)
        self.webhook = Webhooks(scope)
        self.snapshot = Snapshots(scope)
        self.model = Models(scope)
        self._name_to_file_id: dict[str, int] | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {"api": self.client, "project": self.project_string_id, "host": self.host}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._connect(Scope(state["api"], state["project"], state["host"], owner=self))

    def __reduce__(self) -> tuple[Any, ...]:
        return _unpickled, (self.client.arguments, self.project_string_id, self.host)

    @property
    def _path(self) -> str:
        return self.scope.path

    def health(self) -> dict[str, Any]:
        """The deployment's version and whether its tables and buckets answer."""
        return self.client.get("/health")

    def info(self) -> dict[str, Any]:
        return self.client.get(self._path)

    def get_label_schema(self) -> dict[str, Any]:
        """Labels and attribute groups, with the schema ``version``."""
        return self.client.get(f"{self._path}/schema")

    def get_label_file_dict(self, use_session: bool = True) -> dict[str, int]:
        """Label name → label id, as Diffgram's SDK returns it; also kept as ``name_to_file_id``.

        The id is the label's position in the schema, the number samples carry in ``label_id_list``.
        ``use_session`` is accepted for compatibility and changes nothing.
        """
        labels = self.get_label_schema()["labels"]
        self._name_to_file_id = {label["name"]: index for index, label in enumerate(labels)}
        return self._name_to_file_id

    @property
    def name_to_file_id(self) -> dict[str, int]:
        """Label name → label id (see ``get_label_file_dict``), read from the API on first use."""
        if self._name_to_file_id is None:
            return self.get_label_file_dict()
        return self._name_to_file_id

    def label_new(self, label: dict[str, Any]) -> dict[str, Any]:
        """Add a label (``{"name": "car", "colour": "#ff0000"}``); an existing name is returned as is."""
        return self.client.post(f"{self._path}/labels", label)

    def attribute_group_new(self, group: dict[str, Any], *, default: Any = None) -> dict[str, Any]:
        """Add an attribute group (``{"name": "occluded", "kind": "select", "options": ["no", "yes"]}``); returns
        the schema. ``default``: the value new instances of its labels start with in the editor (a value the group
        accepts, else 400); it overrides a ``"default"`` in ``group``."""
        body = group if default is None else {**group, "default": default}
        return self.client.post(f"{self._path}/attribute-groups", body)

    def import_coco(self, path: str | Path, directory: str = "default", **options: Any) -> dict[str, Any]:
        """Import a COCO JSON (boxes, polygons) with its images as one job; returns the finished job."""
        return bulk.import_coco(self.scope, path, directory, **options)

    def import_yolo(self, folder: str | Path, directory: str = "default", **options: Any) -> dict[str, Any]:
        """Import a YOLO folder (images/, labels/, data.yaml) as one job; returns the finished job."""
        return bulk.import_yolo(self.scope, folder, directory, **options)

    def import_jsonl(self, path: str | Path, directory: str = "default", **options: Any) -> dict[str, Any]:
        """Import a JSONL of Diffgram packets as one job; returns the finished job."""
        return bulk.import_jsonl(self.scope, path, directory, **options)

    def export(
        self,
        format: str,  # noqa: A002 - the name users pass
        directory: str = "default",
        query: str | None = None,
        path: str | Path | None = None,
        **options: Any,
    ) -> dict[str, Any]:
        """Export the ready files of ``directory`` matching ``query``: a snapshot is taken first (named
        ``export-<UTC time>``; unchanged data shares the digest, so its export is reused), then
        ``Snapshot.export``."""
        name = "export-" + datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        return self.snapshot.new(name, directory=directory, query=query).export(format, path, **options)

    def cancel_export(self, export_id: str) -> dict[str, Any]:
        """Stop a queued or running export (its partial output is removed); the export, now ``cancelled``.
        Asking for the same export again (``snap.export(format)``) starts it anew."""
        return self.scope.api.post(f"{self.scope.path}/exports/{quote(export_id, safe='')}/cancel", {})

    def __repr__(self) -> str:
        return f"Project({self.project_string_id!r}, host={self.host!r})"


# Copies made by unpickling in this process, by what they connect with: every sample a DataLoader worker hands over
# carries its project (``sample["diffgram_file"].client``), so each batch would otherwise build a project of its own
# (a connection pool, and reference cycles the garbage collector then has to walk).
_COPIES: dict[tuple[Any, ...], Project] = {}


def _unpickled(arguments: tuple[Any, ...], project: str, host: str) -> Project:
    """The process's copy of a pickled ``Project``: one per connection, shared by what unpickles it again."""
    key = (arguments, project, host)
    copy = _COPIES.get(key)
    if copy is None:
        copy = Project.__new__(Project)
        copy.__setstate__({"api": ApiClient(*arguments[:3], timeout=arguments[3]), "project": project, "host": host})
        copy = _COPIES.setdefault(key, copy)
    return copy
