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


def _sent_back_tasks(job_id: str, count: int) -> dict[str, str]:
    """``count`` annotation tasks of the job, each sent back with a review comment of the most a comment may be
    (5000 characters), stored as the review workflow stores them: their statuses by id, in listing order."""
    from datetime import UTC, datetime

    from annolake_service.adapters.dynamo import tasks as task_repo
    from annolake_service.domain.workflow import Task, TaskKind, TaskStatus, task_id

    now = datetime.now(UTC)
    made = {}
    for n in range(count):
        file_id = f"file-{n:03d}"
        task = Task(
            project_id=PROJECT,
            job_id=job_id,
            task_id=task_id(job_id, file_id, TaskKind.ANNOTATE, 1, 0),
            file_id=file_id,
            kind=TaskKind.ANNOTATE,
            round=1,
            status=TaskStatus.AVAILABLE if n % 2 else TaskStatus.RESERVED,
            reserved_for=None if n % 2 else "user:annotator",
            comment=f"{n:03d} " + "c" * 4996,
            created_at=now,
        )
        assert task_repo.create_task(task, claimable_at=now) is None
        made[task.task_id] = task.status.value
    return dict(sorted(made.items()))


def test_a_jobs_tasks_with_long_comments_come_in_pages_its_cursor_carries_on(world: dict[str, Any]):
    client, headers = world["client"], world["headers"]
    assert client.post(f"/api/v1/projects/{PROJECT}/datasets", json={"name": "tasked"}, headers=headers).is_success
    spec = {"name": "sent back", "datasets": ["tasked"]}
    job_id = client.post(f"/api/v1/projects/{PROJECT}/jobs", json=spec, headers=headers).json()["job_id"]
    made = _sent_back_tasks(job_id, 45)
    url = f"/api/v1/projects/{PROJECT}/jobs/{job_id}/tasks"
    pages = _walk(client, url, headers, "tasks", limit=500)
    assert [t["task_id"] for page in pages for t in page] == list(made)  # each once, in order, across the pages
    assert len(pages) >= 3 and max(len(page) for page in pages) < 20  # 5 KB each: under 20 fit 100 KB
    reserved = _walk(client, url, headers, "tasks", limit=500, status="reserved")  # a filtered listing the same way
    assert [t["task_id"] for page in reserved for t in page] == [
        t for t, status in made.items() if status == "reserved"
    ]
    assert len(reserved) >= 2


def _evaluated_run(files: int, errors_per_file: int) -> str:
    """A completed run whose evaluation report (as the evaluation step stores it) has ``files`` files, each
    with ``errors_per_file`` false positives (a crowded image the model saw boxes all over); its id."""
    from datetime import UTC, datetime

    from annolake_service.adapters import storage
    from annolake_service.adapters.dynamo import predictions as prediction_repo
    from annolake_service.domain.predictions import PredictionRun
    from annolake_service.shared.settings import get_settings

    run_id = f"pr_{uuid.uuid4().hex[:12]}"
    now = datetime.now(UTC)
    prediction_repo.create_run(
        PredictionRun(
            project_id=PROJECT,
            run_id=run_id,
            model_name="det",
            model_version=1,
            dataset="default",
            query=None,
            threshold=0.3,
            slice_id="sl_unused",
            status="completed",
            status_reason=None,
            total=files,
            done=files,
            failed=0,
            execution_arn=None,
            created_by="user:owner",
            created_at=now,
            started_at=now,
            finished_at=now,
        )
    )
    errors = [
        {"kind": "fp", "label": "car", "score": round(0.3 + k / (2 * errors_per_file), 6)}
        for k in range(errors_per_file)
    ]
    listed = [
        {
            "file_id": f"f{n:05d}",
            "tp": 0,
            "fp": errors_per_file,
            "fn": 0,
            "mismatches": 0,
            "disagreement": 0.99,
            "errors": errors,
        }
        for n in range(files)
    ]
    report = {"run_id": run_id, "iou": 0.5, "file_count": files, "files": listed}
    key = storage.run_prefix(PROJECT, run_id) + "evaluation.json"
    storage.write_object(get_settings().media_bucket, key, json.dumps(report).encode(), "application/json")
    return run_id


