"""Workflow tasks: creating, queueing, claiming, submitting and releasing them (keys: ``keys.py``)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from pynamodb.expressions.update import Action
from pynamodb.transactions import TransactWrite

from annolake_service.adapters.dynamo import cursors, keys
from annolake_service.adapters.dynamo import files as file_repo
from annolake_service.adapters.dynamo import jobs as job_repo
from annolake_service.adapters.dynamo.conditions import ConditionFailed, TransactionUpdate, applied
from annolake_service.adapters.dynamo.items import AnnotatorMarkItem, JobItem, TaskItem
from annolake_service.adapters.dynamo.table import bind, connection, read_together
from annolake_service.domain.workflow import Job, QueuedTask, Task, TaskKind, TaskStatus


def _task(item: TaskItem) -> Task:
    return Task(
        project_id=item.project_id,
        job_id=item.job_id,
        task_id=item.task_id,
        file_id=item.file_id,
        kind=TaskKind(item.task_kind),
        slot=int(item.slot or 0),
        round=int(item.round or 0),
        frame_start=None if item.frame_start is None else int(item.frame_start),
        frame_end=None if item.frame_end is None else int(item.frame_end),
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


def task_from_image(image: dict[str, Any]) -> Task:
    """A task from a change stream image (the item as DynamoDB JSON)."""
    return _task(TaskItem.from_raw_data(image))


def _key(task: Task | QueuedTask) -> TaskItem:
    return TaskItem(PK=keys.job_pk(task.project_id, task.job_id), SK=keys.task_sk(task.task_id))


def _conditional_update(task: Task | QueuedTask, actions: list[Action], condition: Any, refusal: str) -> TaskItem:
    """The task's item as the update left it (DynamoDB answers it); ConditionFailed with ``refusal`` otherwise."""
    item = _key(task)
    if not applied(lambda: item.update(actions=actions, condition=condition)):
        raise ConditionFailed(refusal)
    return item


def create_task(task: Task, claimable_at: datetime) -> Task | None:
    """Store a new open task and return None; if it exists (a retried or re-driven workflow step), refresh its
    token, put a cancelled one back in the queue, and return it as it was."""
    bind()
    holder = task.reserved_for
    item = TaskItem(
        PK=keys.job_pk(task.project_id, task.job_id),
        SK=keys.task_sk(task.task_id),
        kind=TaskItem.KIND,
        project_id=task.project_id,
        job_id=task.job_id,
        task_id=task.task_id,
        file_id=task.file_id,
        task_kind=task.kind.value,
        slot=task.slot,
        round=task.round,
        frame_start=task.frame_start,
        frame_end=task.frame_end,
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
        GSI2PK=keys.queue_pk(task.project_id, task.job_id, task.kind.value),
        GSI2SK=keys.queue_sk(claimable_at, task.task_id),
    )
    if holder:
        item.GSI1PK = keys.assignee_index_pk(task.project_id, holder)
        item.GSI1SK = keys.open_index_sk(task.job_id, task.kind.value, task.task_id)
    if applied(lambda: item.save(condition=TaskItem.PK.does_not_exist())):
        return None
    existing = get_task(task.project_id, task.job_id, task.task_id)
    assert existing is not None  # noqa: S101 - the condition just found it
    actions: list[Action] = [TaskItem.task_token.set(task.task_token)]  # type: ignore[arg-type]  # pynamodb's stub omits None, which removes the attribute
    if existing.status is TaskStatus.CANCELLED:
        actions += [
            TaskItem.status.set(TaskStatus.AVAILABLE.value),
            TaskItem.assignee.remove(),
            TaskItem.claim_seq.set(existing.claim_seq + 1),
            TaskItem.GSI1PK.remove(),
            TaskItem.GSI1SK.remove(),
            TaskItem.GSI2PK.set(item.GSI2PK),
            TaskItem.GSI2SK.set(keys.queue_sk(datetime.now(UTC), task.task_id)),
        ]
    _key(task).update(actions=actions, condition=TaskItem.PK.exists())
    return existing


