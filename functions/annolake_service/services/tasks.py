"""Task use cases people drive: take the next task, read it, submit it, review it, give it back.

Submitting or reviewing a task hands its result to the file's review workflow (``send_task_success`` with
the token kept in the task's item); the workflow then opens the next task or completes the file. A submit
that leaves nothing to merge or review (``completed_by_submit``) completes the file in its own write, and the
workflow only ends.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from annolake_service.adapters import workflows
from annolake_service.adapters.dynamo import files as file_repo
from annolake_service.adapters.dynamo import jobs as job_repo
from annolake_service.adapters.dynamo import tasks as task_repo
from annolake_service.adapters.dynamo.conditions import ConditionFailed, TransactionUpdate
from annolake_service.adapters.dynamo.cursors import InvalidCursor
from annolake_service.domain.permissions import Action, can
from annolake_service.domain.roles import Role
from annolake_service.domain.video import segments
from annolake_service.domain.workflow import (
    Job,
    QueuedTask,
    ReviewDecision,
    Task,
    TaskKind,
    TaskStatus,
    completed_by_submit,
    hands_out_tasks,
    in_queue_share,
    job_of_task,
    lease_end,
    may_take,
    review_sampled,
)
from annolake_service.services import annotations as annotation_service
from annolake_service.services import files, jobs, page_bytes, prelabels, segment_saves
from annolake_service.shared.errors import BadRequest, Conflict, NotFound
from annolake_service.shared.kept import Kept, KeptLists
from annolake_service.shared.observability import logger
from annolake_service.shared.settings import get_settings

QUEUE_WINDOW = 25  # candidates read per job and kind; claims race over a shuffled window, not one head
QUEUE_READS = 8  # windows read per job and kind when others keep taking every task of the one read
WINDOW_TTL_SECONDS = 1.0  # how long a window read is handed out by this process (``_claim_from_queue``)
TASK_FILE_TTL_SECONDS = 3600.0  # how long a task's file is kept for its submit (later, it reads as elsewhere)


def _in_share(task: QueuedTask) -> bool:
    return in_queue_share(task.task_id, get_settings().queue_share_of)


_windows: KeptLists[QueuedTask] = KeptLists(WINDOW_TTL_SECONDS, prefer=_in_share)
#: each task this process handed out or described, by id: its file (which never changes), for the task's submit
#: to read the task, its job and what the save checks in one request (``_load_for_submit``)
_task_files: Kept[str] = Kept(TASK_FILE_TTL_SECONDS, maxsize=16_384)


def _now() -> datetime:
    return datetime.now(UTC)


def load(project_id: str, task_id: str) -> Task:
    job_id = job_of_task(task_id)
    task = task_repo.get_task(project_id, job_id, task_id) if job_id else None
    if task is None:
        raise NotFound(f"task {task_id!r} not found in project {project_id!r}")
    return task


def load_with_job(project_id: str, task_id: str) -> tuple[Task, Job]:
    """The task and its job, read in one request."""
    job_id = job_of_task(task_id)
    task, job = task_repo.get_task_with_job(project_id, job_id, task_id) if job_id else (None, None)
    if task is None:
        raise NotFound(f"task {task_id!r} not found in project {project_id!r}")
    if job is None:
        raise NotFound(f"job {task.job_id!r} not found in project {project_id!r}")
    return task, job


def _load_for_submit(project_id: str, task_id: str) -> tuple[Task, Job, file_repo.ForSave | None]:
    """``load_with_job``, and what saving the task's file checks when this process knows the file (None when it
    does not: the save reads it)."""
    file_id = _task_files.get(task_id, lambda: None)
    job_id = job_of_task(task_id)
    if file_id is None or job_id is None:
        return (*load_with_job(project_id, task_id), None)
    task, job, for_save = task_repo.get_task_with_job_and_file(project_id, job_id, task_id, file_id)
    if task is None:
        raise NotFound(f"task {task_id!r} not found in project {project_id!r}")
    if job is None:
        raise NotFound(f"job {task.job_id!r} not found in project {project_id!r}")
    return task, job, for_save if task.file_id == file_id else None


def _handed_out(task: Task) -> Task:
    _task_files.keep(task.task_id, task.file_id)
    return task


# --- next ---------------------------------------------------------------------------------


def next_task(
    project_id: str, caller: str, role: Role, *, job_id: str | None = None, kind: TaskKind | None = None
) -> Task | None:
    """The caller's task in progress (its lease renewed), else a newly claimed one, else None."""
    taken = _next(project_id, caller, role, job_id=job_id, kind=kind)
    return _handed_out(taken[0]) if taken else None


