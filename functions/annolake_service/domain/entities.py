"""Entities as the domain sees them (pydantic). Storage shapes live in ``adapters/``."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from annolake_service.domain.roles import Role

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
    metadata: dict[str, Any] = Field(default_factory=dict)
    label_counts: dict[str, int] = Field(default_factory=dict)
    attribute_values: dict[str, list[Any]] = Field(default_factory=dict)
    annotation_version: int = 0
    created_at: datetime
    deleted_at: datetime | None = None