def get_task(project_id: str, job_id: str, task_id: str) -> Task | None:
    bind()
    try:
        return _task(TaskItem.get(keys.job_pk(project_id, job_id), keys.task_sk(task_id), consistent_read=True))
    except TaskItem.DoesNotExist:
        return None


def get_task_with_job(project_id: str, job_id: str, task_id: str) -> tuple[Task | None, Job | None]:
    """The task and its job, read together (one request: submitting or reviewing a task needs both)."""
    task_item, job_item = read_together(
        [TaskItem(PK=keys.job_pk(project_id, job_id), SK=keys.task_sk(task_id)), job_repo.job_key(project_id, job_id)]
    )
    return (
        _task(task_item) if isinstance(task_item, TaskItem) else None,
        job_repo.job_of(job_item) if isinstance(job_item, JobItem) else None,
    )


def get_task_with_job_and_file(
    project_id: str, job_id: str, task_id: str, file_id: str
) -> tuple[Task | None, Job | None, file_repo.ForSave]:
    """``get_task_with_job`` and, in the same request, what saving the annotations of file ``file_id`` checks
    (``files.get_file_for_save``): a submit that knows its task's file reads once, not twice."""
    task_item, job_item, *for_save = read_together(
        [
            TaskItem(PK=keys.job_pk(project_id, job_id), SK=keys.task_sk(task_id)),
            job_repo.job_key(project_id, job_id),
            *file_repo.save_keys(project_id, file_id),
        ]
    )
    return (
        _task(task_item) if isinstance(task_item, TaskItem) else None,
        job_repo.job_of(job_item) if isinstance(job_item, JobItem) else None,
        file_repo.for_save_from(project_id, file_id, for_save),
    )


def open_tasks_of(project_id: str, principal: str) -> list[Task]:
    """Tasks held by or reserved for ``principal`` that are not submitted (oldest first)."""
    bind()
    held = TaskItem.gsi1.query(
        keys.assignee_index_pk(project_id, principal), TaskItem.GSI1SK.startswith(keys.OPEN_PREFIX)
    )
    wanted = [(i.PK, i.SK) for i in held]
    return sorted((_task(i) for i in TaskItem.batch_get(wanted)), key=lambda t: t.created_at) if wanted else []


def open_load(project_id: str, job_id: str, principal: str, kind: TaskKind) -> int:
    bind()
    return TaskItem.gsi1.count(
        keys.assignee_index_pk(project_id, principal),
        TaskItem.GSI1SK.startswith(keys.open_load_prefix(job_id, kind.value)),
    )


#: what ``claimable`` reads of each queued task
_QUEUED_ATTRIBUTES = [
    "project_id",
    "job_id",
    "task_id",
    "file_id",
    "task_kind",
    "claim_seq",
    "distinct_annotators",
    "excluded",
]


def claimable(project_id: str, job_id: str, kind: TaskKind, now: datetime, limit: int) -> list[QueuedTask]:
    """Open tasks of the job whose claimable time has come, oldest first (at most ``limit``)."""
    bind()
    items = TaskItem.queue.query(
        keys.queue_pk(project_id, job_id, kind.value),
        keys.queue_upto(now) > TaskItem.GSI2SK,
        limit=limit,
        attributes_to_get=_QUEUED_ATTRIBUTES,
    )
    return [
        QueuedTask(
            project_id=i.project_id,
            job_id=i.job_id,
            task_id=i.task_id,
            file_id=i.file_id,
            kind=TaskKind(i.task_kind),
            claim_seq=int(i.claim_seq or 0),
            distinct_annotators=bool(i.distinct_annotators),
            excluded=tuple(i.excluded or ()),
        )
        for i in items
    ]