def next_with_draft(
    project_id: str, caller: str, role: Role, *, job_id: str | None = None, kind: TaskKind | None = None
) -> tuple[Task, dict[str, Any] | None] | None:
    """``next_task`` and the task's pre-labelled draft (None unless the job pre-labels), made from the job the
    claim read: no second read of it."""
    taken = _next(project_id, caller, role, job_id=job_id, kind=kind)
    if taken is None:
        return None
    task, job = taken
    return _handed_out(task), _draft(job, task)


def _next(
    project_id: str, caller: str, role: Role, *, job_id: str | None, kind: TaskKind | None
) -> tuple[Task, Job] | None:
    candidates = [jobs.job_for_claims(project_id, job_id)] if job_id is not None else jobs.list_jobs(project_id)
    working = {j.job_id: j for j in candidates if hands_out_tasks(j.status)}
    kinds = [kind] if kind else [TaskKind.REVIEW, TaskKind.ANNOTATE]  # reviews first: they finish files
    can_review = can(role, Action.TASK_REVIEW)
    now = _now()

    for held in task_repo.open_tasks_of(project_id, caller):
        job = working.get(held.job_id)
        if job is None or held.kind not in kinds:
            continue
        try:
            return _claim(held, job, caller, now), job
        except ConditionFailed:
            continue  # taken over at this very moment: look further

    for wanted in kinds:
        for job in sorted(working.values(), key=lambda j: j.created_at):
            allowed = may_take(
                kind=wanted,
                caller=caller,
                excluded=(),
                annotators=job.spec.annotators,
                reviewers=job.spec.reviewers,
                caller_can_review=can_review,
            )
            if not allowed:
                continue
            claimed = _claim_from_queue(job, wanted, caller, now)
            if claimed is not None:
                return claimed, job
    return None


def _claim_from_queue(job: Job, kind: TaskKind, caller: str, now: datetime) -> Task | None:
    """A task of the job's queue for ``caller``, or None when none is left for them.

    Claims race over a window of the queue's head, each taking one of its tasks at random. A window read is
    kept by this process for ``WINDOW_TTL_SECONDS`` and its tasks handed to this process's claims one each, so
    a burst of ``next`` reads the queue once, not once per claim. A claim is conditional on the task as read:
    one taken elsewhere meanwhile is refused and dropped, and a task that became claimable since the window
    was read waits at most that long. When others took every task of a window, those tasks have left the
    queue, so the next read shows the ones behind them: stopping there would tell the caller there is nothing
    while tasks wait.

    One claim of a process reads at a time; the others wait for its window. Processes given shares of the queue
    (``QUEUE_SHARE``) take their share's tasks of a window, as the others are what the other processes take
    from the same window: when none is left they read a new one, and take another share's task only from a
    window that holds none of theirs, or one they just read that holds none for this caller (no task waits for
    its share's process).
    """
    key = (job.project_id, job.job_id, kind)
    tried: set[str] = set()

    def fits(task: QueuedTask) -> bool:
        return task.task_id not in tried and caller not in task.excluded

    read_now = False  # whether this claim read the kept window itself: then any of its tasks will do
    for reads in range(QUEUE_READS + 1):
        while (task := _windows.take(key, fits, settle=read_now)) is not None:
            try:
                return _claim(task, job, caller, now)
            except ConditionFailed:  # taken elsewhere, or not for this caller (a consensus sibling of their slot)
                tried.add(task.task_id)
                _windows.refused(task)
        if reads == QUEUE_READS:
            break
        with _windows.reading(key) as read_now:  # the process's other claims wait for this read, not make their own
            if not read_now:
                continue  # another claim read one while this one waited
            window = task_repo.claimable(job.project_id, job.job_id, kind, now, QUEUE_WINDOW)
            if not any(fits(t) for t in window):
                return None
            _windows.keep(key, window)
    return None


def _claim(task: Task | QueuedTask, job: Job, caller: str, now: datetime) -> Task:
    return task_repo.claim(task, caller, now=now, lease_until=lease_end(now, job.spec.task_timeout_seconds))


# --- reading a task -----------------------------------------------------------------------


