"""The job, task, review and webhook services called in-process over moto, the test standing in for the
state machines: it runs the review workflow's steps (``review_workflow.prepare/open_task/consolidate/complete``)
for each execution the services started, as the review state machine would, with task tokens of its own.

moto records the executions the services start and accepts task tokens without running anything, so what is
checked here is the services' own bookkeeping: who holds which task, leases, re-drives, review rounds and the
webhook failure list. ``tests/e2e/test_workflow.py`` runs the same flows on the real state machines.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.support import slice_data
from tests.support.auth import point_service_at, reset_service_caches, workflow_resources
from tests.support.streams import TableStream

PROJECT = "flow"
OWNER = "user:owner"
BOX = {"type": "box", "name": "car", "x_min": 1, "y_min": 1, "x_max": 30, "y_max": 20}


class OneDynamoDBCallAtATime:
    """WSGI middleware: DynamoDB requests are answered one at a time, as DynamoDB applies each conditional
    write atomically (plain moto checks a condition and writes without a lock, so concurrent claims could
    both pass it there). ``requests``: the operation of each, in order."""

    def __init__(self, app: Callable[..., Any]) -> None:
        self.app = app
        self.lock = threading.Lock()
        self.requests: list[str] = []

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if not target.startswith("DynamoDB_"):
            return self.app(environ, start_response)
        with self.lock:
            self.requests.append(target.rsplit(".", 1)[-1])
            return list(self.app(environ, start_response))


@dataclass
class Flow:
    sfn: Any
    review_machine: str
    dynamodb: OneDynamoDBCallAtATime

    @contextlib.contextmanager
    def dynamodb_requests(self) -> Iterator[list[str]]:
        """The DynamoDB operations requested inside the block, in order."""
        seen: list[str] = []
        start = len(self.dynamodb.requests)
        yield seen
        seen += self.dynamodb.requests[start:]


@pytest.fixture(scope="module")
def flow(serve_wsgi, new_moto_app) -> Iterator[Flow]:
    """A table, a media bucket and two state machines on a moto of this module's own; the service set up for
    them, a project with an owner, and the service's caches cleared on the way in and out."""
    dynamodb = OneDynamoDBCallAtATime(new_moto_app())
    with serve_wsgi(dynamodb) as endpoint, pytest.MonkeyPatch.context() as env:
        variables, sfn = workflow_resources(endpoint, "flow")
        variables["ALLOW_PRIVATE_URLS"] = "true"  # the webhook receiver listens on 127.0.0.1
        point_service_at(env, endpoint, variables, unset=["EVENT_BUS_NAME"])
        reset_service_caches()
        from annolake_service.services import projects

        projects.create_project(PROJECT, "Flow", creator=OWNER)
        try:
            yield Flow(sfn, variables["REVIEW_STATE_MACHINE_ARN"], dynamodb)
        finally:
            reset_service_caches()


# --- the test as the state machines -------------------------------------------------------


_IMAGES = itertools.count(0, 1000)  # each dataset its own images: the same bytes in a project are one file


def _launched(dataset: str, files: int, **spec: Any):
    """A job over a new dataset of ``files`` new files, launched, its launch workflow's steps run."""
    from annolake_service.domain.workflow import JobSpec
    from annolake_service.services import jobs

    slice_data.seed_dataset(PROJECT, dataset, files, start=next(_IMAGES))
    job = jobs.create_job(PROJECT, JobSpec(name=dataset, datasets=[dataset], **spec), author=OWNER)
    job = jobs.launch(PROJECT, job.job_id)
    plan = jobs.plan_launch(PROJECT, job.job_id)
    assert plan["total"] == files
    for chunk in plan["chunks"]:
        jobs.launch_chunk(PROJECT, job.job_id, chunk)
    jobs.finish_launch(PROJECT, job.job_id)
    return jobs.get_job(PROJECT, job.job_id)


def _review_inputs(flow: Flow, job_id: str) -> list[dict[str, Any]]:
    """The inputs of the review executions the services started for ``job_id`` (oldest first)."""
    pages = flow.sfn.get_paginator("list_executions").paginate(stateMachineArn=flow.review_machine)
    arns = [e["executionArn"] for page in pages for e in page["executions"]]
    inputs = [json.loads(flow.sfn.describe_execution(executionArn=arn)["input"]) for arn in arns]
    return [i for i in inputs if i["job_id"] == job_id][::-1]


def _open(job_id: str, file_id: str, kind: str, round_: int = 0, slot: int = 0, **task: Any) -> dict[str, Any]:
    from annolake_service.domain.workflow import TaskKind
    from annolake_service.services import review_workflow

    return review_workflow.open_task(
        PROJECT,
        job_id,
        file_id,
        kind=TaskKind(kind),
        token=f"token-{uuid.uuid4().hex}",
        round_=round_,
        slot=slot,
        **task,
    )


def _start_reviews(payloads: list[dict[str, Any]]) -> list[str]:
    """Each execution's first steps: prepare, then one annotate task per consensus slot. Returns the task ids."""
    from annolake_service.services import review_workflow

    opened = []
    for payload in payloads:
        state = review_workflow.prepare(**payload)
        opened += [_open(payload["job_id"], payload["file_id"], "annotate", slot=s)["task_id"] for s in state["slots"]]
    return opened


