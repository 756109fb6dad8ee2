"""Human workflow rules: jobs, tasks and their life cycle, review sampling, reviewer choice, leases.

A **job** watches datasets; every file in them gets one review-workflow execution (Step Functions), which
creates **tasks** and waits on their task tokens:

    annotate × consensus  ->  consolidate  ->  [sampled] review  ->  approve  -> complete
                                                       \\-> request changes -> rework (same annotator) -> review

A task is claimable when its ``claimable_at`` has passed: at creation for an open task, at the end of its
lease for a claimed one (so a task not submitted within the job's timeout returns to the queue), and at the
end of a reservation for a task reserved for someone (a review for the least-loaded reviewer, a rework for
its annotator).
"""

from __future__ import annotations

import hashlib
import re
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Literal, get_args

from pydantic import BaseModel, Field, ValidationInfo, field_validator, model_validator

from annolake_service.domain.video.segments import Segment, VideoSegmenting


class JobStatus(StrEnum):
    DRAFT = "draft"
    ACTIVE = "active"
    PAUSED = "paused"
    COMPLETE = "complete"
    ARCHIVED = "archived"


class TaskKind(StrEnum):
    ANNOTATE = "annotate"
    REVIEW = "review"


class TaskStatus(StrEnum):
    AVAILABLE = "available"  # in the queue, anyone allowed may claim it
    RESERVED = "reserved"  # held for one person (review / rework) until its reservation ends
    IN_PROGRESS = "in_progress"  # claimed; back to the queue when the lease ends unsubmitted
    SUBMITTED = "submitted"  # done by its assignee; the workflow has moved on
    CANCELLED = "cancelled"


OPEN_STATUSES = frozenset({TaskStatus.AVAILABLE, TaskStatus.RESERVED, TaskStatus.IN_PROGRESS})

WorkflowMode = Literal["sync", "copy_once"]
ReviewDecision = Literal["approve", "request_changes"]

#: Events the platform publishes (EventBridge detail-type) and webhooks can subscribe to.
EventType = Literal[
    "file_ingested",
    "task_created",
    "task_submitted",
    "review_approved",
    "changes_requested",
    "task_completed",
    "job_completed",
]
EVENT_TYPES: tuple[str, ...] = get_args(EventType)

_PRINCIPAL = re.compile(r"^(user|key):[A-Za-z0-9@._+-]{1,128}$")
_BARE_USER = re.compile(r"^[A-Za-z0-9@._+-]{1,128}$")


def principal_id(name: str) -> str:
    """``user:alice`` / ``key:ak_…`` as given; a bare ``ak_…`` is an API key, any other bare name a user."""
    name = name.strip()
    if _PRINCIPAL.match(name):
        return name
    if not _BARE_USER.match(name):
        raise ValueError(f"{name!r} is not a member name: use a username, an API key client_id or 'user:<name>'")
    return f"key:{name}" if name.startswith("ak_") else f"user:{name}"


