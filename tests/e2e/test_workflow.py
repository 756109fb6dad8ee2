"""Human workflow against ``make up``: jobs watching datasets, tasks on Step Functions task tokens, consensus,
review with changes requested, concurrent ``next``, timeouts, signed webhooks and their dead-letter list.

Everything goes through the SDK and the S3 drop folder, as a user would; the state machines run on the
emulator's ASL engine with the real handlers.
"""

from __future__ import annotations

import io
import json
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
import pytest
from PIL import Image

from tests.e2e.conftest import free_port, start_platform

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def running(platform):
    """The session's shared platform (the restart test below uses one of its own)."""
    return platform


def _admin_of(running):
    from annolake import Project

    creds = running.credentials
    return Project(creds["project"], creds["client_id"], creds["client_secret"], running.api_url)


@pytest.fixture(scope="module")
def admin(running):
    return _admin_of(running)


def _as(running, admin, name: str, role: str):
    from annolake import Project

    key = admin.client.post(f"{admin._path}/api-keys", {"name": name, "role": role})
    return Project(admin.project_string_id, key["client_id"], key["client_secret"], running.api_url), key["client_id"]


def _aws(running, service: str):
    creds = running.credentials
    return boto3.client(
        service,
        endpoint_url=running.emulator_url,
        aws_access_key_id=creds["aws_access_key_id"],
        aws_secret_access_key=creds["aws_secret_access_key"],
        region_name="us-east-1",
    )


def _drop_images(running, dataset: str, count: int, prefix: str) -> None:
    s3 = _aws(running, "s3")
    for i in range(count):
        buffer = io.BytesIO()
        Image.new("RGB", (64 + i, 48), (i * 20 % 255, 90, 160)).save(buffer, format="JPEG")
        s3.put_object(
            Bucket=running.credentials["drop_bucket"],
            Key=f"demo/{dataset}/{prefix}-{i:02d}.jpg",
            Body=buffer.getvalue(),
        )