def _next(person: str, job_id: str, role: str = "annotator"):
    """``POST /tasks/next`` for the job: the caller's task in progress, else a newly claimed one, else None."""
    from annolake_service.domain.roles import Role
    from annolake_service.services import tasks

    return tasks.next_task(PROJECT, person, Role(role), job_id=job_id)


def _job_tasks(job_id: str) -> list[dict[str, Any]]:
    from annolake_service.services import tasks

    return tasks.list_tasks(PROJECT, job_id, status=None, kind=None, limit=500, cursor=None)["tasks"]


# --- claims -------------------------------------------------------------------------------


def test_concurrent_next_calls_hand_out_every_task_once(flow):
    from annolake_service.services import tasks

    job = _launched("crowd", 8, mode="copy_once")
    opened = _start_reviews(_review_inputs(flow, job.job_id))
    assert len(opened) == 8
    people = [f"user:crowd{i:02d}" for i in range(12)]
    start = threading.Barrier(len(people))

    def take(person: str):
        start.wait()
        return _next(person, job.job_id)

    with ThreadPoolExecutor(max_workers=len(people)) as pool:
        handed = dict(zip(people, pool.map(take, people), strict=True))
    given = {person: task for person, task in handed.items() if task is not None}
    ids = [task.task_id for task in given.values()]
    assert len(ids) == 8 and set(ids) == set(opened)  # every task handed out, none twice; 4 people got none
    assert {person: task.assignee for person, task in given.items()} == {person: person for person in given}
    stored = [tasks.load(PROJECT, task_id) for task_id in ids]
    assert {(t.task_id, t.assignee, t.status.value) for t in stored} == {
        (task.task_id, person, "in_progress") for person, task in given.items()
    }
    person, held = next(iter(given.items()))
    again = _next(person, job.job_id)  # asking again: the task in progress, its lease renewed, not a second one
    assert again.task_id == held.task_id and again.lease_expires_at > held.lease_expires_at


def test_a_claim_past_its_lease_goes_to_someone_else_and_the_old_holder_cannot_submit(flow):
    from annolake_service.services import annotations, tasks
    from annolake_service.shared.errors import Conflict

    job = _launched("lease", 1, task_timeout_seconds=1)
    _start_reviews(_review_inputs(flow, job.job_id))
    held = _next("user:slowpoke", job.job_id)
    assert held is not None and held.assignee == "user:slowpoke"
    assert _next("user:eager", job.job_id) is None  # within the lease nobody else gets it
    time.sleep(1.2)
    taken = _next("user:eager", job.job_id)
    assert taken is not None and taken.task_id == held.task_id and taken.assignee == "user:eager"
    assert taken.claim_seq > held.claim_seq

    with pytest.raises(Conflict, match="is held by user:eager"):
        tasks.submit(PROJECT, held.task_id, "user:slowpoke", [BOX])
    seeded = annotations.get_annotations(PROJECT, held.file_id)["version"]
    outcome = tasks.submit(PROJECT, taken.task_id, "user:eager", [BOX])
    assert (outcome["already_submitted"], outcome["task"]["status"]) == (False, "submitted")
    assert outcome["version"] == seeded + 1
    assert tasks.submit(PROJECT, taken.task_id, "user:eager", [BOX])["already_submitted"] is True
    with pytest.raises(Conflict, match="already submitted by user:eager"):
        tasks.submit(PROJECT, held.task_id, "user:slowpoke", [])
    saved = annotations.get_annotations(PROJECT, held.file_id)
    assert saved["version"] == seeded + 1 and [i["name"] for i in saved["instance_list"]] == ["car"]


# --- re-drive -----------------------------------------------------------------------------


def test_redriving_twice_restarts_each_failed_file_once_and_duplicates_no_task(flow):
    from annolake_service.services import jobs, review_workflow, tasks

    job = _launched("redrive", 3)
    _start_reviews(_review_inputs(flow, job.job_id))
    files = sorted(t["file_id"] for t in _job_tasks(job.job_id))
    failing = files[0]
    review_workflow.fail(PROJECT, job.job_id, failing, {"Error": "States.Timeout", "Cause": "nobody came"})
    assert jobs.stats(PROJECT, job.job_id)["files"] == {"total": 3, "annotating": 2, "failed": 1}
    (cancelled,) = [t for t in _job_tasks(job.job_id) if t["file_id"] == failing]
    assert cancelled["status"] == "cancelled"

    executions = len(_review_inputs(flow, job.job_id))
    assert jobs.redrive(PROJECT, job.job_id) == {"restarted": [failing], "relaunched": False}
    # nothing failed any more: nothing restarted
    assert jobs.redrive(PROJECT, job.job_id) == {"restarted": [], "relaunched": False}
    restarted = _review_inputs(flow, job.job_id)[executions:]
    assert [r["file_id"] for r in restarted] == [failing]

    _start_reviews(restarted)
    _start_reviews(restarted)  # a retried step opens the same task again
    listed = _job_tasks(job.job_id)
    assert Counter(t["file_id"] for t in listed) == dict.fromkeys(files, 1)
    assert tasks.load(PROJECT, cancelled["task_id"]).status.value == "available"  # back in the queue
    assert jobs.stats(PROJECT, job.job_id)["files"] == {"total": 3, "annotating": 3}