class JobSpec(BaseModel):
    """What a project admin or editor sets when creating a job."""

    name: str = Field(min_length=1, max_length=200)
    instructions: str = Field(default="", max_length=20_000)
    label_names: list[str] = Field(default_factory=list, description="the labels annotators use; empty = all")
    datasets: list[str] = Field(min_length=1, max_length=20, description="dataset names the job watches")
    mode: WorkflowMode = Field(default="sync", description="sync: existing and new files; copy_once: existing only")
    annotators: list[str] = Field(default_factory=list, description="principals; empty = any project annotator")
    reviewers: list[str] = Field(default_factory=list, description="principals; empty = any project reviewer")
    review_rate: float = Field(default=0.0, ge=0, le=1, description="share of files sampled for review")
    consensus: int = Field(default=1, ge=1, le=5, description="annotators per file")
    task_timeout_seconds: int = Field(default=3600, ge=1, le=7 * 24 * 3600)
    agreement_threshold: float = Field(
        default=0.5, ge=0, le=1, description="with consensus > 1, files agreed on less than this are always reviewed"
    )
    prelabel: str | None = Field(
        default=None, description="a completed prediction run: annotate tasks start from its predictions as a draft"
    )
    min_score: float | None = Field(
        default=None, ge=0, le=1, description="with prelabel: only predictions scoring this or more (default: all)"
    )
    video_segment: VideoSegmenting | None = Field(
        default=None,
        description="split each video into annotate tasks of this many frames (default: one task per video)",
    )

    @field_validator("annotators", "reviewers")
    @classmethod
    def _principals(cls, names: list[str]) -> list[str]:
        return list(dict.fromkeys(principal_id(n) for n in names))

    @field_validator("datasets", "label_names")
    @classmethod
    def _unique(cls, names: list[str], info: ValidationInfo) -> list[str]:
        # Checked after stripping: the length bounds above saw the names as sent, so a blank name would
        # otherwise pass them and be stored as an empty list that no later read accepts.
        if any(not n.strip() for n in names):
            raise ValueError(f"{info.field_name} may not contain a blank name: remove it or name a real one")
        return list(dict.fromkeys(n.strip() for n in names))

    @model_validator(mode="after")
    def _prelabel_alone(self) -> JobSpec:
        if self.min_score is not None and self.prelabel is None:
            raise ValueError("min_score applies to pre-labelling: give prelabel (a prediction run id) as well")
        if self.prelabel is not None and self.consensus > 1:
            raise ValueError(
                "prelabel needs consensus 1: annotators shown the same draft do not label independently, so their "
                "agreement would measure the model, not them"
            )
        return self

    @model_validator(mode="after")
    def _segments_alone(self) -> JobSpec:
        if self.video_segment is not None and self.consensus > 1:
            raise ValueError(
                "video_segment needs consensus 1: each segment is one annotator's part of the video's tracks; "
                "for several annotators per video leave video_segment out"
            )
        return self

    @model_validator(mode="after")
    def _enough_annotators(self) -> JobSpec:
        if self.annotators and len(self.annotators) < self.consensus:
            raise ValueError(
                f"consensus {self.consensus} needs at least {self.consensus} annotators, "
                f"the job names {len(self.annotators)}"
            )
        return self


# --- job status ---------------------------------------------------------------------------

_ALLOWED_STATUS_CHANGES: dict[JobStatus, frozenset[JobStatus]] = {
    JobStatus.DRAFT: frozenset({JobStatus.ARCHIVED}),  # draft -> active only by launching
    JobStatus.ACTIVE: frozenset({JobStatus.PAUSED, JobStatus.ARCHIVED}),
    JobStatus.PAUSED: frozenset({JobStatus.ACTIVE, JobStatus.ARCHIVED}),
    JobStatus.COMPLETE: frozenset({JobStatus.ARCHIVED}),
    JobStatus.ARCHIVED: frozenset(),
}


def status_change_allowed(current: JobStatus, requested: JobStatus) -> bool:
    """Whether a person may move a job from ``current`` to ``requested`` (launching is separate)."""
    return requested == current or requested in _ALLOWED_STATUS_CHANGES[current]


def hands_out_tasks(status: JobStatus) -> bool:
    """Only an active (or completed-and-reopened) job gives work to people."""
    return status in (JobStatus.ACTIVE, JobStatus.COMPLETE)


# --- tasks --------------------------------------------------------------------------------


def task_id(job_id: str, file_id: str, kind: TaskKind, round_: int, slot: int) -> str:
    """``<job id>.<digest>``: deterministic, so a retried workflow step re-creates the same task, and the
    job can be read off the id (tasks are stored under their job)."""
    digest = hashlib.sha256(f"{job_id}|{file_id}|{kind}|{round_}|{slot}".encode()).hexdigest()
    return f"{job_id}.{digest[:20]}"


def job_of_task(task_id_: str) -> str | None:
    job_id, dot, digest = task_id_.rpartition(".")
    return job_id if dot and job_id and len(digest) == 20 else None


class Job(BaseModel):
    project_id: str
    job_id: str
    spec: JobSpec
    dataset_ids: list[str] = Field(default_factory=list, description="the ids of spec.datasets, resolved once")
    status: JobStatus
    launch_status: Literal["not_launched", "launching", "launched", "failed"] = "not_launched"
    launch_failure: str | None = None  # why the launch failed (re-driven with POST /jobs/{id}/redrive)
    launch_execution: str | None = None  # the launch run started last
    files_total: int = 0
    created_by: str
    created_at: datetime
    launched_at: datetime | None = None
    completed_at: datetime | None = None


