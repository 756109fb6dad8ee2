"""Repositories of the human workflow: jobs, tasks, a file's progress in a job, webhooks. Keys only here.

| item                | PK                  | SK                           | GSI1PK / GSI1SK (assignee)       |
|---------------------|---------------------|------------------------------|----------------------------------|
| job                 | P#<p>               | JOB#<job>                    |                                  |
| task                | P#<p>#J#<job>       | T#<task>                     | P#<p>#A#<who> / open#<job>#<k>#<t> |
| file in job         | P#<p>#J#<job>       | F#<file>                     |                                  |
| consensus slot mark | P#<p>#J#<job>       | M#<file>#<who>               |                                  |
| webhook             | P#<p>               | WEBHOOK#<id>                 |                                  |
| failed delivery     | P#<p>#WEBHOOK#<id>  | FAIL#<failed at>#<delivery>  |                                  |

A submitted task's GSI1SK becomes ``done#…``. An open task is also in its job's queue:
GSI2PK ``P#<p>#J#<job>#Q#<kind>``, GSI2SK ``<claimable at>#<task>``.

Access patterns
- ``next``: the caller's open tasks (GSI1 ``P#<p>#A#<who>``, ``open#``), then the job's queue (GSI2, sort key
  ``<claimable at>#<task>`` up to now): a task becomes claimable at creation, and again when a claim's lease or
  a reservation ends. A claim is a conditional write on ``claim_seq``, so two callers never get one task.
- a job's tasks, files and stats: one key query on ``P#<p>#J#<job>``.
- a reviewer's load: count of GSI1 ``open#<job>#review#``.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from pynamodb.exceptions import PutError, TransactWriteError, UpdateError
from pynamodb.transactions import TransactWrite

from annolake_service.adapters.models import (
    AnnotatorMarkItem,
    JobFileItem,
    JobItem,
    TaskItem,
    WebhookFailureItem,
    WebhookItem,
    bind,
    cancelled_by_condition,
    condition_failed,
)
from annolake_service.adapters.store import ConditionFailed, TransactionUpdate, _connection, _project_pk
from annolake_service.domain.workflow import Job, JobSpec, JobStatus, Task, TaskKind, TaskStatus


def _job_pk(project_id: str, job_id: str) -> str:
    return f"P#{project_id}#J#{job_id}"


def _queue_pk(project_id: str, job_id: str, kind: str) -> str:
    return f"P#{project_id}#J#{job_id}#Q#{kind}"


def _assignee_pk(project_id: str, principal: str) -> str:
    return f"P#{project_id}#A#{principal}"


def stamp(moment: datetime) -> str:
    """A sortable UTC timestamp with a fixed width (queue sort keys compare as strings)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _applied(write: Callable[[], object]) -> bool:
    """Run a conditional write; False (not an error) when its condition does not hold."""
    try:
        write()
    except (PutError, UpdateError) as exc:
        if condition_failed(exc):
            return False
        raise
    return True


# --- jobs ---------------------------------------------------------------------------------


def _job(item: JobItem) -> Job:
    return Job(
        project_id=item.project_id,
        job_id=item.job_id,
        spec=JobSpec.model_validate(item.spec),
        dataset_ids=list(item.dataset_ids or []),
        status=JobStatus(item.status),
        launch_status=item.launch_status,
        files_total=int(item.files_total or 0),
        created_by=item.created_by,
        created_at=item.created_at,
        launched_at=item.launched_at,
        completed_at=item.completed_at,
    )


def create_job(job: Job) -> None:
    bind()
    JobItem(
        PK=_project_pk(job.project_id),
        SK=f"JOB#{job.job_id}",
        kind="job",
        project_id=job.project_id,
        job_id=job.job_id,
        spec=job.spec.model_dump(mode="json"),
        dataset_ids=job.dataset_ids,
        status=job.status.value,
        launch_status=job.launch_status,
        created_by=job.created_by,
        created_at=job.created_at,
    ).save(condition=JobItem.PK.does_not_exist())