def test_a_launch_that_records_its_end_while_the_job_is_read_keeps_its_outcome(flow, monkeypatch):
    """Reading a launching job asks its run whether it ended unrecorded: when the run records its end and ends
    between the job's read and that question, the job stays launched (not failed "without recording")."""
    from annolake_service.adapters import workflows
    from annolake_service.domain.workflow import JobSpec
    from annolake_service.services import jobs

    slice_data.seed_dataset(PROJECT, "launch-race", 2, start=next(_IMAGES))
    job = jobs.create_job(PROJECT, JobSpec(name="launch-race", datasets=["launch-race"]), author=OWNER)
    job = jobs.launch(PROJECT, job.job_id)
    for chunk in jobs.plan_launch(PROJECT, job.job_id)["chunks"]:
        jobs.launch_chunk(PROJECT, job.job_id, chunk)
    assert jobs.describe_job(PROJECT, job.job_id).launch_status == "launching"
    asked = workflows.execution_end

    def the_run_ends_meanwhile(arn: str):
        jobs.finish_launch(PROJECT, job.job_id)  # its last step, then the run is over
        flow.sfn.stop_execution(executionArn=arn)
        return asked(arn)

    monkeypatch.setattr(workflows, "execution_end", the_run_ends_meanwhile)
    seen = jobs.describe_job(PROJECT, job.job_id)
    assert (seen.launch_status, seen.launch_failure) == ("launched", None)
    assert jobs.get_job(PROJECT, job.job_id).launch_status == "launched"


# --- review -------------------------------------------------------------------------------


def _everything_reviewed(
    flow: Flow, dataset: str, files: int, annotator: str, reviewer: str
) -> tuple[Any, TableStream]:
    """A launched job over a new dataset, every file reviewed, its reviews started; the table's stream from then."""
    from annolake_service.domain.roles import Role
    from annolake_service.services import projects

    projects.set_member_role(PROJECT, annotator, Role.ANNOTATOR)
    projects.set_member_role(PROJECT, reviewer, Role.REVIEWER)
    job = _launched(dataset, files, annotators=[annotator], reviewers=[reviewer], review_rate=1.0)
    _start_reviews(_review_inputs(flow, job.job_id))
    return job, TableStream()


def test_review_approves_one_file_and_sends_the_other_back_until_it_is_fixed(flow):
    from annolake_service.services import annotations, jobs, review_workflow, tasks
    from annolake_service.shared.errors import BadRequest, Conflict

    annotator, reviewer = "user:ann1", "user:rita"
    job, stream = _everything_reviewed(flow, "review", 2, annotator, reviewer)

    reviews = {}
    while (task := _next(annotator, job.job_id)) is not None:
        tasks.submit(PROJECT, task.task_id, annotator, [BOX])
        after = review_workflow.consolidate(PROJECT, job.job_id, task.file_id, [{"annotator": annotator}])
        assert after["review"] is True and after["authors"] == [annotator]
        opened = _open(job.job_id, task.file_id, "review", authors=after["authors"])
        reviews[task.file_id] = opened["task_id"]
    assert len(reviews) == 2
    approved, sent_back = list(reviews)
    assert tasks.load(PROJECT, reviews[approved]).reserved_for == reviewer
    assert _next(annotator, job.job_id) is None  # the annotator has no review to take

    first = _next(reviewer, job.job_id, "reviewer")
    assert (first.kind.value, first.file_id) == ("review", approved)
    with pytest.raises(BadRequest, match="needs a comment"):
        tasks.review(PROJECT, first.task_id, reviewer, "request_changes")
    assert tasks.review(PROJECT, first.task_id, reviewer, "approve")["task"]["result"]["decision"] == "approve"
    assert review_workflow.complete(PROJECT, job.job_id, approved)["completed"] is True
    assert review_workflow.complete(PROJECT, job.job_id, approved)["completed"] is False  # once
    assert stream.deliver_progress()["jobs_completed"] == []

    second = _next(reviewer, job.job_id, "reviewer")
    assert second.file_id == sent_back
    answer = tasks.review(PROJECT, second.task_id, reviewer, "request_changes", comment="  the car is bigger ")
    assert answer["task"]["result"] == {
        "decision": "request_changes",
        "comment": "the car is bigger",
        "send_back_to": annotator,
    }
    assert tasks.review(PROJECT, second.task_id, reviewer, "request_changes", comment="again")["already_submitted"]
    with pytest.raises(Conflict, match="already reviewed by user:rita"):
        tasks.review(PROJECT, second.task_id, "user:other", "approve")

    rework_opened = _open(
        job.job_id, sent_back, "annotate", round_=1, send_back_to=annotator, comment="the car is bigger"
    )
    assert _next("user:ann2", job.job_id) is None  # reserved for the annotator who made the work
    rework = _next(annotator, job.job_id)
    assert (rework.task_id, rework.round, rework.comment) == (rework_opened["task_id"], 1, "the car is bigger")
    reviewed_version = annotations.get_annotations(PROJECT, sent_back)["version"]
    tasks.submit(PROJECT, rework.task_id, annotator, [{**BOX, "x_max": 60}])
    _open(job.job_id, sent_back, "review", round_=1, authors=[annotator])
    final = _next(reviewer, job.job_id, "reviewer")
    assert (final.file_id, final.round) == (sent_back, 1)
    tasks.review(PROJECT, final.task_id, reviewer, "approve")
    assert review_workflow.complete(PROJECT, job.job_id, sent_back)["completed"] is True
    assert jobs.stats(PROJECT, job.job_id)["status"] == "active"  # until the stream counts the last file
    assert stream.deliver_progress()["jobs_completed"] == [job.job_id]

    stats = jobs.stats(PROJECT, job.job_id)
    assert stats["status"] == "complete" and stats["files"] == {"total": 2, "complete": 2}
    assert stats["review"] == {"reviewed": 3, "approved": 2, "changes_requested": 1, "rejection_rate": 1 / 3}
    fixed = annotations.get_annotations(PROJECT, sent_back)
    assert fixed["version"] == reviewed_version + 1 and [b["x_max"] for b in fixed["instance_list"]] == [60]


