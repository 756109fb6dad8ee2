"""Concurrent writers over the API, generated: no lost update, no task handed out twice, no lost label.

Each test sends real HTTP-shaped requests through the FastAPI app (one ``TestClient`` per writer, on threads
that start together) to the service code over a moto of this module's own. That moto applies DynamoDB's
operations one at a time, as the local emulator does (``serialize_dynamodb_operations``), because DynamoDB
applies each conditional write atomically and plain moto does not.

The hypothesis state machine runs ``CONCURRENCY_EXAMPLES`` examples (default 4, a few seconds); set
``ANNOLAKE_CONCURRENCY_EXAMPLES=100`` for a deeper run.
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from starlette.testclient import TestClient

from infra.local.moto_patches import serialize_dynamodb_operations
from tests.support import slice_data
from tests.support.auth import point_service_at, reset_service_caches, workflow_resources

PROJECT = "busy"
OWNER = "user:owner"
EXAMPLES = int(os.environ.get("ANNOLAKE_CONCURRENCY_EXAMPLES", "4"))
_IMAGES = itertools.count(50_000, 1000)  # each dataset its own images: the same bytes in a project are one file


@dataclass
class World:
    app: Any
    sfn: Any
    review_machine: str
    admin: dict[str, str]
    annotators: list[dict[str, str]]

    def client(self) -> TestClient:
        return TestClient(self.app)


def _basic(key: Any) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{key.client_id}:{key.client_secret}".encode()).decode()}


@pytest.fixture(scope="module")
def world(serve_wsgi: Callable[..., Any], new_moto_app: Callable[[], Any]) -> Iterator[World]:
    moto = new_moto_app()  # installs the emulator's transactions first, which the lock then wraps (as install())
    serialize_dynamodb_operations()  # what the local emulator runs: each DynamoDB operation atomic
    with serve_wsgi(moto) as endpoint, pytest.MonkeyPatch.context() as env:
        variables, sfn = workflow_resources(endpoint, "busy")
        point_service_at(env, endpoint, variables, unset=["EVENT_BUS_NAME"])
        reset_service_caches()
        from annolake_service.api.app import create_app
        from annolake_service.domain.roles import Role
        from annolake_service.services import projects

        projects.create_project(PROJECT, "Busy", creator=OWNER)
        admin = _basic(projects.issue_api_key(PROJECT, role=Role.ADMIN, name="admin"))
        annotators = [
            _basic(projects.issue_api_key(PROJECT, role=Role.ANNOTATOR, name=f"annotator {n}")) for n in range(50)
        ]
        try:
            yield World(create_app(), sfn, variables["REVIEW_STATE_MACHINE_ARN"], admin, annotators)
        finally:
            reset_service_caches()


def _together(calls: list[Callable[[], Any]]) -> list[Any]:
    """Run every call on its own thread, all released at once; their results in order."""
    start = threading.Barrier(len(calls))

    def run(call: Callable[[], Any]) -> Any:
        start.wait()
        return call()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


# --- N writers saving one file's annotations in rounds --------------------------------------------------------


def _box(x: int, y: int, width: int, label: str) -> dict[str, Any]:
    return {"type": "box", "name": label, "x_min": x, "y_min": y, "x_max": x + width, "y_max": y + 5}


BOXES = st.lists(
    st.builds(
        _box,
        st.integers(0, 40),
        st.integers(0, 30),
        st.integers(1, 20),
        st.sampled_from(slice_data.LABELS),
    ),
    max_size=4,
)


class RoundsOfWriters(RuleBasedStateMachine):
    """Writers read the file at one version and save together; the model is the version history."""

    world: World  # set by the test
    tally: Counter[str] = Counter()  # over every example: rounds, saves tried, 409s

    def __init__(self) -> None:
        super().__init__()
        self.file_id = ""
        self.url = ""
        self.version = 0
        self.saved: dict[int, list[dict[str, Any]]] = {}  # version -> the winning save's instance list
        self.conflicts = 0

    @initialize()
    def a_new_file(self) -> None:
        [self.file_id] = slice_data.seed_dataset(PROJECT, f"writers-{uuid.uuid4().hex[:6]}", 1, start=next(_IMAGES))
        self.url = f"/api/v1/projects/{PROJECT}/files/{self.file_id}/annotations"
        read = self.world.client().get(self.url, headers=self.world.admin)
        assert read.status_code == 200, read.text
        self.version = read.json()["version"]
        self.saved[self.version] = read.json()["instance_list"]

    @rule(edits=st.lists(BOXES, min_size=2, max_size=5))
    def writers_save_from_the_same_version(self, edits: list[list[dict[str, Any]]]) -> None:
        read_at = self.version

        def save(instances: list[dict[str, Any]]) -> Callable[[], Any]:
            client = self.world.client()
            return lambda: client.put(
                self.url, json={"version": read_at, "instance_list": instances}, headers=self.world.admin
            )

        answers = _together([save(instances) for instances in edits])
        statuses = Counter(answer.status_code for answer in answers)
        assert statuses == {200: 1, 409: len(edits) - 1}, [(a.status_code, a.text) for a in answers]
        [won] = [a.json() for a in answers if a.status_code == 200]
        assert won["version"] == read_at + 1
        for lost in (a.json()["error"] for a in answers if a.status_code == 409):
            assert lost["code"] == "conflict" and lost["details"]["current_version"] == read_at + 1, lost
            assert f"now version {read_at + 1}" in lost["message"]
        self.version = read_at + 1
        self.saved[self.version] = won["instance_list"]
        self.conflicts += len(edits) - 1
        self.tally.update(rounds=1, saves=len(edits), conflicts=len(edits) - 1)

    @precondition(lambda self: len(self.saved) > 1)  # a round has been saved (not the seed's version: it varies)
    @rule(behind=st.integers(1, 3))
    def a_late_writer_saves_from_an_old_version(self, behind: int) -> None:
        stale = max(self.version - behind, 0)
        answer = self.world.client().put(
            self.url, json={"version": stale, "instance_list": []}, headers=self.world.admin
        )
        assert answer.status_code == 409 and answer.json()["error"]["details"]["current_version"] == self.version
        self.conflicts += 1
        self.tally.update(saves=1, conflicts=1, stale=1)

    @invariant()
    def every_winning_save_is_in_the_history_with_no_gap(self) -> None:
        if not self.file_id:
            return
        client = self.world.client()
        history = client.get(f"{self.url}/history", headers=self.world.admin).json()["history"]
        assert [h["version"] for h in history] == list(range(1, self.version + 1))
        for version, instances in self.saved.items():
            if version:
                assert history[version - 1]["instance_list"] == instances
        current = client.get(self.url, headers=self.world.admin).json()
        assert current["version"] == self.version and current["instance_list"] == self.saved[self.version]


def test_writers_saving_one_file_in_rounds_lose_nothing(world: World) -> None:
    RoundsOfWriters.world = world
    RoundsOfWriters.tally.clear()
    run_state_machine_as_test(
        RoundsOfWriters,
        settings=settings(
            max_examples=EXAMPLES,
            stateful_step_count=5,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
    tally = RoundsOfWriters.tally
    assert tally["rounds"] > 0 and tally["conflicts"] >= tally["rounds"]
    print(f"\nrounds {tally['rounds']}, saves {tally['saves']}, 409s {tally['conflicts']} (stale {tally['stale']})")


# --- 50 annotators asking for their next task at once ----------------------------------------------------------


def _job_with_open_tasks(world: World, files: int) -> tuple[str, set[str]]:
    """A job over ``files`` new files, launched, each review execution's first steps run as the review state
    machine would (one annotate task per file); the job id and its task ids."""
    from annolake_service.domain.workflow import JobSpec, TaskKind
    from annolake_service.services import jobs, review_workflow

    dataset = f"queue-{uuid.uuid4().hex[:6]}"
    slice_data.seed_dataset(PROJECT, dataset, files, start=next(_IMAGES))
    job = jobs.create_job(PROJECT, JobSpec(name=dataset, datasets=[dataset], mode="copy_once"), author=OWNER)
    jobs.launch(PROJECT, job.job_id)
    plan = jobs.plan_launch(PROJECT, job.job_id)
    for chunk in plan["chunks"]:
        jobs.launch_chunk(PROJECT, job.job_id, chunk)
    jobs.finish_launch(PROJECT, job.job_id)
    pages = world.sfn.get_paginator("list_executions").paginate(stateMachineArn=world.review_machine)
    inputs = [
        json.loads(world.sfn.describe_execution(executionArn=e["executionArn"])["input"])
        for page in pages
        for e in page["executions"]
    ]
    task_ids = set()
    for payload in (i for i in inputs if i["job_id"] == job.job_id):
        state = review_workflow.prepare(**payload)
        for slot in state["slots"]:
            task = review_workflow.open_task(
                PROJECT,
                job.job_id,
                payload["file_id"],
                kind=TaskKind.ANNOTATE,
                token=f"token-{uuid.uuid4().hex}",
                round_=0,
                slot=slot,
            )
            task_ids.add(task["task_id"])
    assert len(task_ids) == files
    return job.job_id, task_ids


def test_fifty_annotators_asking_at_once_get_every_task_once(world: World) -> None:
    job_id, task_ids = _job_with_open_tasks(world, 30)  # more than one window of the queue (QUEUE_WINDOW)
    url = f"/api/v1/projects/{PROJECT}/tasks/next"

    def ask(headers: dict[str, str]) -> Callable[[], Any]:
        client = world.client()
        return lambda: client.post(url, json={"job_id": job_id}, headers=headers)

    answers = _together([ask(headers) for headers in world.annotators])
    assert {a.status_code for a in answers} == {200}, [a.text for a in answers if a.status_code != 200]
    handed = [a.json()["task"] for a in answers]
    given = [task["task_id"] for task in handed if task is not None]
    assert len(given) == len(set(given)), Counter(given).most_common(3)  # none twice
    assert set(given) == task_ids  # and none left waiting while someone was told there was nothing
    holders = [task["assignee"] for task in handed if task is not None]
    assert len(set(holders)) == len(holders) == len(task_ids)
    print(f"\nannotators {len(answers)}, tasks {len(task_ids)}, handed out {len(given)}, twice 0")


# --- the label schema edited by several writers at once ------------------------------------------------------


def test_writers_adding_labels_at_once_lose_none(world: World) -> None:
    """Label adds (``POST /labels``) and whole-schema saves (``PUT /schema`` at the version read) at once:
    each lands or gets 409 and lands when tried again; every label is there, one schema version per add."""
    schema_url, labels_url = f"/api/v1/projects/{PROJECT}/schema", f"/api/v1/projects/{PROJECT}/labels"
    before = world.client().get(schema_url, headers=world.admin).json()
    conflicts = Counter[str]()

    def adder(names: list[str]) -> Callable[[], list[str]]:
        client = world.client()

        def add() -> list[str]:
            for name in names:
                while (answer := client.post(labels_url, json={"name": name}, headers=world.admin)).status_code == 409:
                    conflicts["post"] += 1
                assert answer.status_code == 201 and answer.json()["name"] == name, answer.text
            return names

        return add

    def editor(name: str) -> Callable[[], list[str]]:
        client = world.client()

        def edit() -> list[str]:
            while True:
                schema = client.get(schema_url, headers=world.admin).json()
                body = {**schema, "labels": [*schema["labels"], {"name": name, "colour": "#123456"}]}
                answer = client.put(schema_url, json=body, headers=world.admin)
                if answer.status_code != 409:
                    break
                assert answer.json()["error"]["details"]["current_version"] > schema["version"]
                conflicts["put"] += 1
            assert answer.status_code == 200 and answer.json()["version"] > schema["version"], answer.text
            return [name]

        return edit

    calls = [adder([f"adder{w}-{n}" for n in range(3)]) for w in range(5)]
    calls += [editor(f"editor{w}") for w in range(4)]
    added = [name for names in _together(calls) for name in names]
    after = world.client().get(schema_url, headers=world.admin).json()
    present = [label["name"] for label in after["labels"]]
    assert set(added) <= set(present) and len(present) == len(set(present))
    assert after["version"] - before["version"] == len(added) == 19  # one landed save per add: none lost
    assert sum(conflicts.values()) > 0, "the writers never met: the test proved nothing"
    print(f"\nlabels added {len(added)}, 409s {dict(conflicts)}")


# --- two saves whose summary copies land out of order ------------------------------------------------------------


def test_a_late_summary_copy_of_an_older_save_leaves_the_newest_versions_summary(world: World, monkeypatch) -> None:
    """A save of a file whose item does not name its datasets (written before they were kept) copies the
    file's label summary onto its memberships after its transaction: the first of two consecutive saves is
    held there until the second has landed whole, then let go. Queries on the table filter on those copies,
    so the newest version's summary must stay."""
    from annolake_service.adapters.dynamo import datasets as dataset_repo
    from annolake_service.adapters.dynamo import keys
    from annolake_service.adapters.dynamo.items import FileItem

    dataset = f"summary-{uuid.uuid4().hex[:6]}"
    [file_id] = slice_data.seed_dataset(PROJECT, dataset, 1, start=next(_IMAGES))
    FileItem(keys.file_pk(PROJECT, file_id), keys.FILE_SK).update(actions=[FileItem.dataset_ids.remove()])
    url = f"/api/v1/projects/{PROJECT}/files/{file_id}/annotations"
    read_at = world.client().get(url, headers=world.admin).json()["version"]
    first_committed, second_landed = threading.Event(), threading.Event()
    copy = dataset_repo.update_summaries

    def held_copy(project_id: str, file_id_: str, **summary: Any) -> None:
        if summary["version"] == read_at + 1:  # the first save: its version is in, its copy not yet
            first_committed.set()
            assert second_landed.wait(60), "the second save did not land"
        copy(project_id, file_id_, **summary)

    monkeypatch.setattr(dataset_repo, "update_summaries", held_copy)
    cars = [_box(2 * k, 2, 4, "car") for k in range(3)]
    with ThreadPoolExecutor(max_workers=1) as pool:
        first = pool.submit(
            world.client().put, url, json={"version": read_at, "instance_list": cars}, headers=world.admin
        )
        assert first_committed.wait(60)
        second = world.client().put(
            url, json={"version": read_at + 1, "instance_list": [_box(1, 1, 5, "pedestrian")]}, headers=world.admin
        )
        second_landed.set()
        assert first.result().status_code == 200 and second.status_code == 200, (first.result().text, second.text)

    [membership] = dataset_repo.memberships_of(PROJECT, file_id)
    assert membership.summary_version == read_at + 2 and membership.label_counts.as_dict() == {"pedestrian": 1}
    files_url = f"/api/v1/projects/{PROJECT}/datasets/{dataset}/files"
    for query, found in (("labels.pedestrian = 1", [file_id]), ("labels.car >= 1", [])):
        listed = world.client().get(files_url, params={"query": query}, headers=world.admin)
        assert listed.status_code == 200, listed.text
        assert [f["file_id"] for f in listed.json()["files"]] == found, query


