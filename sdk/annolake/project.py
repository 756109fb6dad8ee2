"""``Project``: the SDK's entry point, one per Annolake project. No network until first used."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any
from urllib.parse import quote

from annolake.client import ApiClient
from annolake.credentials import resolve_credentials
from annolake.directory import Directories
from annolake.file import Files
from annolake.workflow import Jobs, Tasks, Webhooks


class Project:
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
        self.project_string_id = credentials.project
        self.host = credentials.host
        self.client = ApiClient(credentials.host, credentials.client_id, credentials.client_secret)
        self.directory = Directories(self)
        self.file = Files(self)
        self.job = Jobs(self)
        self.task = Tasks(self)
        self.webhook = Webhooks(self)

    @property
    def _path(self) -> str:
        return f"/projects/{quote(self.project_string_id, safe='')}"

    def health(self) -> dict[str, Any]:
        """The deployment's version and whether its tables and buckets answer."""
        return self.client.get("/health")

    def info(self) -> dict[str, Any]:
        return self.client.get(self._path)

    def get_label_schema(self) -> dict[str, Any]:
        """Labels and attribute groups, with the schema ``version``."""
        return self.client.get(f"{self._path}/schema")

    def label_new(self, label: dict[str, Any]) -> dict[str, Any]:
        """Add a label (``{"name": "car", "colour": "#ff0000"}``); an existing name is returned as is."""
        return self.client.post(f"{self._path}/labels", label)

    def attribute_group_new(self, group: dict[str, Any]) -> dict[str, Any]:
        return self.client.post(f"{self._path}/attribute-groups", group)

    def import_coco(self, path: str | Path, directory: str = "default", **options: Any) -> dict[str, Any]:
        """Import a COCO JSON (boxes, polygons) with its images as one job; returns the finished job."""
        from annolake.bulk import import_coco

        return import_coco(self, path, directory, **options)

    def import_yolo(self, folder: str | Path, directory: str = "default", **options: Any) -> dict[str, Any]:
        from annolake.bulk import import_yolo

        return import_yolo(self, folder, directory, **options)

    def import_jsonl(self, path: str | Path, directory: str = "default", **options: Any) -> dict[str, Any]:
        from annolake.bulk import import_jsonl

        return import_jsonl(self, path, directory, **options)

    def __repr__(self) -> str:
        return f"Project({self.project_string_id!r}, host={self.host!r})"
