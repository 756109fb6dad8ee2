"""Working tasks: take the next one, read it, submit annotations, review, give back."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from annolake_service.api import views
from annolake_service.api.deps import ProjectAccess, require
from annolake_service.domain.permissions import Action
from annolake_service.domain.workflow import TaskKind, TaskStatus
from annolake_service.services import tasks

router = APIRouter(tags=["tasks"])
P = "/projects/{project_string_id}/tasks"


class TaskView(BaseModel):
    task_id: str
    job_id: str
    file_id: str
    kind: TaskKind
    slot: int
    round: int
    status: TaskStatus
    assignee: str | None
    reserved_for: str | None
    excluded: list[str]
    authors: list[str]
    comment: str | None = Field(description="what the reviewer asked to change (a task sent back)")
    created_at: datetime
    claimed_at: datetime | None
    lease_expires_at: datetime | None
    submitted_at: datetime | None
    result: dict[str, Any] | None
    distinct_annotators: bool
    claim_seq: int
    project_id: str


class NextRequest(BaseModel):
    job_id: str | None = Field(default=None, description="only this job; default: every active job")
    kind: TaskKind | None = Field(default=None, description="only this kind; default: reviews first, then annotation")


class NextTask(BaseModel):
    task: TaskView | None = Field(description="null when there is nothing for you right now")


class Submission(BaseModel):
    instance_list: list[dict[str, Any]] = Field(description="the file's full instance list (packet shape)")
    version: int | None = Field(
        default=None, ge=0, description="the annotation version you started from; a stale one gets 409"
    )


class ReviewAnswer(BaseModel):
    decision: Literal["approve", "request_changes"]
    comment: str = Field(default="", max_length=5000, description="required when requesting changes")
    send_back_to: str | None = Field(
        default=None, description="with consensus: which annotator fixes it (default: the one who agreed least)"
    )


class TaskOutcome(BaseModel):
    task: TaskView
    already_submitted: bool = Field(description="true when this repeated an earlier submit (nothing applied twice)")
    version: int | None = None


class TaskDetail(BaseModel):
    task: TaskView
    job: views.TaskJobSummary
    file: views.FileView
    version: int
    instance_list: list[dict[str, Any]]
    submissions: list[views.AnnotatorSubmission]
    agreement: float | None


@router.post(P + "/next")
def next_task(body: NextRequest, access: Annotated[ProjectAccess, Depends(require(Action.TASK_ANNOTATE))]) -> NextTask:
    """Your task in progress if you have one (its lease renewed), else a newly claimed one, else null."""
    task = tasks.next_task(
        access.project_id, access.principal.principal_id, access.role, job_id=body.job_id, kind=body.kind
    )
    return NextTask(task=TaskView(**tasks.public(task)) if task else None)


@router.get(P + "/{task_id}")
def get_task(task_id: str, access: Annotated[ProjectAccess, Depends(require(Action.JOB_READ))]) -> TaskDetail:
    return TaskDetail(**tasks.detail(access.project_id, task_id))


@router.post(P + "/{task_id}/submit")
def submit_task(
    task_id: str, body: Submission, access: Annotated[ProjectAccess, Depends(require(Action.TASK_ANNOTATE))]
) -> TaskOutcome:
    return TaskOutcome(
        **tasks.submit(
            access.project_id, task_id, access.principal.principal_id, body.instance_list, version=body.version
        )
    )


@router.post(P + "/{task_id}/review")
def review_task(
    task_id: str, body: ReviewAnswer, access: Annotated[ProjectAccess, Depends(require(Action.TASK_REVIEW))]
) -> TaskOutcome:
    return TaskOutcome(
        **tasks.review(
            access.project_id,
            task_id,
            access.principal.principal_id,
            body.decision,
            comment=body.comment,
            send_back_to=body.send_back_to,
        )
    )


@router.post(P + "/{task_id}/release")
def release_task(task_id: str, access: Annotated[ProjectAccess, Depends(require(Action.TASK_ANNOTATE))]) -> NextTask:
    """Give a task you hold back to the queue."""
    return NextTask(**tasks.release(access.project_id, task_id, access.principal.principal_id))
