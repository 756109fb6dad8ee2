"""Labelling jobs: create, change, launch, re-drive, follow progress and statistics."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, status
from pydantic import BaseModel, Field

from annolake_service.api import views
from annolake_service.api.deps import ProjectAccess, require
from annolake_service.api.routers.tasks import TaskView
from annolake_service.domain.permissions import Action
from annolake_service.domain.workflow import Job, JobSpec, JobStatus, TaskKind, TaskStatus
from annolake_service.services import jobs, tasks

router = APIRouter(tags=["jobs"])
P = "/projects/{project_string_id}/jobs"


class JobView(BaseModel):
    job_id: str
    name: str
    instructions: str
    label_names: list[str]
    datasets: list[str]
    mode: Literal["sync", "copy_once"]
    annotators: list[str]
    reviewers: list[str]
    review_rate: float
    consensus: int
    task_timeout_seconds: int
    agreement_threshold: float
    status: JobStatus
    launch_status: str
    files_total: int
    created_by: str
    created_at: datetime
    launched_at: datetime | None
    completed_at: datetime | None

    @classmethod
    def of(cls, job: Job) -> JobView:
        return cls(**job.spec.model_dump(), **job.model_dump(exclude={"spec", "project_id", "dataset_ids"}))


class JobList(BaseModel):
    jobs: list[JobView]


class JobUpdate(BaseModel):
    """Any job setting (only name, instructions, timeout and review settings once launched) and/or a status."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    instructions: str | None = Field(default=None, max_length=20_000)
    label_names: list[str] | None = None
    datasets: list[str] | None = None
    mode: Literal["sync", "copy_once"] | None = None
    annotators: list[str] | None = None
    reviewers: list[str] | None = None
    review_rate: float | None = Field(default=None, ge=0, le=1)
    consensus: int | None = Field(default=None, ge=1, le=5)
    task_timeout_seconds: int | None = Field(default=None, ge=1, le=7 * 24 * 3600)
    agreement_threshold: float | None = Field(default=None, ge=0, le=1)
    status: Literal["active", "paused", "archived"] | None = Field(
        default=None, description="pause / resume / archive (a draft becomes active by launching)"
    )


class TaskPage(BaseModel):
    tasks: list[TaskView]
    cursor: str | None


@router.get(P)
def list_jobs(access: Annotated[ProjectAccess, Depends(require(Action.JOB_READ))]) -> JobList:
    return JobList(jobs=[JobView.of(j) for j in jobs.list_jobs(access.project_id)])


@router.post(P, status_code=status.HTTP_201_CREATED)
def create_job(body: JobSpec, access: Annotated[ProjectAccess, Depends(require(Action.JOB_MANAGE))]) -> JobView:
    return JobView.of(jobs.create_job(access.project_id, body, author=access.principal.principal_id))


@router.get(P + "/{job_id}")
def get_job(job_id: str, access: Annotated[ProjectAccess, Depends(require(Action.JOB_READ))]) -> JobView:
    return JobView.of(jobs.get_job(access.project_id, job_id))


@router.patch(P + "/{job_id}")
def update_job(
    job_id: str, body: JobUpdate, access: Annotated[ProjectAccess, Depends(require(Action.JOB_MANAGE))]
) -> JobView:
    changes = body.model_dump(exclude_unset=True, exclude={"status"})
    new_status = JobStatus(body.status) if body.status else None
    return JobView.of(jobs.update_job(access.project_id, job_id, changes=changes, status=new_status))


@router.post(P + "/{job_id}/launch", status_code=status.HTTP_202_ACCEPTED)
def launch_job(job_id: str, access: Annotated[ProjectAccess, Depends(require(Action.JOB_MANAGE))]) -> JobView:
    """Active at once; every file of the job's datasets gets its review workflow (a Step Functions Map)."""
    return JobView.of(jobs.launch(access.project_id, job_id))


@router.post(P + "/{job_id}/redrive", status_code=status.HTTP_202_ACCEPTED)
def redrive_job(
    job_id: str, access: Annotated[ProjectAccess, Depends(require(Action.JOB_MANAGE))]
) -> dict[str, list[str]]:
    """Restart the review workflow of every file whose workflow failed."""
    return jobs.redrive(access.project_id, job_id)


@router.get(P + "/{job_id}/stats", response_model=views.JobStats)
def job_stats(job_id: str, access: Annotated[ProjectAccess, Depends(require(Action.JOB_READ))]) -> dict[str, Any]:
    """Files and tasks by status, per-annotator work and time, review rejection rate, consensus agreement."""
    return jobs.stats(access.project_id, job_id)


@router.get(P + "/{job_id}/tasks")
def list_job_tasks(
    job_id: str,
    access: Annotated[ProjectAccess, Depends(require(Action.JOB_READ))],
    status: TaskStatus | None = None,
    kind: TaskKind | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: str | None = None,
) -> TaskPage:
    page = tasks.list_tasks(
        access.project_id,
        job_id,
        status=status.value if status else None,
        kind=kind.value if kind else None,
        limit=limit,
        cursor=cursor,
    )
    return TaskPage(tasks=[TaskView(**t) for t in page["tasks"]], cursor=page["cursor"])
