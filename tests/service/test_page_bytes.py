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


def test_jobs_with_long_instructions_come_in_pages_newest_first(world: dict[str, Any]):
    client, headers = world["client"], world["headers"]
    assert client.post(f"/api/v1/projects/{PROJECT}/datasets", json={"name": "jobbed"}, headers=headers).is_success
    made = []
    for n in range(9):  # 20 000 characters of instructions each, the most a job may carry: four fit 100 KB
        spec = {"name": f"job {n}", "instructions": f"{n}" + "i" * 19_999, "datasets": ["jobbed"]}
        created = client.post(f"/api/v1/projects/{PROJECT}/jobs", json=spec, headers=headers)
        assert created.status_code == 201, created.text
        made.append(created.json()["job_id"])
    pages = _walk(client, f"/api/v1/projects/{PROJECT}/jobs", headers, "jobs")
    walked = [j["job_id"] for page in pages for j in page]
    assert [j for j in walked if j in made] == made[::-1]  # each once, newest first, across the pages
    assert len(pages) >= 3 and max(len(page) for page in pages) <= 4


def test_datasets_with_long_descriptions_come_in_pages(world: dict[str, Any]):
    client, headers = world["client"], world["headers"]
    names = [f"described-{n}" for n in range(6)]
    for name in names:
        body = {"name": name, "description": name + " " + "d" * 40_000}
        assert client.post(f"/api/v1/projects/{PROJECT}/datasets", json=body, headers=headers).status_code == 201
    pages = _walk(client, f"/api/v1/projects/{PROJECT}/datasets", headers, "datasets")
    walked = [d["name"] for page in pages for d in page]
    assert [n for n in walked if n in names] == names and len(walked) == len(set(walked))
    assert len(pages) >= 3


LISTINGS = {  # every listing read whole, under /projects/{id}: its path and the key of its items
    "members": "members",
    "api-keys": "api_keys",
    "datasets": "datasets",
    "jobs": "jobs",
    "imports": "imports",
    "webhooks": "webhooks",
    "exports": "exports",
    "snapshots": "snapshots",
    "models": "models",
    "runs": "runs",
}


@pytest.fixture
def one_item_a_page(world: dict[str, Any]) -> Iterator[None]:
    """A budget of one byte: every page holds the one item a page always may."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv("PAGE_MAX_BYTES", "1")
        reset_service_caches()
        yield
    reset_service_caches()


def _one_by_one(client: TestClient, url: str, headers: dict[str, str], key: str) -> list[Any]:
    items, cursor, seen = [], None, 0
    while True:
        answer = client.get(url, params={"cursor": cursor} if cursor else {}, headers=headers)
        assert answer.status_code == 200, answer.text
        page = answer.json()[key]
        assert len(page) <= 1 and (page or not seen), page
        items += page
        seen += 1
        if not (cursor := answer.json()["cursor"]):
            return items


@pytest.mark.parametrize("path", sorted(LISTINGS))
def test_every_listing_read_whole_follows_its_cursor_to_each_item_once(world, one_item_a_page, path):
    client, headers = world["client"], world["headers"]
    from annolake_service.domain.roles import Role
    from annolake_service.services import projects

    if path == "members":
        for n in range(3):
            projects.set_member_role(PROJECT, f"user:member-{n}", Role.VIEWER)
    if path == "api-keys":
        for n in range(3):
            projects.issue_api_key(PROJECT, role=Role.VIEWER, name=f"key {n}")
    url = f"/api/v1/projects/{PROJECT}/{path}"
    with pytest.MonkeyPatch.context() as env:
        env.setenv("PAGE_MAX_BYTES", str(10**9))
        reset_service_caches()
        whole = client.get(url, headers=headers).json()[LISTINGS[path]]
    reset_service_caches()
    assert len(whole) >= 1 or path in ("imports", "webhooks", "exports", "snapshots", "models", "runs")
    assert _one_by_one(client, url, headers, LISTINGS[path]) == whole  # the same items, in the same order


def test_a_listing_refuses_a_cursor_of_another_listing(world: dict[str, Any]):
    client, headers = world["client"], world["headers"]
    with pytest.MonkeyPatch.context() as env:
        env.setenv("PAGE_MAX_BYTES", "1")
        reset_service_caches()
        first = client.get(f"/api/v1/projects/{PROJECT}/members", headers=headers).json()
        assert first["cursor"], first
        crossed = client.get(
            f"/api/v1/projects/{PROJECT}/datasets", params={"cursor": first["cursor"]}, headers=headers
        )
    reset_service_caches()
    assert crossed.status_code == 400 and "cursor" in crossed.json()["error"]["message"]
