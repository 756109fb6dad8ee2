"""Labelling jobs: settings, lifecycle, and statistics."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from annolake_service.api.models.paging import NextCursor
from annolake_service.domain.entities import UnreadableRecord
from annolake_service.domain.video.segments import VideoSegmenting
from annolake_service.domain.workflow import Job, JobStatus
from annolake_service.domain.workflow import JobSpec as JobCreate  # the spec a job is created from

__all__ = ["JobCreate", "JobPublic", "JobRedrivePublic", "JobStatsPublic", "JobUpdate", "JobsPublic"]


class JobPublic(BaseModel):
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
    prelabel: str | None = Field(default=None, description="the prediction run annotate tasks start from")
    min_score: float | None = None
    video_segment: VideoSegmenting | None = Field(
        default=None, description="videos are split into annotate tasks of these frames (null: a task per video)"
    )
    status: JobStatus
    launch_status: str = Field(description="not_launched, launching, launched or failed")
    launch_failure: str | None = Field(default=None, description="why the launch failed; POST …/redrive launches again")
    files_total: int
    created_by: str
    created_at: datetime
    launched_at: datetime | None
    completed_at: datetime | None

    @classmethod
    def of(cls, job: Job) -> JobPublic:
        internal = {"spec", "project_id", "dataset_ids", "launch_execution"}
        return cls(**job.spec.model_dump(), **job.model_dump(exclude=internal))


class JobsPublic(BaseModel):
    jobs: list[JobPublic]
    cursor: NextCursor = None
    unreadable: list[UnreadableRecord] = Field(
        default_factory=list, description="jobs whose stored record no longer validates, each with the reason"
    )


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
    prelabel: str | None = Field(default=None, description="while a draft: the prediction run to pre-label from")
    min_score: float | None = Field(default=None, ge=0, le=1)
    video_segment: VideoSegmenting | None = Field(default=None, description="while a draft: how videos are split")
    status: Literal["active", "paused", "archived"] | None = Field(
        default=None, description="pause / resume / archive (a draft becomes active by launching)"
    )


class JobRedrivePublic(BaseModel):
    restarted: list[str] = Field(description="the files whose review workflow was started again")
    relaunched: bool = Field(default=False, description="whether the job's failed launch was started again")


class JobFileFailurePublic(BaseModel):
    file_id: str
    reason: str


class AnnotatorStatsPublic(BaseModel):
    principal: str
    submitted: int
    time_spent_seconds: float
    mean_seconds_per_task: float | None


class ReviewerStatsPublic(BaseModel):
    principal: str
    approved: int
    changes_requested: int


class ReviewStatsPublic(BaseModel):
    reviewed: int
    approved: int
    changes_requested: int
    rejection_rate: float | None


class ConsensusStatsPublic(BaseModel):
    files: int = Field(description="files whose consensus was computed")
    mean_agreement: float | None
    min_agreement: float | None


class PrelabelStatsPublic(BaseModel):
    """What annotators did with one model's drafts (submitted first-round tasks of a pre-labelled job)."""

    model: str
    model_version: int
    run: str
    tasks: int
    offered: int = Field(description="predictions shown as drafts")
    accepted: int = Field(description="kept unchanged (label and geometry)")
    edited: int = Field(description="kept, with the label or geometry changed")
    deleted: int = Field(description="left out of the save")
    drawn: int = Field(description="instances drawn by hand in those tasks")
    acceptance_rate: float | None = Field(description="accepted / offered")
    edit_rate: float | None = Field(description="edited / offered")
    deletion_rate: float | None = Field(description="deleted / offered")


class JobStatsPublic(BaseModel):
    job_id: str
    status: str
    files: dict[str, int] = Field(description="'total' and the number of files in each workflow status")
    failures: list[JobFileFailurePublic] = Field(
        default_factory=list, description="files whose workflow failed, with why (the first 100); POST …/redrive"
    )
    tasks: dict[str, dict[str, int]] = Field(description="per task kind, the number of tasks in each status")
    annotators: list[AnnotatorStatsPublic]
    reviewers: list[ReviewerStatsPublic]
    review: ReviewStatsPublic
    consensus: ConsensusStatsPublic
    prelabel: list[PrelabelStatsPublic] = Field(
        default_factory=list, description="per model, acceptance and edit rates of its pre-labelling drafts"
    )