def test_a_runs_evaluation_files_come_in_pages_by_offset_or_cursor(world: dict[str, Any]):
    client, headers = world["client"], world["headers"]
    run_id = _evaluated_run(files=40, errors_per_file=300)  # ~15 KB a file: six fit 100 KB
    url = f"/api/v1/projects/{PROJECT}/runs/{run_id}/evaluation/files"
    pages = _walk(client, url, headers, "files", limit=1000)
    assert [f["file_id"] for page in pages for f in page] == [f"f{n:05d}" for n in range(40)]
    assert len(pages) >= 6 and max(len(page) for page in pages) == 6
    first = client.get(url, params={"limit": 1000}, headers=headers).json()
    assert first["next_offset"] == 6 and first["offset"] == 0
    by_offset = client.get(url, params={"limit": 1000, "offset": first["next_offset"]}, headers=headers).json()
    by_cursor = client.get(url, params={"limit": 1000, "cursor": first["cursor"]}, headers=headers).json()
    assert by_offset["files"] == by_cursor["files"] and by_cursor["offset"] == 6
    last = client.get(url, params={"limit": 3, "offset": 37}, headers=headers).json()
    assert len(last["files"]) == 3 and last["next_offset"] is None and last["cursor"] is None
    crossed = client.get(
        f"/api/v1/projects/{PROJECT}/jobs", params={"cursor": first["cursor"]}, headers=headers
    )  # an evaluation cursor is no jobs cursor
    assert crossed.status_code == 400 and "cursor" in crossed.json()["error"]["message"]


def test_a_listing_over_six_megabytes_pages_instead_of_the_500_the_cloud_would_give(world: dict[str, Any]):
    """The local runtime answers what Lambda refuses (over 6 MB) with a 500: a page of 1000 crowded files'
    evaluations would be over it; with the default budget it comes in pages, each answered."""
    from annolake_service.api.app import create_app

    from infra.local.cloud_limits import LAMBDA_RESPONSE_BYTES, LambdaResponseLimit

    run_id = _evaluated_run(files=1000, errors_per_file=170)  # ~7.5 KB a file
    url = f"/api/v1/projects/{PROJECT}/runs/{run_id}/evaluation/files"
    with pytest.MonkeyPatch.context() as env:
        env.delenv("PAGE_MAX_BYTES")  # the budget the service runs with
        reset_service_caches()
        limited = TestClient(LambdaResponseLimit(create_app()))
        walked, sizes, cursor = [], [], None
        while True:
            answer = limited.get(
                url, params={"limit": 1000, **({"cursor": cursor} if cursor else {})}, headers=world["headers"]
            )
            assert answer.status_code == 200, answer.text[:300]
            sizes.append(len(answer.content))
            walked += answer.json()["files"]
            if not (cursor := answer.json()["cursor"]):
                break
    reset_service_caches()
    assert sum(sizes) > LAMBDA_RESPONSE_BYTES and len(sizes) == 2  # one answer would have been refused
    assert max(sizes) <= LAMBDA_RESPONSE_BYTES
    assert [f["file_id"] for f in walked] == [f"f{n:05d}" for n in range(1000)]


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


def _unsigned(value: Any) -> Any:
    """``value`` with each presigned URL's query (its signature and signing time) cut: two reads a second
    apart sign the same object differently."""
    if isinstance(value, dict):
        return {
            k: v.split("?")[0] if k.endswith("_url") and isinstance(v, str) else _unsigned(v) for k, v in value.items()
        }
    if isinstance(value, list):
        return [_unsigned(v) for v in value]
    return value


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
    if path in ("datasets", "jobs"):  # made here: the tests that make others may run in another worker
        made = client.post(f"/api/v1/projects/{PROJECT}/datasets", json={"name": f"listed-{path}"}, headers=headers)
        assert made.is_success, made.text
        for n in range(3 if path == "jobs" else 0):
            spec = {"name": f"listed {n}", "datasets": [f"listed-{path}"]}
            assert client.post(f"/api/v1/projects/{PROJECT}/jobs", json=spec, headers=headers).is_success
    url = f"/api/v1/projects/{PROJECT}/{path}"
    with pytest.MonkeyPatch.context() as env:
        env.setenv("PAGE_MAX_BYTES", str(10**9))
        reset_service_caches()
        whole = client.get(url, headers=headers).json()[LISTINGS[path]]
    reset_service_caches()
    assert len(whole) >= 1 or path in ("imports", "webhooks", "exports", "snapshots", "models", "runs")
    assert _unsigned(_one_by_one(client, url, headers, LISTINGS[path])) == _unsigned(whole)  # same items, same order


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