def get_job(project_id: str, job_id: str) -> Job | None:
    bind()
    try:
        return _job(JobItem.get(_project_pk(project_id), f"JOB#{job_id}", consistent_read=True))
    except JobItem.DoesNotExist:
        return None


def list_jobs(project_id: str) -> list[Job]:
    bind()
    return [_job(i) for i in JobItem.query(_project_pk(project_id), JobItem.SK.startswith("JOB#"))]


def update_job(
    project_id: str,
    job_id: str,
    *,
    spec: JobSpec | None = None,
    status: JobStatus | None = None,
    expect_status: set[JobStatus] | None = None,
    launch_status: str | None = None,
    launched_at: datetime | None = None,
    completed_at: datetime | None = None,
) -> bool:
    """Change a job if it is (still) in one of ``expect_status``; False when it is not."""
    bind()
    actions = []
    if spec is not None:
        actions.append(JobItem.spec.set(spec.model_dump(mode="json")))
    if status is not None:
        actions.append(JobItem.status.set(status.value))
    if launch_status is not None:
        actions.append(JobItem.launch_status.set(launch_status))
    if launched_at is not None:
        actions.append(JobItem.launched_at.set(launched_at))
    if status is not None:
        actions.append(JobItem.completed_at.set(completed_at))
    condition = JobItem.PK.exists()
    if expect_status:
        condition &= JobItem.status.is_in(*(s.value for s in expect_status))
    item = JobItem(PK=_project_pk(project_id), SK=f"JOB#{job_id}")
    return _applied(lambda: item.update(actions=actions, condition=condition))


def add_job_files(project_id: str, job_id: str, count: int) -> None:
    bind()
    JobItem(PK=_project_pk(project_id), SK=f"JOB#{job_id}").update(actions=[JobItem.files_total.add(count)])


def count_job_file_done(project_id: str, job_id: str) -> tuple[int, int]:
    """Count one more file done; returns (done, total) as the counters now stand (a hint, not an exact count)."""
    bind()
    item = JobItem(PK=_project_pk(project_id), SK=f"JOB#{job_id}")
    item.update(actions=[JobItem.files_done.add(1)])
    return int(item.files_done or 0), int(item.files_total or 0)


# --- a file's progress in a job -----------------------------------------------------------


def put_job_file(project_id: str, job_id: str, file_id: str, now: datetime) -> bool:
    """Record that the file is in the job (once); False if it already was."""
    bind()
    item = JobFileItem(
        PK=_job_pk(project_id, job_id),
        SK=f"F#{file_id}",
        kind="job_file",
        project_id=project_id,
        job_id=job_id,
        file_id=file_id,
        status="annotating",
        created_at=now,
    )
    return _applied(lambda: item.save(condition=JobFileItem.PK.does_not_exist()))


def get_job_file(project_id: str, job_id: str, file_id: str) -> dict[str, Any] | None:
    bind()
    try:
        item = JobFileItem.get(_job_pk(project_id, job_id), f"F#{file_id}", consistent_read=True)
    except JobFileItem.DoesNotExist:
        return None
    return _job_file(item)


def _job_file(item: JobFileItem) -> dict[str, Any]:
    return {
        "file_id": item.file_id,
        "status": item.status,
        "execution_arn": item.execution_arn,
        "agreement": float(item.agreement) if item.agreement is not None else None,
        "per_annotator": item.per_annotator or {},
        "failure": item.failure,
        "created_at": item.created_at,
        "completed_at": item.completed_at,
    }


def update_job_file(
    project_id: str,
    job_id: str,
    file_id: str,
    *,
    status: str | None = None,
    execution_arn: str | None = None,
    agreement: float | None = None,
    per_annotator: dict[str, float] | None = None,
    failure: str | None = None,
    completed_at: datetime | None = None,
    unless_status: str | None = None,
) -> bool:
    """Update the file's progress; with ``unless_status``, only if it is not in that status (False then)."""
    bind()
    actions = []
    if status is not None:
        actions.append(JobFileItem.status.set(status))
    if execution_arn is not None:
        actions.append(JobFileItem.execution_arn.set(execution_arn))
    if agreement is not None:
        actions.append(JobFileItem.agreement.set(agreement))
    if per_annotator is not None:
        actions.append(JobFileItem.per_annotator.set(per_annotator))
    if failure is not None:
        actions.append(JobFileItem.failure.set(failure[:2000]))
    if completed_at is not None:
        actions.append(JobFileItem.completed_at.set(completed_at))
    condition = JobFileItem.PK.exists()
    if unless_status is not None:
        condition &= JobFileItem.status != unless_status
    item = JobFileItem(PK=_job_pk(project_id, job_id), SK=f"F#{file_id}")
    return _applied(lambda: item.update(actions=actions, condition=condition))