def detail(project_id: str, task_id: str) -> dict[str, Any]:
    """What the person working the task needs: the task, the job's instructions and labels, the file with
    short-lived URLs, its current annotations (a video segment task: what its frames show); for a review, each
    annotator's submission as well."""
    task = _handed_out(load(project_id, task_id))
    job = jobs.get_job(project_id, task.job_id)
    record = files.get_file(project_id, task.file_id)
    current = annotation_service.get_annotations(project_id, task.file_id)
    if task.segment is not None:
        current["instance_list"] = segments.view(current["instance_list"], task.segment)
    body: dict[str, Any] = {
        "task": public(task),
        "job": {
            "job_id": job.job_id,
            "name": job.spec.name,
            "instructions": job.spec.instructions,
            "label_names": job.spec.label_names,
            "consensus": job.spec.consensus,
        },
        "file": files.describe(record),
        "version": current["version"],
        "instance_list": current["instance_list"],
        "draft": prelabels.draft(job, task, current["instance_list"]),
        "submissions": [],
        "agreement": None,
    }
    if task.kind is TaskKind.REVIEW or job.spec.consensus > 1:
        body["submissions"] = [
            {"task_id": t.task_id, "annotator": t.assignee, "round": t.round, "instance_list": t.submission or []}
            for t in task_repo.job_tasks(project_id, task.job_id)
            if t.file_id == task.file_id
            and t.kind is TaskKind.ANNOTATE
            and t.status is TaskStatus.SUBMITTED
            and (task.segment is None or t.slot == task.slot)
        ]
        job_file = job_repo.get_job_file(project_id, task.job_id, task.file_id)
        body["agreement"] = job_file.agreement if job_file else None
    return body


def _draft(job: Job, task: Task) -> dict[str, Any] | None:
    """A pre-labelled job's draft for the task (None for other tasks); not stored until the annotator saves."""
    if job.spec.prelabel is None:
        return None
    current = annotation_service.get_annotations(task.project_id, task.file_id)["instance_list"]
    return prelabels.draft(job, task, current)


def public(task: Task) -> dict[str, Any]:
    """A task as the API shows it: no token, no stored submission (``detail`` lists those)."""
    return task.model_dump(mode="json", exclude={"submission"})


# --- finishing a task ---------------------------------------------------------------------


def _held_by(task: Task, caller: str, job: Job) -> Task:
    """The task as held by ``caller`` (a reservation for them is claimed now); Conflict otherwise."""
    if task.status is TaskStatus.RESERVED and task.reserved_for == caller:
        return _claim(task, job, caller, _now())
    if task.status is TaskStatus.IN_PROGRESS and task.assignee == caller:
        return task
    if task.status is TaskStatus.CANCELLED:
        raise Conflict(f"task {task.task_id} was cancelled")
    if task.assignee and task.assignee != caller:
        raise Conflict(
            f"task {task.task_id} is held by {task.assignee} (a claim that runs past the job's task timeout "
            "is handed on to the next person who asks)",
            details={"assignee": task.assignee},
        )
    raise Conflict(f"task {task.task_id} is not yours: take it with POST /tasks/next first")


def _resume(task: Task, output: dict[str, Any]) -> None:
    """Hand the result to the waiting workflow; a token already used (a repeated submit) is fine."""
    if not task.task_token:
        raise Conflict(f"task {task.task_id} has no workflow waiting on it")
    try:
        workflows.send_task_success(task.task_token, output)
    except workflows.TaskTokenGone:
        # A repeated submit (the workflow moved on) or a workflow that is gone: resume_file tells them apart.
        resumed = jobs.resume_file(task.project_id, task.job_id, task.file_id)
        logger.info("workflow no longer waits on this task", extra={"task_id": task.task_id, "resumed": resumed})


def _state(task: Task) -> dict[str, Any]:
    state = {
        "project_id": task.project_id,
        "job_id": task.job_id,
        "file_id": task.file_id,
        "round": task.round,
        "slot": task.slot,
        "task_id": task.task_id,
    }
    if task.segment is not None:
        state |= {"frame_start": task.segment.start, "frame_end": task.segment.end}
    return state


