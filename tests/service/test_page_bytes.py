"""Listings whose items can be large end a page at ``PAGE_MAX_BYTES`` and their cursor carries on.

A dataset's files (each with up to 32 KB of metadata and two presigned URLs; up to 1000 a page) and a file's
annotation history (versions of up to 350 KB each, any number of them) could otherwise add up past the 6 MB a
Lambda function may return. Here the budget is set low, the items are made large, and walking the cursor
gives every item once, in order, each page within its budget.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from starlette.testclient import TestClient

from tests.support import slice_data
from tests.support.auth import AuthWorld, auth_world, reset_service_caches

__all__ = ["auth_world"]  # the fixture, used by name

PROJECT = "pages"
BUDGET = 100_000


def _basic(key: Any) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{key.client_id}:{key.client_secret}".encode()).decode()}


@pytest.fixture(scope="module")
def world(auth_world: AuthWorld) -> Iterator[dict[str, Any]]:
    with pytest.MonkeyPatch.context() as env:
        media = f"media-pages-{uuid.uuid4().hex[:8]}"
        boto3.client(
            "s3",
            endpoint_url=auth_world.endpoint,
            region_name="us-east-1",
            aws_access_key_id="test",
            aws_secret_access_key="test",  # noqa: S106 - the emulator's fixed credentials
        ).create_bucket(Bucket=media)
        env.setenv("MEDIA_BUCKET", media)
        env.setenv("PAGE_MAX_BYTES", str(BUDGET))
        reset_service_caches()
        from annolake_service.api.app import create_app
        from annolake_service.domain.roles import Role
        from annolake_service.services import projects

        projects.create_project(PROJECT, "Pages", creator="user:owner")
        admin = _basic(projects.issue_api_key(PROJECT, role=Role.ADMIN, name="admin"))
        try:
            yield {"client": TestClient(create_app()), "headers": admin}
        finally:
            reset_service_caches()


def polygon_versions(count: int) -> Iterator[list[dict[str, Any]]]:
    """``count`` instance lists of one polygon of 1500 points (~40 KB each), each a little different."""
    outline = [{"x": float(i % 60), "y": float(i * 7 % 40)} for i in range(1500)]
    for n in range(count):
        yield [{"type": "polygon", "name": "car", "points": outline[n:] + outline[:n]}]


def _walk(client: TestClient, url: str, headers: dict[str, str], key: str, **params: Any) -> list[list[Any]]:
    """Every page of a listing, following its cursor; each page's items within the budget (or a single item)."""
    pages, cursor = [], None
    while True:
        answer = client.get(url, params={**params, **({"cursor": cursor} if cursor else {})}, headers=headers)
        assert answer.status_code == 200, answer.text
        items = answer.json()[key]
        used = sum(len(json.dumps(item)) + 1 for item in items)
        assert used <= BUDGET or len(items) == 1, (used, len(items))
        pages.append(items)
        if not (cursor := answer.json()["cursor"]):
            return pages


def test_a_page_of_files_with_large_metadata_ends_at_its_bytes_and_its_cursor_carries_on(world: dict[str, Any]):
    client, headers = world["client"], world["headers"]
    file_ids = slice_data.seed_dataset(PROJECT, "heavy", 12, start=80_000)
    for n, file_id in enumerate(file_ids):  # 30 KB of metadata each: within the 32 KB a file may carry
        metadata = {"notes": f"{n:02d}" + "x" * 30_000}
        file_url = f"/api/v1/projects/{PROJECT}/files/{file_id}"
        saved = client.patch(file_url, json={"metadata": metadata}, headers=headers)
        assert saved.status_code == 200, saved.text
    url = f"/api/v1/projects/{PROJECT}/datasets/heavy/files"
    pages = _walk(client, url, headers, "files", limit=1000)
    walked = [f["file_id"] for page in pages for f in page]
    assert sorted(walked) == sorted(file_ids) and len(walked) == len(set(walked))  # each once
    assert len(pages) >= 4 and max(len(page) for page in pages) == 3  # three 30 KB files fit 100 KB, not four
    queried = _walk(client, url, headers, "files", limit=1000, query="file.width > 0")
    assert [f["file_id"] for page in queried for f in page] == walked  # a query's pages the same way


def test_a_long_annotation_history_comes_in_pages_its_cursor_carries_on(world: dict[str, Any]):
    client, headers = world["client"], world["headers"]
    [file_id] = slice_data.seed_dataset(PROJECT, "edited", 1, start=81_000)
    url = f"/api/v1/projects/{PROJECT}/files/{file_id}/annotations"
    version = client.get(url, headers=headers).json()["version"]
    for instances in polygon_versions(7):
        saved = client.put(url, json={"version": version, "instance_list": instances}, headers=headers)
        assert saved.status_code == 200, saved.text
        version = saved.json()["version"]
    pages = _walk(client, f"{url}/history", headers, "history")
    versions = [v["version"] for page in pages for v in page]
    assert versions == list(range(1, version + 1)) and len(pages) > 2
    bad = client.get(f"{url}/history", params={"cursor": "not-a-cursor"}, headers=headers)
    assert bad.status_code == 400 and "cursor" in bad.json()["error"]["message"]