def job_files(project_id: str, job_id: str) -> Iterator[dict[str, Any]]:
    bind()
    for item in JobFileItem.query(_job_pk(project_id, job_id), JobFileItem.SK.startswith("F#")):
        yield _job_file(item)


def count_unfinished_job_files(project_id: str, job_id: str) -> int:
    bind()
    return JobFileItem.count(
        _job_pk(project_id, job_id),
        JobFileItem.SK.startswith("F#"),
        filter_condition=JobFileItem.status != "complete",
        consistent_read=True,
    )


# --- tasks --------------------------------------------------------------------------------


def _task(item: TaskItem) -> Task:
    return Task(
        project_id=item.project_id,
        job_id=item.job_id,
        task_id=item.task_id,
        file_id=item.file_id,
        kind=TaskKind(item.task_kind),
        slot=int(item.slot or 0),
        round=int(item.round or 0),
        status=TaskStatus(item.status),
        distinct_annotators=bool(item.distinct_annotators),
        assignee=item.assignee,
        reserved_for=item.reserved_for,
        excluded=list(item.excluded or []),
        authors=list(item.authors or []),
        comment=item.comment,
        claim_seq=int(item.claim_seq or 0),
        created_at=item.created_at,
        claimed_at=item.claimed_at,
        lease_expires_at=item.lease_expires_at,
        submitted_at=item.submitted_at,
        submission=item.submission,
        result=item.result,
        task_token=item.task_token,
    )


def _key(task: Task) -> TaskItem:
    return TaskItem(PK=_job_pk(task.project_id, task.job_id), SK=f"T#{task.task_id}")


def _open_index(project_id: str, job_id: str, kind: str, task_id: str) -> str:
    return f"open#{job_id}#{kind}#{task_id}"


def create_task(task: Task, claimable_at: datetime) -> Task | None:
    """Store a new open task and return None; if it exists (a retried or re-driven workflow step), refresh its
    token, put a cancelled one back in the queue, and return it as it was."""
    bind()
    holder = task.reserved_for
    item = TaskItem(
        PK=_job_pk(task.project_id, task.job_id),
        SK=f"T#{task.task_id}",
        kind="task",
        project_id=task.project_id,
        job_id=task.job_id,
        task_id=task.task_id,
        file_id=task.file_id,
        task_kind=task.kind.value,
        slot=task.slot,
        round=task.round,
        status=task.status.value,
        distinct_annotators=task.distinct_annotators,
        reserved_for=holder,
        assignee=holder,
        excluded=task.excluded,
        authors=task.authors,
        comment=task.comment,
        task_token=task.task_token,
        claim_seq=0,
        created_at=task.created_at,
        lease_expires_at=claimable_at if holder else None,
        GSI2PK=_queue_pk(task.project_id, task.job_id, task.kind.value),
        GSI2SK=f"{stamp(claimable_at)}#{task.task_id}",
    )
    if holder:
        item.GSI1PK = _assignee_pk(task.project_id, holder)
        item.GSI1SK = _open_index(task.project_id, task.job_id, task.kind.value, task.task_id)
    try:
        item.save(condition=TaskItem.PK.does_not_exist())
    except PutError as exc:
        if not condition_failed(exc):
            raise
    else:
        return None
    existing = get_task(task.project_id, task.job_id, task.task_id)
    assert existing is not None  # noqa: S101 - the condition just found it
    actions = [TaskItem.task_token.set(task.task_token)]
    if existing.status is TaskStatus.CANCELLED:
        actions += [
            TaskItem.status.set(TaskStatus.AVAILABLE.value),
            TaskItem.assignee.remove(),
            TaskItem.claim_seq.set(existing.claim_seq + 1),
            TaskItem.GSI1PK.remove(),
            TaskItem.GSI1SK.remove(),
            TaskItem.GSI2PK.set(item.GSI2PK),
            TaskItem.GSI2SK.set(f"{stamp(datetime.now(UTC))}#{task.task_id}"),
        ]
    _key(task).update(actions=actions, condition=TaskItem.PK.exists())
    return existing