def submit(
    project_id: str, task_id: str, caller: str, instance_list: list[dict[str, Any]], *, version: int | None = None
) -> dict[str, Any]:
    """Save an annotate task's work (once) and move the file's workflow on."""
    task, job, for_save = _load_for_submit(project_id, task_id)
    if task.kind is not TaskKind.ANNOTATE:
        raise BadRequest(f"task {task_id} is a review: answer it with POST /tasks/{task_id}/review")
    if task.status is TaskStatus.SUBMITTED:
        if task.assignee != caller:
            raise Conflict(f"task {task_id} was already submitted by {task.assignee}")
        _resume(task, _annotated_output(task, caller, job))
        return {"task": public(task), "already_submitted": True, "version": (task.result or {}).get("version")}
    task = _held_by(task, caller, job)
    now = _now()
    completes = _completes(task, job)
    if task.distinct_annotators:
        # One of several consensus slots: the work is kept on the task; the workflow consolidates the slots.
        record = annotation_service.live_file(project_id, task.file_id)
        checked = annotation_service.validate_instances(
            project_id,
            instance_list,
            width=record.width or 0,
            height=record.height or 0,
            create_labels=False,
            frame_count=annotation_service.frame_count_of(record),
        )
        checked = prelabels.stamp(project_id, task.file_id, checked)  # a bad prediction named fails now, not later
        try:
            task_repo.submit(task, caller, now=now, result={"version": None}, submission=checked)
        except ConditionFailed:
            raise Conflict(f"task {task_id} is no longer yours (its lease ran out and it was handed on)") from None
        saved_version = None
        submitted = task_repo.as_submitted(task, now=now, result={"version": None}, submission=checked)
    elif task.segment is not None:
        try:
            saved = segment_saves.save(
                project_id,
                task.file_id,
                task.segment,
                instance_list=instance_list,
                started_from=version,
                author=caller,
                task_id=task_id,
                alongside=lambda new_version: task_repo.submission_update(
                    task, caller, now=now, result={"version": new_version}, submission=instance_list
                ),
            )
        except ConditionFailed:
            raise Conflict(f"task {task_id} is no longer yours (its lease ran out and it was handed on)") from None
        saved_version = saved["version"]
        submitted = task_repo.as_submitted(task, now=now, result={"version": saved_version}, submission=instance_list)
    else:
        outcome: dict[str, Any] | None = None  # what became of a pre-labelled draft
        if job.spec.prelabel is not None:
            current = annotation_service.get_annotations(project_id, task.file_id)
            version = current["version"] if version is None else version
            offered = prelabels.draft(job, task, current["instance_list"])
            if offered is not None:
                outcome = prelabels.outcome(offered, _stamped(project_id, task.file_id, instance_list))

        def result_of(new_version: int) -> dict[str, Any]:
            result: dict[str, Any] = {"version": new_version}
            if outcome is not None:
                result["prelabel"] = outcome
            return result

        def updates(new_version: int) -> list[TransactionUpdate]:
            submitted = task_repo.submission_update(
                task, caller, now=now, result=result_of(new_version), submission=instance_list
            )
            if not completes:
                return [submitted]
            return [submitted, job_repo.completion_update(project_id, task.job_id, task.file_id, now=now)]

        try:
            saved = annotation_service.save_annotations(
                project_id,
                task.file_id,
                expected_version=version,
                instance_list=instance_list,
                author=caller,
                task_id=task_id,
                alongside=updates,
                read=for_save,
            )
        except ConditionFailed:
            raise Conflict(f"task {task_id} is no longer yours (its lease ran out and it was handed on)") from None
        saved_version = saved["version"]
        submitted = task_repo.as_submitted(task, now=now, result=result_of(saved_version), submission=instance_list)
    _resume(submitted, _annotated_output(submitted, caller, job))
    return {"task": public(submitted), "already_submitted": False, "version": saved_version}


def _completes(task: Task, job: Job) -> bool:
    """Whether submitting ``task`` completes its file (``completed_by_submit``; a consensus slot never does)."""
    return not task.distinct_annotators and completed_by_submit(
        kind=task.kind,
        round_=task.round,
        segmented=task.segment is not None,
        consensus=job.spec.consensus,
        review_rate=job.spec.review_rate,
        job_id=task.job_id,
        file_id=task.file_id,
    )