def test_a_file_mirrored_while_a_save_lands_is_listed_with_the_saved_summary(world: World, monkeypatch) -> None:
    """A mirror reads the file, then writes its new membership. A save landing in between copies its summary
    onto the memberships it finds, which do not include the new one yet: the mirrored listing must still end
    with the saved version's summary, or queries on the target dataset miss the file."""
    from annolake_service.adapters.dynamo import datasets as dataset_repo

    source, target = (f"{name}-{uuid.uuid4().hex[:6]}" for name in ("mirror-src", "mirror-dst"))
    [file_id] = slice_data.seed_dataset(PROJECT, source, 1, start=next(_IMAGES))
    client = world.client()
    assert client.post(f"/api/v1/projects/{PROJECT}/datasets", json={"name": target}, headers=world.admin).is_success
    url = f"/api/v1/projects/{PROJECT}/files/{file_id}/annotations"
    read_at = client.get(url, headers=world.admin).json()["version"]
    add = dataset_repo.add_file

    def add_after_a_save(record: Any, dataset_id: str) -> bool:
        assert record.annotation_version == read_at  # the mirror read the file before the save
        with ThreadPoolExecutor(max_workers=1) as pool:  # the save lands whole, its summary copies included
            saved = pool.submit(
                world.client().put,
                url,
                json={"version": read_at, "instance_list": [_box(1, 1, 5, "pedestrian")]},
                headers=world.admin,
            ).result()
        assert saved.status_code == 200, saved.text
        return add(record, dataset_id)

    monkeypatch.setattr(dataset_repo, "add_file", add_after_a_save)
    mirrored = client.post(
        f"/api/v1/projects/{PROJECT}/files/transfer",
        json={"file_ids": [file_id], "mode": "mirror", "target_dataset": target},
        headers=world.admin,
    )
    assert mirrored.status_code == 200, mirrored.text

    memberships = {m.dataset_id: m for m in dataset_repo.memberships_of(PROJECT, file_id)}
    assert {m.summary_version for m in memberships.values()} == {read_at + 1}
    listed = client.get(
        f"/api/v1/projects/{PROJECT}/datasets/{target}/files",
        params={"query": "labels.pedestrian = 1"},
        headers=world.admin,
    )
    assert [f["file_id"] for f in listed.json()["files"]] == [file_id], listed.text
