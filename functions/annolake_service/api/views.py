"""Response bodies of the core routes, declared so the OpenAPI document types them.

The web UI's API client is generated from that document (``web/openapi.json``), so a field read by the UI
is one declared here; FastAPI validates each response against its model, so the document cannot drift from
what the routes return. Field names and shapes are exactly what the services return.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from annolake_service.domain.entities import FileStatus
from annolake_service.domain.roles import Role
from annolake_service.domain.schema import AttributeGroup, LabelSpec


class ProjectView(BaseModel):
    project_string_id: str
    name: str
    created_at: datetime
    role: Role = Field(description="the caller's role in the project")


class ProjectList(BaseModel):
    projects: list[ProjectView]


class MemberView(BaseModel):
    principal_id: str = Field(description="'user:<username>' or 'key:<client_id>'")
    role: Role


class MemberList(BaseModel):
    members: list[MemberView]


class MemberInvited(MemberView):
    invited: bool = Field(description="true when the user was created and sent an invitation")


class ApiKeyView(BaseModel):
    project_id: str
    client_id: str
    role: Role
    name: str
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None


class ApiKeyList(BaseModel):
    api_keys: list[ApiKeyView]


class ApiKeyIssued(BaseModel):
    client_id: str
    client_secret: str = Field(description="shown this once")
    role: Role
    name: str
    note: str


class DatasetView(BaseModel):
    dataset_id: str
    name: str
    description: str
    created_at: datetime


class DatasetList(BaseModel):
    datasets: list[DatasetView]


class DatasetDetail(DatasetView):
    file_count: int


class FileView(BaseModel):
    project_id: str
    file_id: str
    original_name: str
    media_type: str
    mime_type: str
    status: FileStatus
    status_reason: str | None
    width: int | None
    height: int | None
    size_bytes: int | None
    content_hash: str | None
    metadata: dict[str, Any]
    label_counts: dict[str, int]
    attribute_values: dict[str, list[Any]]
    annotation_version: int
    created_at: datetime
    deleted_at: datetime | None
    media_url: str | None = Field(default=None, description="presigned GET of the original (ready files)")
    thumbnail_url: str | None = Field(default=None, description="presigned GET of the thumbnail (ready files)")


class FilePage(BaseModel):
    dataset: str
    files: list[FileView]
    cursor: str | None = Field(description="pass as ?cursor= for the next page; null on the last")
    query: str | None = Field(default=None, description="the query, when the listing was filtered by one")


class QueryResult(FilePage):
    count: int = Field(description="how many files match in all")


class SchemaView(BaseModel):
    version: int
    labels: list[LabelSpec]
    attribute_groups: list[AttributeGroup]


class LabelList(BaseModel):
    labels: list[LabelSpec]


class AnnotationsView(BaseModel):
    file_id: str
    version: int
    instance_list: list[dict[str, Any]] = Field(description="the live instances (Diffgram packet shape)")


class AnnotationChanges(BaseModel):
    created: int
    updated: int
    deleted: int
    unchanged: int


class AnnotationsSaved(AnnotationsView):
    changes: AnnotationChanges


class AnnotationVersionView(BaseModel):
    version: int
    created_by: str
    created_at: datetime
    source: str
    task_id: str | None
    instance_list: list[dict[str, Any]]
    deleted: list[dict[str, Any]]


class AnnotationHistory(BaseModel):
    file_id: str
    history: list[AnnotationVersionView] | list[dict[str, Any]] = Field(
        description="the file's versions, oldest first; with instance_root_id, every version of that instance"
    )


class UploadTicket(BaseModel):
    upload_id: str
    url: str = Field(description="POST the form here")
    fields: dict[str, str] = Field(description="form fields to send before the file")
    expires_in: int


class UploadView(BaseModel):
    upload_id: str
    dataset: str
    file_name: str
    status: str = Field(description="pending until the file is ingested, then ready or quarantined")
    status_reason: str | None
    file_id: str | None
    created_at: datetime


# --- the workflow routes' nested parts (the task and job views are in routers/tasks.py and routers/jobs.py) ---


class TaskJobSummary(BaseModel):
    job_id: str
    name: str
    instructions: str
    label_names: list[str]
    consensus: int


class AnnotatorSubmission(BaseModel):
    task_id: str
    annotator: str | None
    round: int
    instance_list: list[dict[str, Any]]


class AnnotatorStats(BaseModel):
    principal: str
    submitted: int
    time_spent_seconds: float
    mean_seconds_per_task: float | None


class ReviewerStats(BaseModel):
    principal: str
    approved: int
    changes_requested: int


class ReviewStats(BaseModel):
    reviewed: int
    approved: int
    changes_requested: int
    rejection_rate: float | None


class ConsensusStats(BaseModel):
    files: int = Field(description="files whose consensus was computed")
    mean_agreement: float | None
    min_agreement: float | None


class JobStats(BaseModel):
    job_id: str
    status: str
    files: dict[str, int] = Field(description="'total' and the number of files in each workflow status")
    tasks: dict[str, dict[str, int]] = Field(description="per task kind, the number of tasks in each status")
    annotators: list[AnnotatorStats]
    reviewers: list[ReviewerStats]
    review: ReviewStats
    consensus: ConsensusStats