def get_task(project_id: str, job_id: str, task_id: str) -> Task | None:
    bind()
    try:
        return _task(TaskItem.get(_job_pk(project_id, job_id), f"T#{task_id}", consistent_read=True))
    except TaskItem.DoesNotExist:
        return None


def open_tasks_of(project_id: str, principal: str) -> list[Task]:
    """Tasks held by or reserved for ``principal`` that are not submitted (oldest first)."""
    bind()
    keys = [
        (i.PK, i.SK)
        for i in TaskItem.gsi1.query(_assignee_pk(project_id, principal), TaskItem.GSI1SK.startswith("open#"))
    ]
    return sorted((_task(i) for i in TaskItem.batch_get(keys)), key=lambda t: t.created_at) if keys else []


def open_load(project_id: str, job_id: str, principal: str, kind: TaskKind) -> int:
    bind()
    return TaskItem.gsi1.count(
        _assignee_pk(project_id, principal), TaskItem.GSI1SK.startswith(f"open#{job_id}#{kind.value}#")
    )


def claimable(project_id: str, job_id: str, kind: TaskKind, now: datetime, limit: int) -> list[Task]:
    """Open tasks of the job whose claimable time has come, oldest first (at most ``limit``)."""
    bind()
    items = TaskItem.queue.query(
        _queue_pk(project_id, job_id, kind.value), f"{stamp(now)}#~" > TaskItem.GSI2SK, limit=limit
    )
    return [_task(i) for i in items]


def claim(task: Task, principal: str, *, now: datetime, lease_until: datetime) -> None:
    """Give ``task`` (as read, with its ``claim_seq``) to ``principal`` until ``lease_until``.

    ConditionFailed when someone changed the task since it was read, or when the caller already holds another
    consensus slot of the same file.
    """
    actions = [
        TaskItem.status.set(TaskStatus.IN_PROGRESS.value),
        TaskItem.assignee.set(principal),
        TaskItem.claim_seq.set(task.claim_seq + 1),
        TaskItem.claimed_at.set(now),
        TaskItem.lease_expires_at.set(lease_until),
        TaskItem.GSI1PK.set(_assignee_pk(task.project_id, principal)),
        TaskItem.GSI1SK.set(_open_index(task.project_id, task.job_id, task.kind.value, task.task_id)),
        TaskItem.GSI2SK.set(f"{stamp(lease_until)}#{task.task_id}"),
    ]
    # A task in progress goes only to its holder (renewal) or, once the lease ran out, to anyone: the condition
    # states it, so a read that raced a claim can never hand the task to a second person.
    held_by_caller_or_lapsed = (TaskItem.assignee == principal) | (TaskItem.lease_expires_at < now)
    condition = (TaskItem.claim_seq == task.claim_seq) & (
        TaskItem.status.is_in(TaskStatus.AVAILABLE.value, TaskStatus.RESERVED.value)
        | ((TaskItem.status == TaskStatus.IN_PROGRESS.value) & held_by_caller_or_lapsed)
    )
    if not task.distinct_annotators:
        try:
            _key(task).update(actions=actions, condition=condition)
        except UpdateError as exc:
            if not condition_failed(exc):
                raise
            raise ConditionFailed(f"task {task.task_id} was claimed by someone else") from exc
        return
    try:
        with TransactWrite(connection=_connection()) as tx:
            tx.update(_key(task), actions=actions, condition=condition)
            mark = AnnotatorMarkItem(
                PK=_job_pk(task.project_id, task.job_id),
                SK=f"M#{task.file_id}#{principal}",
                kind="annotator_mark",
                task_id=task.task_id,
            )
            tx.save(mark, condition=AnnotatorMarkItem.PK.does_not_exist() | (AnnotatorMarkItem.task_id == task.task_id))
    except TransactWriteError as exc:
        if not cancelled_by_condition(exc):
            raise
        raise ConditionFailed(f"task {task.task_id} was claimed by someone else") from exc