def test_the_tables_stream_announces_each_submit_review_and_completion_once_in_the_order_they_committed(flow):
    """The events webhooks receive come from the committed writes: a submit, a review sent back, the rework,
    the approval and the file's completion each announce themselves once, with who did it and when; a repeated
    submit or review, and a completion run again, announce nothing."""
    from annolake_service.adapters.dynamo.streams import workflow_changes
    from annolake_service.domain.workflow_progress import progress_of
    from annolake_service.services import review_workflow, tasks

    annotator, reviewer = "user:ann-events", "user:rev-events"
    job, stream = _everything_reviewed(flow, "events", 1, annotator, reviewer)
    work = _next(annotator, job.job_id)
    tasks.submit(PROJECT, work.task_id, annotator, [BOX])
    tasks.submit(PROJECT, work.task_id, annotator, [BOX])  # repeated
    _open(job.job_id, work.file_id, "review", authors=[annotator])
    check = _next(reviewer, job.job_id, "reviewer")
    tasks.review(PROJECT, check.task_id, reviewer, "request_changes", comment="wider")
    _open(job.job_id, work.file_id, "annotate", round_=1, send_back_to=annotator, comment="wider")
    rework = _next(annotator, job.job_id)
    tasks.submit(PROJECT, rework.task_id, annotator, [{**BOX, "x_max": 60}])
    _open(job.job_id, work.file_id, "review", round_=1, authors=[annotator])
    final = _next(reviewer, job.job_id, "reviewer")
    tasks.review(PROJECT, final.task_id, reviewer, "approve")
    tasks.review(PROJECT, final.task_id, reviewer, "approve")  # repeated
    review_workflow.complete(PROJECT, job.job_id, work.file_id)
    review_workflow.complete(PROJECT, job.job_id, work.file_id)  # a retried step

    progress = progress_of(workflow_changes(stream.take()))
    assert [(kind, detail.get("task_id")) for kind, _, detail in progress.events] == [
        ("task_submitted", work.task_id),
        ("changes_requested", check.task_id),
        ("task_submitted", rework.task_id),
        ("review_approved", final.task_id),
        ("task_completed", None),
    ]
    submitted, sent_back, _, approved, completed = (detail for _, _, detail in progress.events)
    assert {k: submitted[k] for k in ("job_id", "file_id", "annotator", "kind")} == {
        "job_id": job.job_id,
        "file_id": work.file_id,
        "annotator": annotator,
        "kind": "annotate",
    }
    assert (sent_back["reviewer"], sent_back["comment"], sent_back["send_back_to"]) == (reviewer, "wider", annotator)
    assert (approved["decision"], approved["reviewer"]) == ("approve", reviewer)
    assert completed == {"job_id": job.job_id, "file_id": work.file_id, "occurred_at": completed["occurred_at"]}
    moments = [datetime.fromisoformat(detail["occurred_at"]) for detail in (submitted, sent_back, approved, completed)]
    assert moments == sorted(moments) and all(m.tzinfo is not None for m in moments)
    assert {project for _, project, _ in progress.events} == {PROJECT}
    assert progress.completed == {(PROJECT, job.job_id): 1}


