"""Bulk imports (COCO, YOLO, JSONL): upload forms, progress, and the items that failed."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from annolake_service.api.models.paging import NextCursor


class ImportCreate(BaseModel):
    format: Literal["coco", "yolo", "jsonl"]
    dataset: str = "default"
    create_labels: bool = Field(
        default=False, strict=True, description="add the manifest's unknown labels to the schema"
    )


class ImportPublic(BaseModel):
    import_id: str
    format: str
    dataset: str
    create_labels: bool
    status: str = Field(description="created, queued, running, completed, completed_with_errors or failed")
    status_reason: str | None
    total: int
    done: int
    failed: int
    awaiting_videos: bool = Field(
        default=False,
        description="the run has ended and the import stays running until the video ingest has registered "
        "(done) or quarantined (failed, with why) each video it handed over; total - done - failed still wait",
    )
    created_by: str
    created_at: datetime
    finished_at: datetime | None


class ImportFailurePublic(BaseModel):
    index: int
    name: str
    reason: str | None


class ImportDetailPublic(ImportPublic):
    failures: list[ImportFailurePublic] = Field(description="items that failed, with why (the first 100)")


class PresignedPostPublic(BaseModel):
    """An S3 form upload: POST ``fields`` then the file (as the last field, ``file``) to ``url``."""

    url: str
    fields: dict[str, str]


class ImportCreatedPublic(ImportDetailPublic):
    manifest_upload: PresignedPostPublic = Field(description="form for the COCO JSON / YOLO names / JSONL manifest")
    media_upload: PresignedPostPublic = Field(
        description="form for any key under the import's media prefix: put the path (e.g. images/0001.jpg) "
        "in place of ${filename} in its 'key' field"
    )


class ImportsPublic(BaseModel):
    imports: list[ImportPublic]
    cursor: NextCursor = None
