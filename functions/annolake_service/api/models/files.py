"""Files: one file's description (with fresh presigned URLs), pages of a dataset's files, moves between datasets."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from annolake_service.domain.entities import FileStatus


class VideoPublic(BaseModel):
    """A video's frame-exact facts. Frame ``n`` (0-based, presentation order) is at ``GET .../frames/{n}``."""

    frame_count: int = Field(description="frames PyAV decodes from the file")
    fps: float = Field(description="average frames per second (variable frame rates: see timestamps_url)")
    duration_s: float
    start_s: float = Field(description="the first frame's presentation time from the container's zero")
    codec: str
    timestamps_url: str | None = Field(
        default=None,
        description="presigned GET of every frame's presentation timestamp: {time_base, pts, seconds}",
    )


class FilePublic(BaseModel):
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
    video: VideoPublic | None = Field(default=None, description="set when media_type is video")
    metadata: dict[str, Any]
    label_counts: dict[str, int]
    frame_counts: dict[str, int] = Field(
        default_factory=dict, description="a video: per label, on how many frames it shows (frames.<label>)"
    )
    attribute_values: dict[str, list[Any]]
    annotation_version: int
    created_at: datetime
    deleted_at: datetime | None
    media_url: str | None = Field(default=None, description="presigned GET of the original (ready files)")
    thumbnail_url: str | None = Field(default=None, description="presigned GET of the thumbnail (ready files)")


class ListedFilePublic(FilePublic):
    """A file of a dataset listing."""

    predictions: list[dict[str, Any]] | None = Field(
        default=None,
        description="with ?predictions=: the instances (packet shape, with score, model and run) the run predicted "
        "for this file; null when it predicted nothing for it, or when not asked",
    )


class QueryEnginePublic(BaseModel):
    """Which engine answered a query: the dataset's columnar index, or the table while the index is built."""

    name: Literal["index", "table"] = Field(
        description="index: the dataset's columnar index (seconds behind the latest writes); table: DynamoDB"
    )
    compacted_at: datetime | None = Field(description="when the index's base file was last rewritten")
    deltas: int = Field(description="change files read on top of the index's base file")
    runner: Literal["duckdb", "athena"] | None = Field(
        default=None,
        description="what ran the index's SQL: duckdb (embedded in the API function) or athena (large datasets, "
        "or engine=athena); null for the table",
    )
    note: str | None = Field(
        default=None, description="why another engine than the one asked for answered (engine=athena locally)"
    )


class FilePage(BaseModel):
    dataset: str
    files: list[ListedFilePublic]
    cursor: str | None = Field(description="pass as ?cursor= for the next page; null on the last")
    query: str | None = Field(default=None, description="the query, when the listing was filtered by one")
    engine: QueryEnginePublic | None = Field(default=None, description="which engine answered the query, if any")
    predictions_run: str | None = Field(
        default=None, description="with ?predictions=: the run the files' predictions come from (null: none finished)"
    )


class FileQueryPage(FilePage):
    count: int = Field(description="how many files match in all")


class FileUpdate(BaseModel):
    metadata: dict[str, Any] = Field(description="replaces the file's user metadata (a JSON object)")


class FileTransferCreate(BaseModel):
    file_ids: list[str] = Field(min_length=1, max_length=500)
    mode: Literal["mirror", "move", "copy"]
    target_dataset: str
    source_dataset: str | None = None


class FileTransferPublic(BaseModel):
    mode: Literal["mirror", "move", "copy"]
    target_dataset: str
    file_ids: list[str] = Field(description="the files in the target: the same ids (mirror, move) or the copies' ids")
