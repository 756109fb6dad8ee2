"""The real API (uvicorn, in a thread) over moto behind PresignGuard, with one seeded project: what SDK tests call.

The guard refuses presigned URLs past their expiry, as S3 does. The service reads its tables and buckets
from the environment, so one stack runs at a time (each test module holds its own).
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import boto3
import pytest
import uvicorn

from infra.local.presign import PresignGuard
from tests.support.auth import create_single_table, point_service_at, reset_service_caches


@dataclass
class Stack:
    host: str
    project_id: str
    client_id: str
    client_secret: str
    file_ids: list[str] = field(default_factory=list)

    def project(self):
        from annolake import Project

        return Project(self.project_id, client_id=self.client_id, client_secret=self.client_secret, host=self.host)

    def point_cli_at(self, monkeypatch: pytest.MonkeyPatch, project_id: str | None = None) -> None:
        """The ``annolake`` command's environment set to this stack (its project, or ``project_id``)."""
        monkeypatch.setenv("ANNOLAKE_HOST", self.host)
        monkeypatch.setenv("ANNOLAKE_PROJECT", project_id or self.project_id)
        monkeypatch.setenv("ANNOLAKE_CLIENT_ID", self.client_id)
        monkeypatch.setenv("ANNOLAKE_CLIENT_SECRET", self.client_secret)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def api_stack(
    serve_wsgi, new_moto_app, project_id: str, seed: Callable[[str], list[str]], *, role: str = "viewer"
) -> Iterator[Stack]:
    """Tables and bucket on a fresh moto, ``project_id`` created, ``seed(project_id)`` run (it returns file ids),
    and an API key of ``role``; yields the stack while the API serves."""
    guard = PresignGuard(new_moto_app(), {"test": "test"})
    with serve_wsgi(guard) as endpoint, pytest.MonkeyPatch.context() as env:
        session = boto3.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1")
        suffix = uuid.uuid4().hex[:8]
        table, media = f"annolake-sdk-{suffix}", f"media-sdk-{suffix}"
        create_single_table(session.client("dynamodb", endpoint_url=endpoint), table)
        session.client("s3", endpoint_url=endpoint).create_bucket(Bucket=media)
        point_service_at(env, endpoint, {"TABLE_NAME": table, "MEDIA_BUCKET": media})
        reset_service_caches()
        from annolake_service.api.app import create_app
        from annolake_service.domain.roles import Role
        from annolake_service.services import projects

        projects.create_project(project_id, project_id.title(), creator="user:owner")
        key = projects.issue_api_key(project_id, role=Role(role), name="sdk-test")
        file_ids = seed(project_id)
        server = uvicorn.Server(uvicorn.Config(create_app(), host="127.0.0.1", port=_free_port(), log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.05)
        try:
            host = f"http://127.0.0.1:{server.config.port}"
            yield Stack(host, project_id, key.client_id, key.client_secret, file_ids)
        finally:
            server.should_exit = True
            thread.join(timeout=10)
            reset_service_caches()