def _wait(predicate, timeout: float = 90, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


class _Receiver(BaseHTTPRequestHandler):
    received: list[tuple[dict[str, str], bytes]] = []

    def do_POST(self):  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append((dict(self.headers), body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def receiver():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/hooks", _Receiver.received
    server.shutdown()


@pytest.fixture(scope="module")
def webhooks(admin, receiver):
    url, received = receiver
    live = admin.webhook.new(url, ["task_created", "task_submitted", "changes_requested", "job_completed"])
    down = admin.webhook.new(f"http://127.0.0.1:{free_port()}/nobody-home", ["job_completed"])
    return {"live": live, "down": down, "received": received}


def _annotated_and_reviewed(running, admin, directory: str, name: str, people: tuple[str, str, str], **spec):
    """A launched job over ``directory`` (``spec``: its other settings): the first two of ``people`` annotate,
    the third reviews every file. Returns the job and each person's (project, client id)."""
    annotators = [_as(running, admin, who, "annotator") for who in people[:2]]
    reviewer = _as(running, admin, people[2], "reviewer")
    job = admin.job.new(
        name=name,
        directories=[directory],
        members=[*(client_id for _, client_id in annotators), {"principal": reviewer[1], "role": "reviewer"}],
        review_rate=1.0,
        **spec,
    ).launch()
    return job, *annotators, reviewer


def test_job_with_consensus_and_review_runs_to_completion(running, admin, webhooks):
    admin.directory.new("inbox")
    job, (ann1, ann1_id), (ann2, ann2_id), (rev, _) = _annotated_and_reviewed(
        running, admin, "inbox", "inbox labelling", ("ann1", "ann2", "rev"), consensus=2
    )
    assert job.status == "active"

    _drop_images(running, "inbox", 10, "street")
    annotate = _wait(
        lambda: len(t := job.tasks(kind="annotate")) == 20 and t, what="20 annotation tasks from 10 dropped images"
    )
    assert Counter(t.file_id for t in annotate) == {fid: 2 for fid in {t.file_id for t in annotate}}

    worked: Counter[str] = Counter()
    for who, project in (("ann1", ann1), ("ann2", ann2)):
        while (task := project.task.next(job)) is not None:
            assert task.kind == "annotate"
            boxes = [{"type": "box", "name": "car", "x_min": 1, "y_min": 1, "x_max": 30, "y_max": 20}]
            task.load().submit(boxes)
            worked[who] += 1
    assert worked == {"ann1": 10, "ann2": 10}  # each file once per annotator: consensus slots go to different people

    reviewed, sent_back = 0, None
    while reviewed < 10:
        task = _wait(lambda: rev.task.next(job), what="a review task")
        assert task.kind == "review"
        detail = task.load().detail
        assert {s["annotator"] for s in detail["submissions"]} == {f"key:{ann1_id}", f"key:{ann2_id}"}
        assert detail["agreement"] == 1.0  # both drew the same box
        if sent_back is None:
            sent_back = task.file_id
            task.review("request_changes", comment="the car is bigger than that")
        else:
            task.review("approve")
        reviewed += 1

    rework = _wait(lambda: ann1.task.next(job) or ann2.task.next(job), what="the task sent back")
    assert (rework.file_id, rework.comment, rework.data["round"]) == (sent_back, "the car is bigger than that", 1)
    rework.load().submit([{"type": "box", "name": "car", "x_min": 1, "y_min": 1, "x_max": 60, "y_max": 40}])
    again = _wait(lambda: rev.task.next(job), what="the second review")
    assert again.file_id == sent_back
    again.review("approve")

    done = _wait(lambda: job.refresh().status == "complete" and job, what="the job to complete")
    stats = done.stats()
    assert stats["files"] == {"total": 10, "complete": 10}
    assert stats["review"] == {"reviewed": 11, "approved": 10, "changes_requested": 1, "rejection_rate": 1 / 11}
    assert {a["submitted"] for a in stats["annotators"]} == {10, 11}
    assert stats["consensus"]["files"] == 10

    ours = _review_executions(running, job.id)
    assert len(ours) == 10 and {e["status"] for e in ours} == {"SUCCEEDED"}
    assert "ConsolidateSlots" in _states_entered(running, ours[0]["executionArn"])  # two slots to merge

    fixed = admin.file.get_by_id(sent_back)  # the reworked file carries the annotator's fix as its latest version
    assert [b["x_max"] for b in fixed.instance_list] == [60]
    assert fixed.history()[-1]["created_by"] in {f"key:{ann1_id}", f"key:{ann2_id}"}


def _review_executions(running, job_id: str) -> list[dict]:
    sfn = _aws(running, "stepfunctions")
    (machine,) = [m for m in sfn.list_state_machines()["stateMachines"] if m["name"].endswith("-review")]
    executions = sfn.list_executions(stateMachineArn=machine["stateMachineArn"])["executions"]
    return [
        e
        for e in executions
        if json.loads(sfn.describe_execution(executionArn=e["executionArn"])["input"])["job_id"] == job_id
    ]


def _states_entered(running, execution_arn: str) -> list[str]:
    history = _aws(running, "stepfunctions").get_execution_history(executionArn=execution_arn, maxResults=1000)
    return [e["stateEnteredEventDetails"]["name"] for e in history["events"] if "stateEnteredEventDetails" in e]


def test_a_file_needing_no_review_is_completed_by_its_submit_and_its_workflow_just_ends(running, admin):
    """One annotator, no review: each submit completes its file (the job's progress moves at once) and the
    file's execution ends without consolidating anything."""
    admin.directory.new("solo")
    solo, solo_id = _as(running, admin, "solo", "annotator")
    job = admin.job.new(name="solo labelling", directories=["solo"], members=[solo_id], review_rate=0.0).launch()
    _drop_images(running, "solo", 3, "lane")
    _wait(lambda: len(job.tasks(kind="annotate")) == 3, what="3 annotation tasks from 3 dropped images")
    box = [{"type": "box", "name": "car", "x_min": 1, "y_min": 1, "x_max": 30, "y_max": 20}]
    for done in (1, 2, 3):
        task = solo.task.next(job)
        task.submit(box)
        assert job.stats()["files"].get("complete") == done  # the submit's own write: no workflow step awaited
    assert solo.task.next(job) is None
    assert _wait(lambda: job.refresh().status == "complete", what="the job to complete")

    ours = _wait(
        lambda: (e := _review_executions(running, job.id)) and {x["status"] for x in e} == {"SUCCEEDED"} and e,
        what="the files' executions to end",
    )
    assert len(ours) == 3
    for execution in ours:
        entered = _states_entered(running, execution["executionArn"])
        assert "ConsolidateSlots" not in entered and entered[-2:] == ["CompletedBySubmit", "FileDone"], entered


def test_twenty_concurrent_next_calls_never_hand_out_a_task_twice(running, admin):
    job = admin.job.new(name="crowd", directories=["default"], mode="copy_once").launch()
    _wait(lambda: len(job.tasks(kind="annotate")) == 24, what="a task per demo file")
    people = [_as(running, admin, f"crowd{i}", "annotator")[0] for i in range(20)]
    with ThreadPoolExecutor(max_workers=20) as pool:
        handed = list(pool.map(lambda p: p.task.next(job), people))
    ids = [t.id for t in handed if t is not None]
    assert len(ids) == 20 and len(set(ids)) == 20
    assert {t.data["assignee"] for t in handed} == {f"key:{p.client._arguments[1]}" for p in people}


def test_a_task_past_its_timeout_goes_to_someone_else(running, admin):
    admin.directory.new("single")
    _drop_images(running, "single", 1, "lonely")
    _wait(lambda: admin.directory.get("single").file_count() == 1, what="the file to be ingested")
    lease_s = 10  # long enough that "nobody else gets it" is asked inside the lease on a loaded machine
    job = admin.job.new(name="slow", directories=["single"], task_timeout_seconds=lease_s).launch()
    first, _ = _as(running, admin, "slowpoke", "annotator")
    second, second_id = _as(running, admin, "eager", "annotator")
    deadline = time.monotonic() + 90
    while True:  # the lease starts after ``asked``: the claim is made while the successful call runs
        asked = time.monotonic()
        held = first.task.next(job)
        if held is not None or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert held is not None, "the task never opened"
    refused = second.task.next(job)
    if time.monotonic() - asked < lease_s:  # answered inside the lease
        assert refused is None  # held: nobody else gets it
    taken = refused or _wait(lambda: second.task.next(job), timeout=60, what="the task once its lease has passed")
    assert time.monotonic() - asked >= lease_s  # not handed out before the lease ran out
    assert taken.id == held.id and taken.data["assignee"] == f"key:{second_id}"

    from annolake import VersionConflict

    with pytest.raises(VersionConflict, match="held by"):
        held.submit([])
    outcome = taken.submit([])
    assert outcome["already_submitted"] is False
    assert taken.submit([])["already_submitted"] is True  # a repeated submit is not applied twice


def test_signed_webhooks_arrive_and_undeliverable_ones_are_listed(running, admin, webhooks):
    from annolake import verify_webhook

    received = _wait(lambda: len(webhooks["received"]) >= 5 and webhooks["received"], what="webhook deliveries")
    secret = webhooks["live"]["secret"]
    kinds = set()
    for headers, body in received:
        assert verify_webhook(body, headers, secret), headers
        assert not verify_webhook(body + b" ", headers, secret)
        kinds.add(json.loads(body)["type"])
    assert {"task_created", "task_submitted", "changes_requested", "job_completed"} <= kinds

    down_id = webhooks["down"]["webhook"]["webhook_id"]
    failures = _wait(lambda: admin.webhook.failures(down_id), timeout=60, what="a failed delivery on the list")
    assert failures[0]["event_type"] == "job_completed"
    assert failures[0]["attempts"] == 4  # retried with backoff before it was listed
    assert "could not reach" in failures[0]["last_error"] and "nobody-home" in failures[0]["last_error"]


def test_bad_job_settings_and_wrong_task_calls_get_clear_errors(running, admin):
    from annolake import InvalidRequest, PermissionDenied, VersionConflict

    with pytest.raises(InvalidRequest, match="dataset 'defualt' does not exist.*did you mean 'default'"):
        admin.job.new(name="typo", directories=["defualt"])
    with pytest.raises(InvalidRequest, match="labels not in the project's schema: 'cra'"):
        admin.job.new(name="typo", directories=["default"], label_names=["cra"])
    with pytest.raises(InvalidRequest, match="user:stranger is not a member"):
        admin.job.new(name="who", directories=["default"], members=["stranger"])
    with pytest.raises(InvalidRequest, match="consensus 2 needs at least 2 annotators"):
        admin.job.new(name="few", directories=["default"], members=["admin"], consensus=2)
    viewer, _ = _as(running, admin, "watcher", "viewer")
    with pytest.raises(PermissionDenied, match="may not job.manage"):
        viewer.job.new(name="nope", directories=["default"])
    with pytest.raises(PermissionDenied, match="may not task.annotate"):
        viewer.task.next()
    draft = admin.job.new(name="draft", directories=["default"])
    with pytest.raises(VersionConflict, match="launch it to make it active"):
        draft.update(status="active")
    paused = admin.job.new(name="paused", directories=["default"], mode="copy_once").launch().update(status="paused")
    assert paused.status == "paused"
    annotator, _ = _as(running, admin, "idle", "annotator")
    assert annotator.task.next(paused) is None  # a paused job hands out nothing
    with pytest.raises(VersionConflict, match="only a draft can be launched"):
        paused.launch()


def test_a_video_is_annotated_and_reviewed_in_segments_on_the_state_machine(running, admin, tmp_path):
    """The review machine's slots Map over a video's segments, each segment reviewed (and sent back) on its own."""
    from tests.support.video_fixtures import make_video

    admin.directory.new("clips")
    job, (ann1, _), (ann2, _), (rev, _) = _annotated_and_reviewed(
        running,
        admin,
        "clips",
        "clips in segments",
        ("seg-ann1", "seg-ann2", "seg-rev"),
        video_segment={"frames": 40, "overlap": 10},
    )
    clip = make_video(tmp_path / "street.mp4", frames=70, size=(160, 96)).read_bytes()
    _aws(running, "s3").put_object(Bucket=running.credentials["drop_bucket"], Key="demo/clips/street.mp4", Body=clip)
    annotate = _wait(lambda: len(t := job.tasks(kind="annotate")) == 2 and t, timeout=180, what="a task per segment")
    assert sorted(t.frames for t in annotate) == [(0, 39), (30, 69)]

    def car(track_id: int, *frames: int) -> dict:
        keys = [{"frame": f, "x_min": 10 + f, "y_min": 10, "x_max": 40 + f, "y_max": 50} for f in frames]
        return {"type": "track", "name": "car", "shape": "box", "track_id": track_id, "keyframes": keys}

    first, second = (_wait(lambda p=p: p.task.next(job), what="a segment task").load() for p in (ann1, ann2))
    by_start = {first.data["frame_start"]: first, second.data["frame_start"]: second}
    by_start[0].submit([car(1, 0, 20)])
    by_start[30].submit([car(1, 45, 60)])  # loaded at version 0 too: rebased, renumbered past the first car

    reviews = [_wait(lambda: rev.task.next(job), what="a segment review").load()]
    reviews[0].review("approve")
    reviews.append(_wait(lambda: rev.task.next(job), what="the other segment review").load())
    assert sorted(r.data["frame_start"] for r in reviews) == [0, 30]
    later = reviews[1]
    later.review("request_changes", comment="the car starts at frame 40")
    rework = _wait(lambda: ann1.task.next(job) or ann2.task.next(job), what="the segment sent back").load()
    assert (rework.data["frame_start"], rework.data["round"]) == (later.data["frame_start"], 1)
    assert {t["track_id"] for t in rework.instance_list} >= {2 if rework.data["frame_start"] == 30 else 1}
    rework.submit(rework.instance_list)
    _wait(lambda: rev.task.next(job), what="the reworked segment's review").review("approve")

    done = _wait(lambda: job.refresh().status == "complete" and job, what="the job to complete")
    assert done.stats()["review"]["reviewed"] == 3
    tracks = admin.file.get_by_id(annotate[0].file_id).instance_list
    assert sorted((t["track_id"], [k["frame"] for k in t["keyframes"]]) for t in tracks) == [
        (1, [0, 20]),
        (2, [45, 60]),
    ]


def test_work_in_flight_survives_a_restart_of_the_platform(own_platform):
    """Step Functions executions are not kept across a restart of ``make up``; tasks are. Submitting a task
    whose workflow is gone resumes the file's workflow, which hands over the work already done."""
    running = own_platform.running()
    admin = _admin_of(running)
    admin.directory.new("restart")
    _drop_images(running, "restart", 2, "again")
    _wait(lambda: admin.directory.get("restart").file_count() == 2, what="the files to be ingested")
    job = admin.job.new(name="across restarts", directories=["restart"]).launch()
    worker, _ = _as(running, admin, "night-shift", "annotator")
    held = _wait(lambda: worker.task.next(job), what="a task")
    assert running.stop() == 0

    again = own_platform.start_again()
    try:
        held.load().submit([{"type": "tag", "name": "car"}])
        second = _wait(lambda: worker.task.next(job), what="the other task")
        assert second.id != held.id
        second.load().submit([])
        done = _wait(lambda: job.refresh().status == "complete" and job, timeout=60, what="the job to complete")
        assert done.stats()["files"] == {"total": 2, "complete": 2}
        assert worker.task.next(job) is None
    finally:
        assert again.stop() == 0


def test_a_job_over_more_files_than_may_wait_at_once_is_worked_to_the_end(tmp_path_factory):
    """Each file of a job waits in an execution holding a thread and memory until its task is answered, so the
    local platform lets at most ``ANNOLAKE_LOCAL_WAITING_EXECUTIONS`` wait at once and parks the others (they end
    ``Annolake.Parked``). Their tasks are handed out as any other; answering one starts its file's workflow
    again, which hands over what is already done: with 2 allowed, a job over 4 files with 2 annotators a file
    and a review of each runs to completion, nothing handed out twice or lost."""
    home = tmp_path_factory.mktemp("annolake-parked-home")
    running = start_platform(home, free_port(), free_port(), environment={"ANNOLAKE_LOCAL_WAITING_EXECUTIONS": "2"})
    try:
        admin = _admin_of(running)
        admin.directory.new("many")
        _drop_images(running, "many", 4, "queued")
        _wait(lambda: admin.directory.get("many").file_count() == 4, what="the files to be ingested")
        job, (ann1, _), (ann2, _), (rev, _) = _annotated_and_reviewed(
            running, admin, "many", "more than may wait", ("first", "second", "checker"), consensus=2
        )
        _wait(lambda: len(job.tasks(kind="annotate")) == 8, what="8 annotation tasks (4 files, 2 slots each)")
        executions = _wait(
            lambda: len(e := _review_executions(running, job.id)) == 4 and e, what="an execution per file"
        )
        parked = [e for e in executions if e["status"] == "ABORTED"]
        assert len(parked) >= 3  # two slots a file: at most one file's execution waits (its two slots)
        sfn = _aws(running, "stepfunctions")
        assert sfn.describe_execution(executionArn=parked[0]["executionArn"])["error"] == "Annolake.Parked"

        box = [{"type": "box", "name": "car", "x_min": 1, "y_min": 1, "x_max": 30, "y_max": 20}]
        worked: Counter[str] = Counter()
        for who, project in (("first", ann1), ("second", ann2)):
            while (task := project.task.next(job)) is not None:
                task.load().submit(box)
                worked[who] += 1
        assert worked == {"first": 4, "second": 4}
        for _ in range(4):
            task = _wait(lambda: rev.task.next(job), what="a review task")
            assert len(task.load().detail["submissions"]) == 2  # both slots' work reached the review
            task.review("approve")
        done = _wait(lambda: job.refresh().status == "complete" and job, what="the job to complete")
        assert done.stats()["files"] == {"total": 4, "complete": 4}
        assert done.stats()["review"]["approved"] == 4
        assert rev.task.next(job) is None and ann1.task.next(job) is None
        assert running.dead_letter_depths() == {name: 0 for name in running.dead_letter_depths()}
    finally:
        assert running.stop() == 0