def holds_slot_of(project_id: str, job_id: str, file_id: str, principal: str) -> bool:
    """Whether ``principal`` already holds (or held) a consensus slot of this file in this job."""
    bind()
    try:
        AnnotatorMarkItem.get(_job_pk(project_id, job_id), f"M#{file_id}#{principal}")
    except AnnotatorMarkItem.DoesNotExist:
        return False
    return True


def _finish_actions(task: Task, now: datetime, result: dict[str, Any], submission: list | None) -> list[Any]:
    actions = [
        TaskItem.status.set(TaskStatus.SUBMITTED.value),
        TaskItem.submitted_at.set(now),
        TaskItem.result.set(result),
        TaskItem.claim_seq.set(task.claim_seq + 1),
        TaskItem.GSI1SK.set(f"done#{task.job_id}#{task.kind.value}#{task.task_id}"),
        TaskItem.GSI2PK.remove(),
        TaskItem.GSI2SK.remove(),
    ]
    if submission is not None:
        actions.append(TaskItem.submission.set(submission))
    return actions


def submission_update(
    task: Task, principal: str, *, now: datetime, result: dict[str, Any], submission: list | None = None
) -> TransactionUpdate:
    """The write that marks ``task`` (held by ``principal``, as read) submitted, for use in a transaction."""
    return TransactionUpdate(
        item=_key(task),
        actions=_finish_actions(task, now, result, submission),
        condition=(TaskItem.claim_seq == task.claim_seq)
        & (TaskItem.assignee == principal)
        & (TaskItem.status == TaskStatus.IN_PROGRESS.value),
    )


def submit(
    task: Task, principal: str, *, now: datetime, result: dict[str, Any], submission: list | None = None
) -> None:
    """Mark ``task`` submitted by ``principal``; ConditionFailed if it changed hands since it was read."""
    update = submission_update(task, principal, now=now, result=result, submission=submission)
    try:
        update.item.update(actions=update.actions, condition=update.condition)
    except UpdateError as exc:
        if not condition_failed(exc):
            raise
        raise ConditionFailed(f"task {task.task_id} is no longer held by {principal}") from exc


def release(task: Task, principal: str, *, now: datetime) -> None:
    """Give a held task back to the queue at once."""
    actions = [
        TaskItem.status.set(TaskStatus.AVAILABLE.value),
        TaskItem.assignee.remove(),
        TaskItem.reserved_for.remove(),
        TaskItem.lease_expires_at.remove(),
        TaskItem.claim_seq.set(task.claim_seq + 1),
        TaskItem.GSI1PK.remove(),
        TaskItem.GSI1SK.remove(),
        TaskItem.GSI2SK.set(f"{stamp(now)}#{task.task_id}"),
    ]
    condition = (TaskItem.claim_seq == task.claim_seq) & (TaskItem.assignee == principal)
    try:
        _key(task).update(actions=actions, condition=condition)
    except UpdateError as exc:
        if not condition_failed(exc):
            raise
        raise ConditionFailed(f"task {task.task_id} is no longer held by {principal}") from exc


def cancel_open_tasks(project_id: str, job_id: str, file_id: str) -> None:
    for task in job_tasks(project_id, job_id):
        if task.file_id == file_id and task.is_open:
            _key(task).update(
                actions=[
                    TaskItem.status.set(TaskStatus.CANCELLED.value),
                    TaskItem.GSI2PK.remove(),
                    TaskItem.GSI2SK.remove(),
                    TaskItem.GSI1SK.set(f"done#{job_id}#{task.kind.value}#{task.task_id}"),
                ]
            )


def job_tasks(project_id: str, job_id: str) -> Iterator[Task]:
    bind()
    for item in TaskItem.query(_job_pk(project_id, job_id), TaskItem.SK.startswith("T#")):
        yield _task(item)