def _snapshot_of_large_annotations(dataset: str, files: int, start: int) -> list[str]:
    """``files`` files each pinned with a 1500-point polygon (~40 KB of JSON), snapshotted as ``dataset``; their
    ids in file id order (the snapshot's order)."""
    from annolake_service.services import ingest, projects, snapshot_builds

    outline = next(polygon_versions(1))
    made = projects.ensure_dataset(PROJECT, dataset)
    facts = [ingest.store_media(PROJECT, slice_data.jpeg(i)) for i in range(start, start + files)]
    ingest.record_new_files(
        PROJECT,
        made.dataset_id,
        [{"name": f"big_{n:04d}.jpg", "facts": f, "instance_list": outline} for n, f in enumerate(facts)],
        author="seed",
    )
    taken, _ = snapshot_builds.create_snapshot(PROJECT, dataset, dataset, None, author="user:owner")
    assert taken["status"] == "ready" and taken["count"] == files
    return sorted(f["file_id"] for f in facts)


def test_a_snapshots_stream_page_of_large_annotations_ends_at_its_bytes_and_its_cursor_carries_on(world):
    client, headers = world["client"], world["headers"]
    file_ids = _snapshot_of_large_annotations("pinned-heavy", 7, start=82_000)
    url = f"/api/v1/projects/{PROJECT}/snapshots/pinned-heavy/items"
    first = client.get(url, params={"limit": 500}, headers=headers).json()
    assert len(first["items"]) == 2 and first["next_offset"] == 2  # two 40 KB versions fit 100 KB, not three
    by_offset = client.get(url, params={"limit": 500, "offset": 2}, headers=headers).json()
    by_cursor = client.get(url, params={"limit": 500, "cursor": first["cursor"]}, headers=headers).json()
    assert _unsigned(by_offset["items"]) == _unsigned(by_cursor["items"]) and by_cursor["offset"] == 2
    pages = _walk(client, url, headers, "items", limit=500)
    walked = [item["file"]["id"] for page in pages for item in page]
    assert walked == file_ids and len(pages) == 4
    assert all(len(i["instance_list"][0]["points"]) == 1500 for page in pages for i in page)


def test_a_snapshot_page_over_six_megabytes_is_cut_instead_of_refused(world: dict[str, Any]):
    """240 files of 30 KB pinned versions (as answered) are 7 MB in one page of 500: the local runtime would answer
    500 as Lambda refuses it; with the default budget the page ends under it and the cursor carries on."""
    from annolake_service.api.app import create_app

    from infra.local.cloud_limits import LAMBDA_RESPONSE_BYTES, LambdaResponseLimit

    file_ids = _snapshot_of_large_annotations("pinned-crowd", 240, start=83_000)
    url = f"/api/v1/projects/{PROJECT}/snapshots/pinned-crowd/items"
    with pytest.MonkeyPatch.context() as env:
        env.delenv("PAGE_MAX_BYTES")  # the budget the service runs with
        reset_service_caches()
        limited = TestClient(LambdaResponseLimit(create_app()))
        walked, sizes, cursor = [], [], None
        while True:
            params = {"limit": 500, "urls": "media", **({"cursor": cursor} if cursor else {})}
            answer = limited.get(url, params=params, headers=world["headers"])
            assert answer.status_code == 200, answer.text[:300]
            sizes.append(len(answer.content))
            walked += [item["file"]["id"] for item in answer.json()["items"]]
            if not (cursor := answer.json()["cursor"]):
                break
    reset_service_caches()
    assert sum(sizes) > LAMBDA_RESPONSE_BYTES and len(sizes) == 2  # one answer would have been refused
    assert max(sizes) <= LAMBDA_RESPONSE_BYTES
    assert walked == file_ids
