"""A job over videos split into segment tasks (``video_segment``), through the services and the API over moto,
the test standing in for the review state machine as ``test_workflow_services`` does: segments worked at the
same time merge into the video's tracks, a real conflict inside a segment is a 409, and a segment's review sees
its frames and sends back that segment's work."""

from __future__ import annotations

import base64
import uuid
from typing import Any

import pytest

from tests.service.test_workflow_services import OWNER, PROJECT, _open, _review_inputs, flow  # noqa: F401
from tests.support import slice_data
from tests.support.video_records import register_video


def _key(frame: int, x: float) -> dict[str, Any]:
    return {"frame": frame, "x_min": x, "y_min": 10.0, "x_max": x + 40, "y_max": 60.0}


def _track(track_id: int, *keys: tuple[int, float], **more: Any) -> dict[str, Any]:
    return {
        "type": "track",
        "name": "car",
        "shape": "box",
        "track_id": track_id,
        "keyframes": [_key(f, x) for f, x in keys],
        **more,
    }


def _segmented_job(dataset: str, frame_count: int, **spec: Any):
    """A launched job over one image and one video of ``frame_count`` frames, its annotate tasks opened."""
    from annolake_service.domain.workflow import JobSpec
    from annolake_service.services import jobs, review_workflow

    slice_data.seed_dataset(PROJECT, dataset, 1, start=abs(hash(dataset)) % 100_000)
    video = register_video(PROJECT, dataset, frame_count=frame_count)
    spec = JobSpec(name=dataset, datasets=[dataset], video_segment={"frames": 100, "overlap": 10}, **spec)
    job = jobs.launch(PROJECT, jobs.create_job(PROJECT, spec, author=OWNER).job_id)
    plan = jobs.plan_launch(PROJECT, job.job_id)
    assert plan["total"] == 2
    for chunk in plan["chunks"]:
        jobs.launch_chunk(PROJECT, job.job_id, chunk)
    jobs.finish_launch(PROJECT, job.job_id)
    slots = {}
    for payload in _review_inputs(flow_state["flow"], job.job_id):
        slots[payload["file_id"]] = review_workflow.prepare(**payload)["slots"]
        for slot in slots[payload["file_id"]]:
            _open(job.job_id, payload["file_id"], "annotate", slot=slot)
    return job, video, slots


flow_state: dict[str, Any] = {}


@pytest.fixture(autouse=True)
def _flow(flow):  # noqa: F811
    flow_state["flow"] = flow
    from annolake_service.services import schema

    schema.add_labels(PROJECT, ["car", "blurry"])


def _tasks_of(job_id: str, file_id: str) -> list[Any]:
    from annolake_service.adapters.dynamo import tasks as task_repo

    return sorted(
        (t for t in task_repo.job_tasks(PROJECT, job_id) if t.file_id == file_id), key=lambda t: (t.kind, t.slot)
    )


def _take(person: str, task_id: str) -> None:
    from annolake_service.adapters.dynamo import tasks as task_repo
    from annolake_service.services import tasks

    task = tasks.load(PROJECT, task_id)
    job = tasks.jobs.get_job(PROJECT, task.job_id)
    tasks._claim(task, job, f"user:{person}", tasks._now())
    assert task_repo.get_task(PROJECT, task.job_id, task_id).assignee == f"user:{person}"


