"""Labelling jobs: create, change, launch, re-drive, follow progress and statistics."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from annolake_service.api.deps import PROJECT_PATH, CanManageJobs, CanReadJobs
from annolake_service.api.models.errors import PROJECT_ERRORS, error_responses
from annolake_service.api.models.jobs import (
    JobCreate,
    JobPublic,
    JobRedrivePublic,
    JobsPublic,
    JobStatsPublic,
    JobUpdate,
)
from annolake_service.api.models.tasks import TaskPage
from annolake_service.api.paging import CursorQuery, page_of
from annolake_service.domain.workflow import JobStatus, TaskKind, TaskStatus
from annolake_service.services import jobs, tasks

router = APIRouter(prefix=f"{PROJECT_PATH}/jobs", tags=["jobs"], responses=PROJECT_ERRORS)


@router.get("", responses=error_responses(400))
def list_jobs(access: CanReadJobs, cursor: CursorQuery = None) -> JobsPublic:
    """The project's jobs, newest first; records that no longer validate are listed apart with the reason."""
    readable, unreadable = jobs.listing(access.project_id)
    listed = [JobPublic.of(job) for job in readable]
    page, next_cursor = page_of(
        f"jobs:{access.project_id}", listed, cursor, lambda j: [j.created_at.isoformat(), j.job_id], descending=True
    )
    return JobsPublic(jobs=page, unreadable=unreadable if cursor is None else [], cursor=next_cursor)


@router.post("", status_code=status.HTTP_201_CREATED, responses=error_responses(400))
def create_job(body: JobCreate, access: CanManageJobs) -> JobPublic:
    """A draft job over the named datasets; launch it to create its tasks."""
    return JobPublic.of(jobs.create_job(access.project_id, body, author=access.principal.principal_id))


@router.get("/{job_id}", responses=error_responses(409))
def get_job(job_id: str, access: CanReadJobs) -> JobPublic:
    """409 ``stored_record_invalid`` when the job's stored settings no longer pass today's checks."""
    return JobPublic.of(jobs.describe_job(access.project_id, job_id))


@router.patch("/{job_id}", responses=error_responses(400, 409))
def update_job(job_id: str, body: JobUpdate, access: CanManageJobs) -> JobPublic:
    """409 when a setting fixed at launch changes, the status cannot follow, or the job changed meanwhile."""
    changes = body.model_dump(exclude_unset=True, exclude={"status"})
    new_status = JobStatus(body.status) if body.status else None
    return JobPublic.of(jobs.update_job(access.project_id, job_id, changes=changes, status=new_status))


@router.post("/{job_id}/launch", status_code=status.HTTP_202_ACCEPTED, responses=error_responses(400, 409))
def launch_job(job_id: str, access: CanManageJobs) -> JobPublic:
    """Active at once; every file of the job's datasets gets its review workflow (a Step Functions Map)."""
    return JobPublic.of(jobs.launch(access.project_id, job_id))


@router.post("/{job_id}/redrive", status_code=status.HTTP_202_ACCEPTED, responses=error_responses(409))
def redrive_job(job_id: str, access: CanManageJobs) -> JobRedrivePublic:
    """Restart the review workflow of every file whose workflow failed."""
    return JobRedrivePublic.model_validate(jobs.redrive(access.project_id, job_id))


@router.get("/{job_id}/stats", responses=error_responses(409))
def job_stats(job_id: str, access: CanReadJobs) -> JobStatsPublic:
    """Files and tasks by status, per-annotator work and time, review rejection rate, consensus agreement."""
    return JobStatsPublic.model_validate(jobs.stats(access.project_id, job_id))


@router.get("/{job_id}/tasks", tags=["tasks"], responses=error_responses(400, 409))
def list_job_tasks(
    job_id: str,
    access: CanReadJobs,
    status: TaskStatus | None = None,
    kind: TaskKind | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: CursorQuery = None,
) -> TaskPage:
    """The job's tasks in task id order; a page ends at ``limit`` or at the byte limit, whichever first."""
    page = tasks.list_tasks(
        access.project_id,
        job_id,
        status=status.value if status else None,
        kind=kind.value if kind else None,
        limit=limit,
        cursor=cursor,
    )
    return TaskPage.model_validate(page)
