"""Frozen slices and their stream pages: what the SDK's datasets read, page by page.

A page's timestamps are passed through as the ISO 8601 strings the service writes (``+00:00``), so
they are typed as strings in date-time format rather than re-parsed on the hot path.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Discriminator, Field, Tag, WithJsonSchema

from annolake_service.domain.entities import FileStatus

IsoTimestamp = Annotated[str, WithJsonSchema({"type": "string", "format": "date-time"})]


class SliceCreate(BaseModel):
    query: str | None = Field(default=None, description="slice query; none for every ready file of the dataset")


class SlicePublic(BaseModel):
    slice_id: str
    dataset: str
    query: str | None = Field(description="the query the slice was frozen with; null for every ready file")
    count: int = Field(description="files in the slice")
    created_at: IsoTimestamp
    expires_at: IsoTimestamp = Field(description="when the slice is deleted; freeze a new one after")


class StreamFilePublic(BaseModel):
    id: str
    name: str
    media_type: str
    mime_type: str
    width: int | None
    height: int | None
    size_bytes: int | None
    content_hash: str | None = Field(description="with the id, the key a client caches the media under")
    metadata: dict[str, Any]
    created_at: IsoTimestamp
    status: FileStatus
    frame_count: int | None = Field(default=None, description="a video's frames; null for an image")


class StreamItemPublic(BaseModel):
    """A live file of the slice with its annotations and this page's presigned URLs."""

    index: int = Field(description="position in the slice")
    file: StreamFilePublic
    annotation_version: int
    instance_list: list[dict[str, Any]] = Field(description="the live instances (packet shape)")
    media_url: str | None = Field(description="presigned GET of the original; null unless asked for with urls")
    thumbnail_url: str | None = Field(description="presigned GET of the thumbnail; null unless asked for with urls")
    predictions: list[dict[str, Any]] | None = Field(
        default=None,
        description="with ?predictions=: the instances (packet shape, with score, model and run) the run predicted "
        "for this file; null when it predicted nothing for it, or when not asked",
    )


PREDICTIONS_HELP = (
    "a model's name (its latest finished run) or a prediction run id: each item carries that run's predictions"
)


def predictions_run_field() -> Any:
    """A stream page's ``predictions_run`` (slices and snapshots)."""
    return Field(
        default=None,
        description="with ?predictions=: the run the items' predictions come from (null: none finished yet)",
    )


class DeletedFilePublic(BaseModel):
    id: str
    status: Literal["deleted"]


class DeletedStreamItemPublic(BaseModel):
    """A file deleted since the slice was frozen: its place is kept so indices stay stable."""

    index: int
    file: DeletedFilePublic
    instance_list: list[dict[str, Any]] = Field(max_length=0)
    media_url: None


def _item_kind(item: Any) -> str:
    file = item["file"] if isinstance(item, dict) else item.file
    status = file["status"] if isinstance(file, dict) else file.status
    return "deleted" if status == "deleted" else "live"


StreamItem = Annotated[
    Annotated[StreamItemPublic, Tag("live")] | Annotated[DeletedStreamItemPublic, Tag("deleted")],
    Discriminator(_item_kind),
]


class StreamPage(SlicePublic):
    offset: int = Field(description="index of the first item")
    items: list[StreamItem]
    next_offset: int | None = Field(description="offset of the next page; null on the last")
    cursor: str | None = Field(description="pass as ?cursor= for the next page (instead of offset); null on the last")
    url_expires_in: int = Field(description="seconds the page's presigned URLs live")
    predictions_run: str | None = predictions_run_field()
