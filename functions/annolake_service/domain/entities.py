"""Entities as the domain sees them (pydantic). Storage shapes live in ``adapters/dynamo``; the API's response
shapes are made from these by the services."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from annolake_service.domain.roles import Role

#: A dataset's name: also a folder of the drop bucket, so no '/'.
DATASET_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,127}$"


class UnreadableRecord(BaseModel):
    """A stored record that today's rules no longer accept: reported beside a listing, never a failed listing."""

    kind: str
    id: str
    reason: str


FileStatus = Literal["processing", "ready", "quarantined"]


class Project(BaseModel):
    project_id: str
    name: str
    created_at: datetime
    created_by: str


class Member(BaseModel):
    project_id: str
    principal_id: str  # "user:<username>" or "key:<client_id>"
    role: Role


class Dataset(BaseModel):
    project_id: str
    dataset_id: str
    name: str
    description: str = ""
    created_at: datetime


class VideoFacts(BaseModel):
    """What probing a video found (frame-exact: ``frame_count`` is the number of decoded frames).

    A frame's index is its position in decoding order after sorting by presentation time; its timestamp (in
    seconds from the container's start) is listed in the object at ``timestamps_key``, so variable frame
    rates and a non-zero ``start_s`` round-trip exactly. ``frames_prefix`` is where the frames are stored."""

    frame_count: int = Field(ge=1)
    fps: float = Field(gt=0, description="average frames per second (frame_count / duration)")
    duration_s: float = Field(ge=0)
    start_s: float = 0.0
    codec: str = ""
    timestamps_key: str | None = None
    frames_prefix: str | None = None


class FileRecord(BaseModel):
    project_id: str
    file_id: str
    original_name: str
    media_type: str = "image"
    mime_type: str = ""
    status: FileStatus
    status_reason: str | None = None
    width: int | None = None
    height: int | None = None
    size_bytes: int | None = None
    content_hash: str | None = None
    original_key: str | None = None
    thumbnail_key: str | None = None
    video: VideoFacts | None = Field(default=None, description="set when media_type is video")
    metadata: dict[str, Any] = Field(default_factory=dict)
    label_counts: dict[str, int] = Field(default_factory=dict)
    frame_counts: dict[str, int] = Field(
        default_factory=dict, description="a video: per label, the frames on which it shows (frames.<label>)"
    )
    attribute_values: dict[str, list[Any]] = Field(default_factory=dict)
    annotation_version: int = 0
    created_at: datetime
    deleted_at: datetime | None = None


class ApiKey(BaseModel):
    """An issued API key as stored: the secret's hash only."""

    project_id: str
    client_id: str
    secret_hash: str
    role: Role
    name: str
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None


class AnnotationVersion(BaseModel):
    """One saved version of a file's annotations, with the instances the save removed."""

    project_id: str
    file_id: str
    version: int
    instance_list: list[dict[str, Any]]
    deleted: list[dict[str, Any]] = Field(default_factory=list)
    created_by: str
    source: str
    task_id: str | None = None  # the workflow task whose submission this version is
    created_at: datetime


class Upload(BaseModel):
    """A presigned upload and, once ingested, the file it became."""

    project_id: str
    upload_id: str
    dataset: str  # the dataset's name
    file_name: str
    status: str = "pending"
    status_reason: str | None = None
    file_id: str | None = None
    created_by: str
    created_at: datetime
    import_id: str | None = None  # a video an import handed over, and its item's index there
    import_item: int | None = None


class ImportJob(BaseModel):
    """A bulk import: its source, progress counters and outcome."""

    project_id: str
    import_id: str
    format: str
    dataset: str  # the dataset's name
    create_labels: bool = False
    status: str
    status_reason: str | None = None
    total: int = 0
    done: int = 0
    failed: int = 0
    created_by: str
    created_at: datetime
    finished_at: datetime | None = None
    execution_arn: str | None = None  # the run started last: its end tells a failure that could not be recorded
    awaiting_videos: bool = False  # the run ended with videos still in the video ingest; their results end it


class ImportOutcome(BaseModel):
    """What happened to one item of an import (``waiting``: a video whose ingest has not reported, since then)."""

    index: int
    name: str
    outcome: Literal["done", "failed", "waiting"]
    file_id: str | None = None
    reason: str | None = None
    waiting_since: datetime | None = None


JobFileStatus = Literal["annotating", "reviewing", "complete", "failed"]


class JobFile(BaseModel):
    """A file's progress through one job (one review workflow execution per file and job)."""

    project_id: str
    job_id: str
    file_id: str
    status: JobFileStatus
    execution_arn: str | None = None
    agreement: float | None = None
    per_annotator: dict[str, float] = Field(default_factory=dict)  # consensus: each annotator's agreement
    failure: str | None = None
    created_at: datetime
    completed_at: datetime | None = None


class Webhook(BaseModel):
    """A subscription; ``secret_ref`` says where its signing secret is kept, never the secret."""

    project_id: str
    webhook_id: str
    url: str
    events: list[str]
    description: str = ""
    secret_ref: str
    created_by: str
    created_at: datetime


class WebhookFailure(BaseModel):
    """A delivery that kept failing (the webhook's dead-letter list), with what the receiver last said."""

    webhook_id: str
    failure_id: str
    delivery_id: str
    event_type: str
    event: dict[str, Any]
    attempts: int
    last_error: str
    failed_at: datetime


class IndexManifest(BaseModel):
    """A dataset's columnar query index: its base file and the delta files already folded into it.

    The index is the base plus every delta under the dataset's prefix not in ``folded_keys``; ``retired_keys``
    (the files the previous compaction replaced) are deleted by the next one, so a reader holding the
    previous manifest still finds its files."""

    project_id: str
    dataset_id: str
    base_key: str
    folded_keys: list[str] = Field(default_factory=list)
    retired_keys: list[str] = Field(default_factory=list)
    built_at: datetime
    compacted_at: datetime
    version: int | None = None