class Task(BaseModel):
    project_id: str
    job_id: str
    task_id: str
    file_id: str
    kind: TaskKind
    slot: int = 0  # the consensus slot, or for a video segment task the segment's number
    round: int = 0
    status: TaskStatus
    frame_start: int | None = None  # a video segment task: the first and last frames it covers
    frame_end: int | None = None
    distinct_annotators: bool = False
    assignee: str | None = None
    reserved_for: str | None = None
    excluded: list[str] = Field(default_factory=list)
    authors: list[str] = Field(default_factory=list)
    comment: str | None = None
    claim_seq: int = 0
    created_at: datetime
    claimed_at: datetime | None = None
    lease_expires_at: datetime | None = None
    submitted_at: datetime | None = None
    submission: list[dict] | None = None
    result: dict | None = None
    #: the workflow's callback token: stays in the store and the services, never in a response or URL
    task_token: str | None = Field(default=None, exclude=True, repr=False)

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def segment(self) -> Segment | None:
        return None if self.frame_start is None or self.frame_end is None else Segment(self.frame_start, self.frame_end)


@dataclass(frozen=True)
class QueuedTask:
    """What picking and claiming a task of a queue needs: the queue is read many tasks at a time and all but
    one are passed over, so it is read with only these (the claim answers the whole task it took)."""

    project_id: str
    job_id: str
    task_id: str
    file_id: str
    kind: TaskKind
    claim_seq: int
    distinct_annotators: bool
    excluded: tuple[str, ...]


def in_queue_share(task_id: str, share: tuple[int, int]) -> bool:
    """Whether ``task_id`` falls in share ``(i, n)`` of a queue: the processes handing out one queue's tasks, each
    told a different ``i`` of the same ``n``, first claim from disjoint parts of the same window (a stable hash
    of the id, not its place, which moves as tasks are taken)."""
    index, count = share
    return count <= 1 or zlib.crc32(task_id.encode()) % count == index


def review_sampled(job_id: str, file_id: str, review_rate: float, segment: int | None = None) -> bool:
    """A stable per-file (or per video segment) draw: the same file in the same job is always sampled the same
    way."""
    if review_rate >= 1:
        return True
    if review_rate <= 0:
        return False
    unit = file_id if segment is None else f"{file_id}|segment {segment}"
    draw = int(hashlib.sha256(f"review|{job_id}|{unit}".encode()).hexdigest()[:8], 16) / 0x1_0000_0000
    return draw < review_rate


def needs_review(*, sampled: bool, consensus: int, agreement: float | None, agreement_threshold: float) -> bool:
    """Sampled files are reviewed; with consensus, so is every file the annotators disagreed on."""
    if sampled:
        return True
    return consensus > 1 and agreement is not None and agreement < agreement_threshold


def completed_by_submit(
    *, kind: TaskKind, round_: int, segmented: bool, consensus: int, review_rate: float, job_id: str, file_id: str
) -> bool:
    """Whether submitting this annotate task finishes its file: the one slot of a whole file's first round,
    not sampled for review. Nothing is left to merge or review, so the submit completes the file itself and
    the file's workflow only has to end."""
    return (
        kind is TaskKind.ANNOTATE
        and round_ == 0
        and not segmented
        and consensus == 1
        and not review_sampled(job_id, file_id, review_rate)
    )


def least_loaded(candidates: Iterable[str], load: Mapping[str, int], *, excluded: Iterable[str] = ()) -> str | None:
    """The eligible candidate with the fewest open tasks (ties broken by name, so the choice is stable)."""
    barred = set(excluded)
    eligible = sorted(c for c in candidates if c not in barred)
    if not eligible:
        return None
    return min(eligible, key=lambda c: (load.get(c, 0), c))


def lease_end(now: datetime, timeout_seconds: int) -> datetime:
    return now + timedelta(seconds=timeout_seconds)


def may_take(
    *,
    kind: TaskKind,
    caller: str,
    excluded: Iterable[str],
    annotators: list[str],
    reviewers: list[str],
    caller_can_review: bool,
) -> bool:
    """Whether ``caller`` may be handed a task of this kind in this job (reviewers never review their own work)."""
    if caller in set(excluded):
        return False
    if kind is TaskKind.ANNOTATE:
        return not annotators or caller in annotators
    if not caller_can_review:
        return False
    return not reviewers or caller in reviewers


def rejection_rate(approved: int, changes_requested: int) -> float | None:
    reviewed = approved + changes_requested
    return None if reviewed == 0 else changes_requested / reviewed