def _encode(key: dict[str, Any] | None) -> str | None:
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode() if key else None


def _decode(cursor: str | None) -> dict[str, Any] | None:
    if not cursor:
        return None
    try:
        return json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except ValueError:
        raise ValueError("the cursor is not one this API returned; start again without a cursor") from None


def page_job_tasks(
    project_id: str, job_id: str, *, status: str | None, kind: str | None, limit: int, cursor: str | None
) -> tuple[list[Task], str | None]:
    bind()
    condition = None
    if status:
        condition = TaskItem.status == status
    if kind:
        by_kind = TaskItem.task_kind == kind
        condition = by_kind if condition is None else condition & by_kind
    results = TaskItem.query(
        _job_pk(project_id, job_id),
        TaskItem.SK.startswith("T#"),
        filter_condition=condition,
        limit=limit,
        last_evaluated_key=_decode(cursor),
    )
    tasks = [_task(i) for i in results]
    return tasks, _encode(results.last_evaluated_key)


# --- webhooks -----------------------------------------------------------------------------


def _webhook(item: WebhookItem) -> dict[str, Any]:
    return {
        "webhook_id": item.webhook_id,
        "url": item.url,
        "events": list(item.events),
        "description": item.description,
        "secret_ref": item.secret_ref,
        "created_by": item.created_by,
        "created_at": item.created_at,
    }


def put_webhook(project_id: str, webhook: dict[str, Any]) -> None:
    bind()
    WebhookItem(
        PK=_project_pk(project_id),
        SK=f"WEBHOOK#{webhook['webhook_id']}",
        kind="webhook",
        project_id=project_id,
        **webhook,
    ).save(condition=WebhookItem.PK.does_not_exist())


def list_webhooks(project_id: str) -> list[dict[str, Any]]:
    bind()
    return [_webhook(i) for i in WebhookItem.query(_project_pk(project_id), WebhookItem.SK.startswith("WEBHOOK#"))]


def get_webhook(project_id: str, webhook_id: str) -> dict[str, Any] | None:
    bind()
    try:
        return _webhook(WebhookItem.get(_project_pk(project_id), f"WEBHOOK#{webhook_id}"))
    except WebhookItem.DoesNotExist:
        return None


def delete_webhook(project_id: str, webhook_id: str) -> None:
    bind()
    WebhookItem(PK=_project_pk(project_id), SK=f"WEBHOOK#{webhook_id}").delete()


def put_failure(project_id: str, webhook_id: str, failure: dict[str, Any], *, expires_at: int) -> None:
    bind()
    failed_at: datetime = failure["failed_at"]
    WebhookFailureItem(
        PK=f"P#{project_id}#WEBHOOK#{webhook_id}",
        SK=f"FAIL#{stamp(failed_at)}#{failure['delivery_id']}",
        kind="webhook_failure",
        project_id=project_id,
        webhook_id=webhook_id,
        ttl=expires_at,
        **failure,
    ).save()


def _failure(item: WebhookFailureItem) -> dict[str, Any]:
    return {
        "failure_id": item.SK.removeprefix("FAIL#"),
        "delivery_id": item.delivery_id,
        "event_type": item.event_type,
        "event": item.event,
        "attempts": int(item.attempts),
        "last_error": item.last_error,
        "failed_at": item.failed_at,
    }


def list_failures(project_id: str, webhook_id: str, limit: int = 100) -> list[dict[str, Any]]:
    bind()
    items = WebhookFailureItem.query(f"P#{project_id}#WEBHOOK#{webhook_id}", scan_index_forward=False, limit=limit)
    return [_failure(i) for i in items]


def pop_failure(project_id: str, webhook_id: str, failure_id: str) -> dict[str, Any] | None:
    bind()
    try:
        item = WebhookFailureItem.get(f"P#{project_id}#WEBHOOK#{webhook_id}", f"FAIL#{failure_id}")
    except WebhookFailureItem.DoesNotExist:
        return None
    item.delete()
    return _failure(item)