def test_a_video_gets_a_task_per_segment_and_concurrent_segments_merge_into_its_tracks(flow):  # noqa: F811
    from annolake_service.services import annotations, review_workflow, tasks
    from annolake_service.shared.errors import Conflict

    job, video, slots = _segmented_job("segmented", 250)
    assert slots[video] == [0, 1, 2]
    assert [len(s) for f, s in slots.items() if f != video] == [1]  # an image: one task as before
    annotate = _tasks_of(job.job_id, video)
    assert [(t.slot, t.frame_start, t.frame_end) for t in annotate] == [(0, 0, 99), (1, 90, 189), (2, 180, 249)]
    for person, task in zip(("ann", "bob", "cat"), annotate, strict=True):
        _take(person, task.task_id)
    first, second, third = (t.task_id for t in annotate)

    # All three read version 0. Ann saves first: a car entering segment 1's overlap at frame 95.
    assert tasks.detail(PROJECT, second)["instance_list"] == []
    tasks.submit(PROJECT, first, "user:ann", [_track(1, (10, 10.0), (95, 100.0))], version=0)
    # Bob's save from version 0 has a keyframe of Ann's in his frames (95) it never saw: a real conflict.
    with pytest.raises(Conflict, match=r"frames 90\.\.189 of .* changed since version 0: now version 1 by user:ann"):
        tasks.submit(PROJECT, second, "user:bob", [_track(1, (120, 200.0))], version=0)
    # Reloaded, Bob sees Ann's car with its keyframes around his segment, continues it and adds his own car 1.
    shown = tasks.detail(PROJECT, second)
    assert shown["version"] == 1 and shown["task"]["frame_start"] == 90 and shown["task"]["frame_end"] == 189
    (car,) = shown["instance_list"]
    assert [k["frame"] for k in car["keyframes"]] == [10, 95]
    car["keyframes"].append(_key(150, 300.0))
    saved = tasks.submit(PROJECT, second, "user:bob", [car, _track(1, (120, 200.0), (170, 250.0))], version=1)
    assert saved["version"] == 2
    # Cat, still on version 0: nothing in frames 180..249 changed, so the save is rebased, not refused.
    blur = {"type": "frame_tag", "name": "blurry", "frame_start": 200, "frame_end": 240}
    assert tasks.submit(PROJECT, third, "user:cat", [blur, _track(1, (200, 5.0))], version=0)["version"] == 3

    final = annotations.get_annotations(PROJECT, video)["instance_list"]
    tracks = {t["track_id"]: [(k["frame"], k["x_min"]) for k in t["keyframes"]] for t in final if t["type"] == "track"}
    assert tracks == {1: [(10, 10.0), (95, 100.0), (150, 300.0)], 2: [(120, 200.0), (170, 250.0)], 3: [(200, 5.0)]}
    assert [(t["frame_start"], t["frame_end"]) for t in final if t["type"] == "frame_tag"] == [(200, 240)]
    by_root = {t["track_id"]: t["root_id"] for t in final if t["type"] == "track"}
    assert by_root[1] == car["root_id"]  # continued, not replaced
    assert {t.status.value for t in _tasks_of(job.job_id, video)} == {"submitted"}
    # Reviewed in their own slots: the file itself is not reviewed again after them.
    annotated = [tasks._annotated_output(tasks.load(PROJECT, t), "user:x", job) for t in (first, second, third)]
    assert [(a["slot"], a["frame_start"], a["review"], a["completed"]) for a in annotated] == [
        (0, 0, False, False),  # a segment's submit never completes the video: its segments are merged first
        (1, 90, False, False),
        (2, 180, False, False),
    ]
    assert review_workflow.consolidate(PROJECT, job.job_id, video, annotated)["review"] is False


def test_a_segment_review_sees_its_frames_and_sends_back_that_segments_work(flow):  # noqa: F811
    from annolake_service.domain.roles import Role
    from annolake_service.services import annotations, projects, tasks

    projects.set_member_role(PROJECT, "user:rev", Role.REVIEWER)
    job, video, _ = _segmented_job("segment-review", 150, review_rate=1.0, reviewers=["rev"])
    first, second = (t.task_id for t in _tasks_of(job.job_id, video))
    _take("ann", first)
    _take("bob", second)
    tasks.submit(PROJECT, first, "user:ann", [_track(4, (5, 1.0), (50, 2.0))])
    tasks.submit(PROJECT, second, "user:bob", [_track(9, (120, 3.0), (140, 4.0))])
    output = tasks._annotated_output(tasks.load(PROJECT, second), "user:bob", job)
    assert output["review"] is True  # every segment sampled at rate 1

    review_id = _open(job.job_id, video, "review", slot=1, authors=["user:bob"])["task_id"]
    review = tasks.detail(PROJECT, review_id)
    assert (review["task"]["frame_start"], review["task"]["frame_end"]) == (90, 149)
    assert [t["track_id"] for t in review["instance_list"]] == [4, 9]  # Ann's car is held into frames 90..149
    assert [s["annotator"] for s in review["submissions"]] == ["user:bob"]  # only this segment's work
    _take("rev", review_id)
    sent = tasks.review(PROJECT, review_id, "user:rev", "request_changes", comment="car 9 starts earlier")
    assert sent["task"]["result"]["send_back_to"] == "user:bob"

    rework_id = _open(
        job.job_id,
        video,
        "annotate",
        round_=1,
        slot=1,
        authors=["user:bob"],
        send_back_to="user:bob",
        comment="car 9 starts earlier",
    )["task_id"]
    rework = tasks.detail(PROJECT, rework_id)
    assert rework["task"]["reserved_for"] == "user:bob" and rework["task"]["frame_start"] == 90
    (_, mine) = rework["instance_list"]
    mine["keyframes"].insert(0, _key(100, 2.5))
    tasks.submit(PROJECT, rework_id, "user:bob", [rework["instance_list"][0], mine])
    final = annotations.get_annotations(PROJECT, video)["instance_list"]
    frames = {t["track_id"]: [k["frame"] for k in t["keyframes"]] for t in final}
    assert frames == {4: [5, 50], 9: [100, 120, 140]}