def claim(task: Task | QueuedTask, principal: str, *, now: datetime, lease_until: datetime) -> Task:
    """Give ``task`` (as read, with its ``claim_seq``) to ``principal`` until ``lease_until``; the task as claimed.

    ConditionFailed when someone changed the task since it was read, or when the caller already holds another
    consensus slot of the same file.
    """
    actions: list[Action] = [
        TaskItem.status.set(TaskStatus.IN_PROGRESS.value),
        TaskItem.assignee.set(principal),
        TaskItem.claim_seq.set(task.claim_seq + 1),
        TaskItem.claimed_at.set(now),
        TaskItem.lease_expires_at.set(lease_until),
        TaskItem.GSI1PK.set(keys.assignee_index_pk(task.project_id, principal)),
        TaskItem.GSI1SK.set(keys.open_index_sk(task.job_id, task.kind.value, task.task_id)),
        TaskItem.GSI2SK.set(keys.queue_sk(lease_until, task.task_id)),
    ]
    # A task in progress goes only to its holder (renewal) or, once the lease ran out, to anyone: the condition
    # states it, so a read that raced a claim can never hand the task to a second person.
    held_by_caller_or_lapsed = (TaskItem.assignee == principal) | (TaskItem.lease_expires_at < now)
    condition = (TaskItem.claim_seq == task.claim_seq) & (
        TaskItem.status.is_in(TaskStatus.AVAILABLE.value, TaskStatus.RESERVED.value)
        | ((TaskItem.status == TaskStatus.IN_PROGRESS.value) & held_by_caller_or_lapsed)
    )
    refusal = f"task {task.task_id} was claimed by someone else"
    if not task.distinct_annotators:
        bind()
        return _task(_conditional_update(task, actions, condition, refusal))  # the item as written: no read after
    mark = AnnotatorMarkItem(
        PK=keys.job_pk(task.project_id, task.job_id),
        SK=keys.annotator_mark_sk(task.file_id, principal),
        kind=AnnotatorMarkItem.KIND,
        task_id=task.task_id,
    )

    def write() -> None:
        with TransactWrite(connection=connection()) as tx:
            tx.update(_key(task), actions=actions, condition=condition)
            tx.save(mark, condition=AnnotatorMarkItem.PK.does_not_exist() | (AnnotatorMarkItem.task_id == task.task_id))

    if not applied(write):
        raise ConditionFailed(refusal)
    claimed = get_task(task.project_id, task.job_id, task.task_id)  # a transaction answers no item
    assert claimed is not None  # noqa: S101 - just written
    return claimed


def holds_slot_of(project_id: str, job_id: str, file_id: str, principal: str) -> bool:
    """Whether ``principal`` already holds (or held) a consensus slot of this file in this job."""
    bind()
    try:
        AnnotatorMarkItem.get(keys.job_pk(project_id, job_id), keys.annotator_mark_sk(file_id, principal))
    except AnnotatorMarkItem.DoesNotExist:
        return False
    return True


def _submitted_fields(task: Task, now: datetime, result: dict[str, Any], submission: list | None) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "status": TaskStatus.SUBMITTED,
        "submitted_at": now,
        "result": result,
        "claim_seq": task.claim_seq + 1,
    }
    if submission is not None:
        fields["submission"] = submission
    return fields


def submission_update(
    task: Task, principal: str, *, now: datetime, result: dict[str, Any], submission: list | None = None
) -> TransactionUpdate:
    """The write that marks ``task`` (held by ``principal``, as read) submitted, for use in a transaction."""
    fields = _submitted_fields(task, now, result, submission)
    actions = [
        getattr(TaskItem, name).set(value.value if isinstance(value, TaskStatus) else value)
        for name, value in fields.items()
    ]
    actions += [
        TaskItem.GSI1SK.set(keys.done_index_sk(task.job_id, task.kind.value, task.task_id)),
        TaskItem.GSI2PK.remove(),
        TaskItem.GSI2SK.remove(),
    ]
    return TransactionUpdate(
        item=_key(task),
        actions=actions,
        condition=(TaskItem.claim_seq == task.claim_seq)
        & (TaskItem.assignee == principal)
        & (TaskItem.status == TaskStatus.IN_PROGRESS.value),
    )


def as_submitted(task: Task, *, now: datetime, result: dict[str, Any], submission: list | None = None) -> Task:
    """``task`` as ``submission_update`` leaves it once written (a transaction returns no item): no read after."""
    return task.model_copy(update=_submitted_fields(task, now, result, submission))