def test_a_file_that_needs_no_review_is_completed_by_its_submit_once_however_often_consolidation_runs(flow):
    """No review sampled, one annotator: the submit completes the file in its own write and tells the workflow
    so (``completed``: the state machine ends without consolidating). A consolidation that runs anyway (an
    execution of an earlier definition, a retried step) completes and counts nothing twice; the last file's
    submit completes the job."""
    from annolake_service.services import jobs, review_workflow, tasks

    annotator = "user:solo"
    job = _launched("no-review", 2, mode="copy_once", review_rate=0.0)
    _start_reviews(_review_inputs(flow, job.job_id))
    stream = TableStream()
    first = _next(annotator, job.job_id)
    tasks.submit(PROJECT, first.task_id, annotator, [BOX])
    assert jobs.stats(PROJECT, job.job_id)["files"] == {"total": 2, "complete": 1, "annotating": 1}
    assert stream.deliver_progress() == {"events": 2, "jobs_completed": []}  # task_submitted, task_completed
    again = review_workflow.consolidate(PROJECT, job.job_id, first.file_id, [{"annotator": annotator}])
    assert (again["review"], again["completed"]) == (False, False)
    assert jobs.stats(PROJECT, job.job_id)["files"] == {"total": 2, "complete": 1, "annotating": 1}  # once
    repeated = tasks.submit(PROJECT, first.task_id, annotator, [BOX])
    assert repeated["already_submitted"] and jobs.stats(PROJECT, job.job_id)["files"]["complete"] == 1
    assert stream.deliver_progress() == {"events": 0, "jobs_completed": []}  # nothing announced or counted twice

    last = _next(annotator, job.job_id)
    tasks.submit(PROJECT, last.task_id, annotator, [BOX])
    assert stream.deliver_progress() == {"events": 2, "jobs_completed": [job.job_id]}
    assert jobs.stats(PROJECT, job.job_id)["status"] == "complete"
    assert jobs.stats(PROJECT, job.job_id)["files"] == {"total": 2, "complete": 2}


def test_a_submit_completes_its_file_only_when_nothing_is_left_to_merge_or_review(flow):
    """Only the one annotator of a file not sampled for review completes it by submitting; a file sampled for
    review, or one of several consensus slots, is left to the workflow's next steps."""
    from annolake_service.domain.workflow import review_sampled
    from annolake_service.services import jobs, tasks

    half = _launched("half-reviewed", 12, mode="copy_once", review_rate=0.5)
    pair = _launched("consensus", 1, mode="copy_once", consensus=2)
    for job in (half, pair):
        _start_reviews(_review_inputs(flow, job.job_id))
    for person in ("user:a1", "user:a2"):
        for job in (half, pair):
            while (task := _next(person, job.job_id)) is not None:
                tasks.submit(PROJECT, task.task_id, person, [BOX])
    sampled = [review_sampled(half.job_id, f, 0.5) for f in {t["file_id"] for t in _job_tasks(half.job_id)}]
    assert len(sampled) == 12 and sorted(set(sampled)) == [False, True]  # the draw splits these files
    assert jobs.stats(PROJECT, half.job_id)["files"].get("complete") == sampled.count(False)
    assert jobs.stats(PROJECT, pair.job_id)["files"] == {"total": 1, "annotating": 1}


def test_next_and_submit_read_together_what_they_need(flow, monkeypatch):
    """The DynamoDB requests behind ``POST /tasks/next`` and a submit, each one round trip to the table: next
    reads the job, the caller's held tasks and the queue's head, then claims (the draft comes from the job it
    read); a submit in the process that handed the task out reads its task, its job, the file and the schema in
    one request; one in another process (which does not know the task's file) reads the file in a second."""
    from annolake_service.domain.roles import Role
    from annolake_service.services import tasks
    from annolake_service.shared.kept import Kept

    job = _launched("trips", 2, mode="copy_once")
    _start_reviews(_review_inputs(flow, job.job_id))
    with flow.dynamodb_requests() as asked:
        taken = tasks.next_with_draft(PROJECT, "user:trips", Role.ANNOTATOR, job_id=job.job_id)
    assert taken is not None and taken[1] is None  # no pre-labels in this job: no draft
    assert asked == ["GetItem", "Query", "Query", "UpdateItem"]

    with flow.dynamodb_requests() as asked:
        saved = tasks.submit(PROJECT, taken[0].task_id, "user:trips", [BOX])
    # task + job + file + schema; the save with the task's submit, the file's completion (no review) and the
    # summary copy onto the file's memberships (the table's stream announces it and counts it into the job)
    assert asked == ["BatchGetItem", "TransactWriteItems"]
    assert tasks.load(PROJECT, taken[0].task_id).status.value == "submitted"
    after = tasks.detail(PROJECT, taken[0].task_id)
    assert (after["version"], after["instance_list"][-1]["name"]) == (saved["version"], BOX["name"])

    other = tasks.next_task(PROJECT, "user:trips", Role.ANNOTATOR, job_id=job.job_id)
    assert other is not None and other.file_id != taken[0].file_id
    monkeypatch.setattr(tasks, "_task_files", Kept(tasks.TASK_FILE_TTL_SECONDS))  # as another process
    with flow.dynamodb_requests() as asked:
        saved = tasks.submit(PROJECT, other.task_id, "user:trips", [BOX, BOX])
    assert asked == ["BatchGetItem", "BatchGetItem", "TransactWriteItems"]  # task + job; file + schema; the save
    after = tasks.detail(PROJECT, other.task_id)
    assert after["version"] == saved["version"]
    assert [i["name"] for i in after["instance_list"][-2:]] == [BOX["name"]] * 2


