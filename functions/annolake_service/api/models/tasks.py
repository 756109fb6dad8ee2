"""Tasks: claim the next one, read it, submit annotations, review, give back."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from annolake_service.api.models.files import FilePublic
from annolake_service.domain.workflow import TaskKind, TaskStatus


class TaskPublic(BaseModel):
    task_id: str
    job_id: str
    file_id: str
    kind: TaskKind
    slot: int = Field(description="the consensus slot, or a video segment task's segment number")
    round: int
    frame_start: int | None = Field(default=None, description="a video segment task: its first frame")
    frame_end: int | None = Field(default=None, description="a video segment task: its last frame (inclusive)")
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


class TaskPage(BaseModel):
    tasks: list[TaskPublic]
    cursor: str | None


class TaskClaim(BaseModel):
    job_id: str | None = Field(default=None, description="only this job; default: every active job")
    kind: TaskKind | None = Field(default=None, description="only this kind; default: reviews first, then annotation")


class DraftPublic(BaseModel):
    """A pre-labelled job's draft: the run's predictions of the file the annotator starts from. Send the ones you
    keep back with their ``prediction`` (changed or not); the saved version records each as ``accepted`` or
    ``edited``. Nothing is stored until you submit."""

    run_id: str
    model: str
    model_version: int
    min_score: float | None
    instance_list: list[dict[str, Any]] = Field(
        description="instances with source 'model' and prediction {run, index, model, version, score}"
    )


class NextTaskPublic(BaseModel):
    task: TaskPublic | None = Field(description="null when there is nothing for you right now")
    draft: DraftPublic | None = Field(default=None, description="the task's draft when its job pre-labels")


class TaskSubmission(BaseModel):
    instance_list: list[dict[str, Any]] = Field(
        description="the file's full instance list (packet shape); a video segment task: its tracks and frame tags, "
        "merged into the file by its frames"
    )
    version: int | None = Field(
        default=None, ge=0, description="the annotation version you started from; a stale one gets 409"
    )


class TaskReview(BaseModel):
    decision: Literal["approve", "request_changes"]
    comment: str = Field(default="", max_length=5000, description="required when requesting changes")
    send_back_to: str | None = Field(
        default=None, description="with consensus: which annotator fixes it (default: the one who agreed least)"
    )


class TaskOutcomePublic(BaseModel):
    task: TaskPublic
    already_submitted: bool = Field(description="true when this repeated an earlier submit (nothing applied twice)")
    version: int | None = None


class TaskJobSummaryPublic(BaseModel):
    job_id: str
    name: str
    instructions: str
    label_names: list[str]
    consensus: int


class AnnotatorSubmissionPublic(BaseModel):
    task_id: str
    annotator: str | None
    round: int
    instance_list: list[dict[str, Any]]


class TaskDetailPublic(BaseModel):
    task: TaskPublic
    job: TaskJobSummaryPublic
    file: FilePublic
    version: int
    instance_list: list[dict[str, Any]]
    draft: DraftPublic | None = Field(
        default=None, description="with a pre-labelling job, the predictions this task starts from (not yet saved)"
    )
    submissions: list[AnnotatorSubmissionPublic]
    agreement: float | None