def submit(
    task: Task, principal: str, *, now: datetime, result: dict[str, Any], submission: list | None = None
) -> None:
    """Mark ``task`` submitted by ``principal``; ConditionFailed if it changed hands since it was read."""
    bind()
    update = submission_update(task, principal, now=now, result=result, submission=submission)
    _conditional_update(task, update.actions, update.condition, f"task {task.task_id} is no longer held by {principal}")


def release(task: Task, principal: str, *, now: datetime) -> None:
    """Give a held task back to the queue at once; ConditionFailed if it changed hands since it was read."""
    bind()
    actions: list[Action] = [
        TaskItem.status.set(TaskStatus.AVAILABLE.value),
        TaskItem.assignee.remove(),
        TaskItem.reserved_for.remove(),
        TaskItem.lease_expires_at.remove(),
        TaskItem.claim_seq.set(task.claim_seq + 1),
        TaskItem.GSI1PK.remove(),
        TaskItem.GSI1SK.remove(),
        TaskItem.GSI2SK.set(keys.queue_sk(now, task.task_id)),
    ]
    condition = (TaskItem.claim_seq == task.claim_seq) & (TaskItem.assignee == principal)
    _conditional_update(task, actions, condition, f"task {task.task_id} is no longer held by {principal}")


def cancel_open_tasks(project_id: str, job_id: str, file_id: str) -> None:
    for task in job_tasks(project_id, job_id):
        if task.file_id == file_id and task.is_open:
            _key(task).update(
                actions=[
                    TaskItem.status.set(TaskStatus.CANCELLED.value),
                    TaskItem.GSI2PK.remove(),
                    TaskItem.GSI2SK.remove(),
                    TaskItem.GSI1SK.set(keys.done_index_sk(job_id, task.kind.value, task.task_id)),
                ]
            )


def job_tasks(project_id: str, job_id: str) -> Iterator[Task]:
    bind()
    for item in TaskItem.query(keys.job_pk(project_id, job_id), TaskItem.SK.startswith(keys.TASK_PREFIX)):
        yield _task(item)


def _tasks_listing(project_id: str, job_id: str) -> str:
    return f"job-tasks:{project_id}/{job_id}"


def _start_key(project_id: str, job_id: str, cursor: str) -> dict[str, Any]:
    """The ``ExclusiveStartKey`` a page cursor holds; InvalidCursor unless it is a task key of this job."""
    position = cursors.decode(_tasks_listing(project_id, job_id), cursor)
    try:
        partition, sort = position["PK"]["S"], position["SK"]["S"]
    except (TypeError, KeyError):
        raise cursors.InvalidCursor from None
    if set(position) != {"PK", "SK"} or partition != keys.job_pk(project_id, job_id):
        raise cursors.InvalidCursor
    if not isinstance(sort, str) or not sort.startswith(keys.TASK_PREFIX):
        raise cursors.InvalidCursor
    return position


def page_job_tasks(
    project_id: str, job_id: str, *, status: str | None, kind: str | None, limit: int, cursor: str | None
) -> tuple[list[Task], str | None]:
    """A page of the job's tasks and the cursor of the next (None at the end); InvalidCursor for a cursor that
    is not one of this job's task pages."""
    bind()
    condition = None
    if status:
        condition = TaskItem.status == status
    if kind:
        by_kind = TaskItem.task_kind == kind
        condition = by_kind if condition is None else condition & by_kind
    results = TaskItem.query(
        keys.job_pk(project_id, job_id),
        TaskItem.SK.startswith(keys.TASK_PREFIX),
        filter_condition=condition,
        limit=limit,
        last_evaluated_key=_start_key(project_id, job_id, cursor) if cursor else None,
    )
    tasks = [_task(i) for i in results]
    following = results.last_evaluated_key
    return tasks, cursors.encode(_tasks_listing(project_id, job_id), following) if following else None


def cursor_after(task: Task) -> str:
    """The cursor of the page after ``task`` (a page cut short at its bytes carries on from its last task)."""
    position = {"PK": {"S": keys.job_pk(task.project_id, task.job_id)}, "SK": {"S": keys.task_sk(task.task_id)}}
    return cursors.encode(_tasks_listing(task.project_id, task.job_id), position)