def test_a_job_paused_here_hands_out_nothing_at_once_and_paused_elsewhere_within_seconds(flow, monkeypatch):
    """``next`` keeps the job it read for ``JOB_TTL_SECONDS``: one read per process, not per claim. A pause in
    this process is seen by its next claim; one in another process once the kept job is that old."""
    from annolake_service.adapters.dynamo import jobs as job_repo
    from annolake_service.domain.workflow import JobStatus
    from annolake_service.services import jobs
    from annolake_service.shared.kept import Kept

    clock = [0.0]
    monkeypatch.setattr(jobs, "_claiming", Kept(jobs.JOB_TTL_SECONDS, timer=lambda: clock[0]))
    job = _launched("pausing", 8, mode="copy_once")
    _start_reviews(_review_inputs(flow, job.job_id))
    assert _next("user:p1", job.job_id) is not None
    with flow.dynamodb_requests() as asked:
        assert _next("user:p2", job.job_id) is not None
    assert asked == ["Query", "UpdateItem"]  # the job and the queue's window as the first claim read them

    jobs.update_job(PROJECT, job.job_id, changes={}, status=JobStatus.PAUSED)
    assert _next("user:p3", job.job_id) is None  # paused by this process: at once
    jobs.update_job(PROJECT, job.job_id, changes={}, status=JobStatus.ACTIVE)
    assert _next("user:p3", job.job_id) is not None

    # Paused by another process (written straight to the table): handed out until the kept job is too old.
    assert job_repo.update_job(PROJECT, job.job_id, status=JobStatus.PAUSED, expect_status={JobStatus.ACTIVE})
    assert _next("user:p4", job.job_id) is not None
    clock[0] += jobs.JOB_TTL_SECONDS
    assert _next("user:p5", job.job_id) is None
    assert len([t for t in _job_tasks(job.job_id) if t["status"] == "available"]) == 4  # tasks were left


def test_claims_in_a_burst_share_one_read_of_the_queue_and_pass_over_tasks_taken_elsewhere(flow, monkeypatch):
    """A window of the queue read by one claim is handed out by this process to the claims after it, one task
    each, for ``WINDOW_TTL_SECONDS``: a burst of ``next`` reads the queue once, and reads it again once the
    window is that old. A task another process took meanwhile is refused and the next one handed out; a task
    given back is seen at once here, and elsewhere once this process's window ran out; nobody is handed a task
    twice."""
    from datetime import UTC, datetime

    from annolake_service.adapters.dynamo import tasks as task_repo
    from annolake_service.domain.workflow import TaskKind
    from annolake_service.services import tasks
    from annolake_service.shared.kept import KeptLists

    clock = [0.0]
    monkeypatch.setattr(tasks, "_windows", KeptLists(tasks.WINDOW_TTL_SECONDS, timer=lambda: clock[0]))
    job = _launched("windows", 6, mode="copy_once")
    _start_reviews(_review_inputs(flow, job.job_id))
    handed = [_next("user:w1", job.job_id)]
    with flow.dynamodb_requests() as asked:
        handed.append(_next("user:w2", job.job_id))
    assert asked == ["Query", "UpdateItem"]  # the caller's open tasks, the claim: no read of the queue
    clock[0] += tasks.WINDOW_TTL_SECONDS
    with flow.dynamodb_requests() as asked:
        handed.append(_next("user:w3", job.job_id))
    assert asked == ["Query", "Query", "UpdateItem"]  # the window was that old: the queue read again

    now = datetime.now(UTC)
    left = task_repo.claimable(PROJECT, job.job_id, TaskKind.ANNOTATE, now, 10)
    assert len(left) == 3
    for queued in left[:2]:  # taken by another process, whose claims this one's window does not know
        task_repo.claim(queued, "user:elsewhere", now=now, lease_until=tasks.lease_end(now, 600))
    handed.append(_next("user:w4", job.job_id))
    assert handed[-1].task_id == left[2].task_id
    assert _next("user:w5", job.job_id) is None
    assert len({t.task_id for t in handed}) == len(handed) == 4

    tasks.release(PROJECT, handed[-1].task_id, "user:w4")  # given back here
    assert _next("user:w5", job.job_id).task_id == left[2].task_id
    given_back = task_repo.get_task(PROJECT, job.job_id, left[0].task_id)
    task_repo.release(given_back, "user:elsewhere", now=datetime.now(UTC))  # given back by another process
    assert _next("user:w6", job.job_id).task_id == left[0].task_id


def test_consensus_siblings_one_annotator_was_refused_go_to_the_next_at_once(flow, monkeypatch):
    """A claim refused because the task is not for its caller (the other slot of a file they annotate) does not
    keep the task from the next caller of the same process: the first annotator takes one slot of each file,
    the second, right after, the other (a process that hid every task it had tried for the window's second
    answered the second annotator that nothing was left)."""
    from annolake_service.services import tasks
    from annolake_service.shared.kept import KeptLists

    monkeypatch.setattr(tasks, "_windows", KeptLists(tasks.WINDOW_TTL_SECONDS, prefer=tasks._in_share))
    job = _launched("siblings", 4, mode="copy_once", consensus=2)
    _start_reviews(_review_inputs(flow, job.job_id))
    worked: dict[str, list[str]] = {}
    for person in ("user:first", "user:second"):
        while (task := _next(person, job.job_id)) is not None:
            tasks.submit(PROJECT, task.task_id, person, [])
            worked.setdefault(person, []).append(task.file_id)
    assert len(set(worked["user:first"])) == 4
    assert sorted(worked.get("user:second", [])) == sorted(worked["user:first"])


