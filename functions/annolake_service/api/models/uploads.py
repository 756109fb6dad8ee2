"""Uploads: a presigned POST for one file, or a file fetched from a URL (optionally as a packet with pre-labels)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class UploadCreate(BaseModel):
    dataset: str = Field(description="dataset the file joins (created if missing)")
    file_name: str
    content_type: str = Field(description="e.g. image/jpeg")
    size_bytes: int = Field(description="exact size; S3 refuses a larger body")


class UploadTicketPublic(BaseModel):
    upload_id: str
    url: str = Field(description="POST the form here")
    fields: dict[str, str] = Field(description="form fields to send before the file")
    expires_in: int


class UrlUploadCreate(BaseModel):
    url: str = Field(description="http(s) URL of an image on a public host")
    dataset: str = "default"
    instance_list: list[dict[str, Any]] | None = Field(default=None, description="pre-labels (packet shape)")
    create_labels: bool = Field(default=False, strict=True)


class PacketMedia(BaseModel):
    url: str
    type: str = "image"


class PacketUploadCreate(BaseModel):
    """A packet: ``{"media": {"url", "type"}, "instance_list": [...]}``."""

    media: PacketMedia
    instance_list: list[dict[str, Any]] = Field(default_factory=list)
    dataset: str = "default"
    create_labels: bool = Field(default=False, strict=True)


class UploadPublic(BaseModel):
    upload_id: str
    dataset: str
    file_name: str
    status: str = Field(description="pending until the file is ingested, then ready or quarantined")
    status_reason: str | None
    file_id: str | None
    created_at: datetime