def test_the_api_takes_and_shows_video_segments_and_refuses_bad_ones(flow):  # noqa: F811
    from annolake_service.api.app import create_app
    from annolake_service.domain.roles import Role
    from annolake_service.services import projects
    from starlette.testclient import TestClient

    key = projects.issue_api_key(PROJECT, role=Role.ADMIN, name=f"segments-{uuid.uuid4().hex[:6]}")
    token = base64.b64encode(f"{key.client_id}:{key.client_secret}".encode()).decode()
    client, headers = TestClient(create_app()), {"Authorization": f"Basic {token}"}
    url = f"/api/v1/projects/{PROJECT}/jobs"
    projects.ensure_dataset(PROJECT, "api-segments")
    body = {"name": "clips", "datasets": ["api-segments"]}
    refused = client.post(url, json={**body, "video_segment": {"frames": 50, "overlap": 50}}, headers=headers)
    assert refused.status_code in (400, 422) and "must be less than its frames 50" in refused.text, refused.text
    refused = client.post(url, json={**body, "consensus": 2, "video_segment": {"frames": 50}}, headers=headers)
    assert refused.status_code in (400, 422) and "video_segment needs consensus 1" in refused.text, refused.text
    made = client.post(url, json={**body, "video_segment": {"frames": 300, "overlap": 30}}, headers=headers)
    assert made.status_code == 201, made.text
    assert made.json()["video_segment"] == {"frames": 300, "overlap": 30}
    changed = client.patch(f"{url}/{made.json()['job_id']}", json={"video_segment": {"frames": 60}}, headers=headers)
    assert changed.status_code == 200 and changed.json()["video_segment"] == {"frames": 60, "overlap": 0}


def test_segments_submitted_at_the_same_moment_all_land_without_losing_one_another(flow):  # noqa: F811
    from concurrent.futures import ThreadPoolExecutor

    from annolake_service.services import annotations, tasks

    job, video, slots = _segmented_job("segment-race", 460)
    assert slots[video] == [0, 1, 2, 3, 4]
    annotate = _tasks_of(job.job_id, video)
    people = [f"racer{n}" for n in range(len(annotate))]
    for person, task in zip(people, annotate, strict=True):
        _take(person, task.task_id)

    def submit(number: int) -> int:
        task = annotate[number]
        start = task.frame_start + (10 if number else 0)  # past the overlap with the segment before
        car = _track(1, (start, float(number)), (start + 50, float(number) + 1))  # every one calls its car 1
        return tasks.submit(PROJECT, task.task_id, f"user:{people[number]}", [car], version=0)["version"]

    with ThreadPoolExecutor(len(annotate)) as pool:
        versions = sorted(pool.map(submit, range(len(annotate))))
    assert versions == [1, 2, 3, 4, 5]  # each save rebased onto the ones before it, none refused
    final = annotations.get_annotations(PROJECT, video)["instance_list"]
    starts = sorted((t["keyframes"][0]["x_min"], t["keyframes"][0]["frame"]) for t in final)
    assert starts == [(0.0, 0), (1.0, 100), (2.0, 190), (3.0, 280), (4.0, 370)]
    assert sorted(t["track_id"] for t in final) == [1, 2, 3, 4, 5]  # renumbered as they landed