def test_processes_given_shares_of_a_queue_claim_apart_from_the_same_window(flow, monkeypatch):
    """Two API processes told ``QUEUE_SHARE`` 0/2 and 1/2 read the same window of a job's queue: each hands out
    its share's tasks, so no claim is refused because the other process took the task first (before, about
    four claims in ten were, under 20 annotators on two processes). Once one process's share is taken, it
    hands out the other share's tasks: no task waits for its share's process."""
    from datetime import UTC, datetime

    from annolake_service.adapters.dynamo import tasks as task_repo
    from annolake_service.domain.workflow import TaskKind, in_queue_share
    from annolake_service.services import tasks
    from annolake_service.shared.kept import KeptLists
    from annolake_service.shared.settings import get_settings

    job = _launched("shares", 16, mode="copy_once")
    _start_reviews(_review_inputs(flow, job.job_id))
    queued = task_repo.claimable(PROJECT, job.job_id, TaskKind.ANNOTATE, datetime.now(UTC), 50)
    share_of = {t.task_id: 0 if in_queue_share(t.task_id, (0, 2)) else 1 for t in queued}
    sizes = [list(share_of.values()).count(share) for share in (0, 1)]
    windows = [KeptLists(tasks.WINDOW_TTL_SECONDS, prefer=tasks._in_share) for _ in (0, 1)]

    def next_in(process: int, person: str):
        monkeypatch.setenv("QUEUE_SHARE", f"{process}/2")
        get_settings.cache_clear()
        monkeypatch.setattr(tasks, "_windows", windows[process])
        return _next(person, job.job_id)

    handed: list[tuple[int, str]] = []
    with flow.dynamodb_requests() as asked:
        for n in range(2 * min(sizes)):  # the two processes in turns, while each has tasks of its share left
            task = next_in(n % 2, f"user:share{n}")
            handed.append((n % 2, task.task_id))
    assert [share_of[task_id] for _, task_id in handed] == [process for process, _ in handed]
    assert asked.count("UpdateItem") == len(handed)  # no claim refused
    assert asked.count("Query") == len(handed) + 2  # the callers' open tasks, and one window read by each process

    busier = 0 if sizes[0] > sizes[1] else 1  # the process whose share has tasks left; the other takes them
    rest = [next_in(1 - busier, f"user:rest{n}") for n in range(max(sizes) - min(sizes))]
    assert {share_of[t.task_id] for t in rest} <= {busier}
    assert len({task_id for _, task_id in handed} | {t.task_id for t in rest}) == 16
    assert next_in(0, "user:late") is None and next_in(1, "user:later") is None


def test_a_save_copies_its_summary_onto_each_listing_of_its_file_in_its_own_transaction(flow):
    """The file's item names the datasets listing it, so a save writes the new version's label summary onto
    each membership (what queries on the table filter on) in the save's transaction: no read of the
    memberships, no write after. A membership gone since its id was kept (taken out of a dataset) refuses that
    transaction: the save is made again with the copy after it, and the item names only the live ones again.
    A file written before its item named them is saved that way too, once, and its item then names them all."""
    from annolake_service.adapters.dynamo import datasets as dataset_repo
    from annolake_service.adapters.dynamo import files as file_repo
    from annolake_service.adapters.dynamo import keys
    from annolake_service.adapters.dynamo.items import FileItem
    from annolake_service.services import annotations, projects

    [file_id] = slice_data.seed_dataset(PROJECT, "listed-a", 1, start=next(_IMAGES))
    other = projects.ensure_dataset(PROJECT, "listed-b")
    file_repo.add_to_dataset(PROJECT, file_id, other.dataset_id)
    item_key = (keys.file_pk(PROJECT, file_id), keys.FILE_SK)

    def save(*boxes: dict) -> int:
        return annotations.save_annotations(
            PROJECT, file_id, expected_version=None, instance_list=list(boxes), author=OWNER
        )["version"]

    def summaries() -> dict[str, tuple[int, dict]]:
        return {
            m.dataset_id: (int(m.summary_version), m.label_counts.as_dict())
            for m in dataset_repo.memberships_of(PROJECT, file_id)
        }

    def listed() -> set[str] | None:
        return FileItem.get(*item_key, consistent_read=True).dataset_ids

    home = next(d for d in summaries() if d != other.dataset_id)
    assert listed() == {home, other.dataset_id}
    with flow.dynamodb_requests() as asked:
        version = save(BOX, BOX)
    assert asked == ["BatchGetItem", "TransactWriteItems"]
    assert summaries() == {home: (version, {"car": 2}), other.dataset_id: (version, {"car": 2})}

    assert dataset_repo.remove_file(PROJECT, file_id, other.dataset_id)
    with flow.dynamodb_requests() as asked:
        version = save(BOX)
    assert asked[:3] == ["BatchGetItem", "TransactWriteItems", "TransactWriteItems"]  # refused, then made
    assert summaries() == {home: (version, {"car": 1})} and listed() == {home}
    with flow.dynamodb_requests() as asked:
        version = save(BOX, BOX, BOX)
    assert asked == ["BatchGetItem", "TransactWriteItems"] and summaries() == {home: (version, {"car": 3})}

    # listed in one more dataset after the save read the file: its transaction is refused, the file read again
    third = projects.ensure_dataset(PROJECT, "listed-c")
    record = file_repo.get_file(PROJECT, file_id)
    read_before = file_repo.Listing(record.created_at, frozenset({home}), complete=True)
    file_repo.add_to_dataset(PROJECT, file_id, third.dataset_id)
    assert summaries()[third.dataset_id] == (version, {"car": 3})
    with flow.dynamodb_requests() as asked:
        version = file_repo.save_annotation_version(
            PROJECT,
            file_id,
            expected_version=record.annotation_version,
            instances=[],
            deleted=[],
            label_counts={},
            attribute_values={},
            author=OWNER,
            source="human",
            listing=read_before,
        )
    assert asked == ["TransactWriteItems", "GetItem", "TransactWriteItems"]
    assert summaries() == {home: (version, {}), third.dataset_id: (version, {})}

    # a file written before its item named its datasets, then listed in one more: the item names only that one
    FileItem(*item_key).update(actions=[FileItem.dataset_ids.remove(), FileItem.dataset_ids_complete.remove()])
    fourth = projects.ensure_dataset(PROJECT, "listed-d")
    file_repo.add_to_dataset(PROJECT, file_id, fourth.dataset_id)
    assert listed() == {fourth.dataset_id}
    with flow.dynamodb_requests() as asked:
        version = save(BOX)
    copies_after = ["Query", "UpdateItem", "UpdateItem", "UpdateItem"]
    assert asked == ["BatchGetItem", "TransactWriteItems", *copies_after, "UpdateItem"]  # then every id named
    everywhere = {home, third.dataset_id, fourth.dataset_id}
    assert summaries() == dict.fromkeys(everywhere, (version, {"car": 1})) and listed() == everywhere
    with flow.dynamodb_requests() as asked:
        version = save()
    assert asked == ["BatchGetItem", "TransactWriteItems"] and summaries() == dict.fromkeys(everywhere, (version, {}))


