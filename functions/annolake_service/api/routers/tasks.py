"""Working tasks: take the next one, read it, submit annotations, review, give back."""

from __future__ import annotations

from fastapi import APIRouter

from annolake_service.api.deps import PROJECT_PATH, CanAnnotateTasks, CanReadJobs, CanReviewTasks
from annolake_service.api.models.errors import PROJECT_ERRORS, error_responses
from annolake_service.api.models.tasks import (
    NextTaskPublic,
    TaskClaim,
    TaskDetailPublic,
    TaskOutcomePublic,
    TaskPublic,
    TaskReview,
    TaskSubmission,
)
from annolake_service.services import tasks

router = APIRouter(prefix=f"{PROJECT_PATH}/tasks", tags=["tasks"], responses=PROJECT_ERRORS)


@router.post("/next")
def next_task(body: TaskClaim, access: CanAnnotateTasks) -> NextTaskPublic:
    """Your task in progress if you have one (its lease renewed), else a newly claimed one, else null."""
    taken = tasks.next_with_draft(
        access.project_id, access.principal.principal_id, access.role, job_id=body.job_id, kind=body.kind
    )
    if taken is None:
        return NextTaskPublic(task=None)
    task, draft = taken
    return NextTaskPublic(task=TaskPublic.model_validate(tasks.public(task)), draft=draft)


@router.get("/{task_id}")
def get_task(task_id: str, access: CanReadJobs) -> TaskDetailPublic:
    """The task, its job's instructions and labels, the file with fresh URLs and its current annotations."""
    return TaskDetailPublic.model_validate(tasks.detail(access.project_id, task_id))


@router.post("/{task_id}/submit", responses=error_responses(400, 409))
def submit_task(task_id: str, body: TaskSubmission, access: CanAnnotateTasks) -> TaskOutcomePublic:
    """409 when the task is not yours (any more) or ``version`` is stale; a repeated submit applies nothing twice."""
    outcome = tasks.submit(
        access.project_id, task_id, access.principal.principal_id, body.instance_list, version=body.version
    )
    return TaskOutcomePublic.model_validate(outcome)


@router.post("/{task_id}/review", responses=error_responses(400, 409))
def review_task(task_id: str, body: TaskReview, access: CanReviewTasks) -> TaskOutcomePublic:
    outcome = tasks.review(
        access.project_id,
        task_id,
        access.principal.principal_id,
        body.decision,
        comment=body.comment,
        send_back_to=body.send_back_to,
    )
    return TaskOutcomePublic.model_validate(outcome)


@router.post("/{task_id}/release", responses=error_responses(409))
def release_task(task_id: str, access: CanAnnotateTasks) -> NextTaskPublic:
    """Give a task you hold back to the queue."""
    return NextTaskPublic.model_validate(tasks.release(access.project_id, task_id, access.principal.principal_id))