def _stamped(project_id: str, file_id: str, instance_list: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The instances as the save will store them (checked, sources set), to tell what became of a draft."""
    record = annotation_service.live_file(project_id, file_id)
    checked = annotation_service.validate_instances(
        project_id, instance_list, width=record.width or 0, height=record.height or 0, create_labels=False
    )
    return prelabels.stamp(project_id, file_id, checked)


def hand_over_result(task: Task) -> None:
    """Resume the workflow with a submitted task's recorded outcome (for steps that run again)."""
    if task.kind is TaskKind.REVIEW:
        _resume(task, _reviewed_output(task))
    else:
        _resume(task, _annotated_output(task, str(task.assignee), jobs.get_job(task.project_id, task.job_id)))


def _annotated_output(task: Task, annotator: str, job: Job) -> dict[str, Any]:
    """What an annotate task hands its workflow; ``review``: a video segment sampled for its own review;
    ``completed``: the submit completed the file (the workflow ends)."""
    review = False
    if task.segment is not None:
        review = review_sampled(task.job_id, task.file_id, job.spec.review_rate, segment=task.slot)
    return {
        **_state(task),
        "annotator": annotator,
        "authors": sorted({*task.authors, annotator}),
        "review": review,
        "completed": _completes(task, job),
    }


def review(
    project_id: str,
    task_id: str,
    caller: str,
    decision: ReviewDecision,
    *,
    comment: str = "",
    send_back_to: str | None = None,
) -> dict[str, Any]:
    """Approve the file's annotations, or send them back with a comment to the annotator who made them."""
    task, job = load_with_job(project_id, task_id)
    if task.kind is not TaskKind.REVIEW:
        raise BadRequest(f"task {task_id} is an annotation task: submit it with POST /tasks/{task_id}/submit")
    if decision == "request_changes" and not comment.strip():
        raise BadRequest("requesting changes needs a comment that tells the annotator what to fix")
    if caller in task.excluded:
        raise Conflict("you annotated this file: someone else must review it")
    if task.status is TaskStatus.SUBMITTED:
        if task.assignee != caller:
            raise Conflict(f"task {task_id} was already reviewed by {task.assignee}")
        _resume(task, _reviewed_output(task))
        return {"task": public(task), "already_submitted": True}
    task = _held_by(task, caller, job)
    annotator = None
    if decision == "request_changes":
        annotator = send_back_to or _rework_annotator(task)
        if annotator not in task.authors:
            raise BadRequest(f"{annotator} did not annotate this file; send it back to one of {task.authors}")
    result = {"decision": decision, "comment": comment.strip() or None, "send_back_to": annotator}
    try:
        task_repo.submit(task, caller, now=_now(), result=result)
    except ConditionFailed:
        raise Conflict(f"task {task_id} is no longer yours (its lease ran out and it was handed on)") from None
    reviewed = task_repo.get_task(project_id, task.job_id, task_id)
    assert reviewed is not None  # noqa: S101
    _resume(reviewed, _reviewed_output(reviewed))
    return {"task": public(reviewed), "already_submitted": False}


def _rework_annotator(task: Task) -> str:
    """Whose work goes back: the latest round's annotator, or with consensus the one who agreed least."""
    submitted = [
        t
        for t in task_repo.job_tasks(task.project_id, task.job_id)
        if t.file_id == task.file_id
        and t.kind is TaskKind.ANNOTATE
        and t.status is TaskStatus.SUBMITTED
        and (task.segment is None or t.slot == task.slot)  # a segment's review sends back that segment
    ]
    if not submitted:
        raise Conflict("no submitted annotation task to send back")
    latest = max(t.round for t in submitted)
    candidates = [t for t in submitted if t.round == latest]
    job_file = job_repo.get_job_file(task.project_id, task.job_id, task.file_id)
    scores = job_file.per_annotator if job_file else {}
    chosen = min(candidates, key=lambda t: (scores.get(t.assignee, 1.0) if t.assignee else 1.0, t.slot))
    return str(chosen.assignee)


def _reviewed_output(task: Task) -> dict[str, Any]:
    result = task.result or {}
    return {
        **_state(task),
        "authors": task.authors,
        "decision": result.get("decision"),
        "comment": result.get("comment"),
        "send_back_to": result.get("send_back_to"),
        "next_round": task.round + 1,
    }


def release(project_id: str, task_id: str, caller: str) -> dict[str, Any]:
    task = load(project_id, task_id)
    if task.assignee != caller or task.status not in (TaskStatus.IN_PROGRESS, TaskStatus.RESERVED):
        raise Conflict(f"task {task_id} is not held by you")
    try:
        task_repo.release(task, caller, now=_now())
    except ConditionFailed:
        raise Conflict(f"task {task_id} changed meanwhile") from None
    _windows.forget((project_id, task.job_id, task.kind))  # back in the queue: this process's next claim sees it
    return {"task": public(load(project_id, task_id))}


def forget_windows() -> None:
    """Read every queue again on its next claim."""
    _windows.forget()


def list_tasks(
    project_id: str, job_id: str, *, status: str | None, kind: str | None, limit: int, cursor: str | None
) -> dict[str, Any]:
    jobs.get_job(project_id, job_id)
    try:
        page, next_cursor = task_repo.page_job_tasks(
            project_id, job_id, status=status, kind=kind, limit=limit, cursor=cursor
        )
    except InvalidCursor as exc:
        raise BadRequest(str(exc)) from None
    bodies, cut = page_bytes.take(public(t) for t in page)
    if cut:  # the page ends at its byte budget: the next one starts after the last task it holds
        next_cursor = task_repo.cursor_after(page[len(bodies) - 1])
    return {"tasks": bodies, "cursor": next_cursor}