# --- webhooks -----------------------------------------------------------------------------


@dataclass
class Receiver:
    url: str
    failing: bool = True
    received: list[tuple[dict[str, str], bytes, int]] = field(default_factory=list)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """An HTTP receiver on 127.0.0.1 that answers 503 while ``failing``, 204 after; it keeps what it got."""
    state = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            body = self.rfile.read(int(self.headers["Content-Length"]))
            status = 503 if state.failing else 204
            state.received.append((dict(self.headers), body, status))
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_port}/hooks"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_a_failed_webhook_delivery_is_listed_then_redelivered(flow, receiver, monkeypatch):
    from annolake_service.domain import webhooks as rules
    from annolake_service.services import webhooks
    from annolake_service.shared.errors import NotFound

    monkeypatch.setattr(webhooks, "BACKOFF_SECONDS", 0)  # every attempt is made; the 3 s between them are not waited
    created = webhooks.create(PROJECT, rules.WebhookSpec(url=receiver.url, events=["job_completed"]), author=OWNER)
    webhook_id, secret = created["webhook"]["webhook_id"], created["secret"]
    detail = {"project_id": PROJECT, "job_id": "job_x", "name": "done", "files": 2}
    event = {"id": "evt-1", "detail-type": "job_completed", "detail": detail}

    (outcome,) = webhooks.deliver(event)
    assert (outcome["webhook_id"], outcome["delivered"]) == (webhook_id, False)
    assert [status for _, _, status in receiver.received] == [503] * webhooks.DELIVERY_ATTEMPTS
    (failure,) = webhooks.failures(PROJECT, webhook_id)
    assert (failure["event_type"], failure["attempts"], failure["delivery_id"]) == (
        "job_completed",
        webhooks.DELIVERY_ATTEMPTS,
        f"evt-1:{webhook_id}",
    )
    assert "answered HTTP 503" in failure["last_error"]
    assert webhooks.deliver({**event, "detail-type": "task_created"}) == []  # not subscribed: nothing sent

    receiver.failing = False
    again = webhooks.redeliver(PROJECT, webhook_id, failure["failure_id"])
    assert again == {"webhook_id": webhook_id, "delivered": True, "status": 204}
    assert webhooks.failures(PROJECT, webhook_id) == []
    headers, body, status = receiver.received[-1]
    assert status == 204 and len(receiver.received) == webhooks.DELIVERY_ATTEMPTS + 1
    assert json.loads(body) == {"id": "evt-1", "type": "job_completed", "project_id": PROJECT, "data": detail}
    assert headers[rules.DELIVERY_HEADER] == f"evt-1:{webhook_id}"
    timestamp = int(headers[rules.TIMESTAMP_HEADER])
    assert rules.verify_signature(secret, timestamp, body, headers[rules.SIGNATURE_HEADER], now=int(time.time()))
    with pytest.raises(NotFound):
        webhooks.redeliver(PROJECT, webhook_id, failure["failure_id"])  # delivered: off the list
