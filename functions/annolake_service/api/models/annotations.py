"""A file's annotations: the live instance list, a save against the version last read, and the history."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class AnnotationsUpdate(BaseModel):
    version: int = Field(ge=0, description="the annotation version you last read; a stale one gets 409")
    instance_list: list[dict[str, Any]] = Field(description="the full list (packet shape)")
    create_labels: bool = Field(default=False, strict=True, description="add unknown label names to the schema")


class CvatVideoImport(BaseModel):
    version: int = Field(ge=0, description="the annotation version you last read; a stale one gets 409")
    document: str = Field(min_length=1, description="a CVAT for video 1.1 XML document (annotations.xml)")
    create_labels: bool = Field(default=False, strict=True, description="add unknown label names to the schema")


class AnnotationsPublic(BaseModel):
    file_id: str
    version: int
    instance_list: list[dict[str, Any]] = Field(description="the live instances (packet shape)")


class AnnotationChangesPublic(BaseModel):
    created: int
    updated: int
    deleted: int
    unchanged: int


class AnnotationsSavedPublic(AnnotationsPublic):
    changes: AnnotationChangesPublic


class AnnotationVersionPublic(BaseModel):
    version: int
    created_by: str
    created_at: datetime
    source: str
    task_id: str | None
    instance_list: list[dict[str, Any]]
    deleted: list[dict[str, Any]]


class AnnotationHistoryPublic(BaseModel):
    file_id: str
    history: list[AnnotationVersionPublic] | list[dict[str, Any]] = Field(
        description="the file's versions, oldest first; with instance_root_id, every version of that instance"
    )
    cursor: str | None = Field(
        default=None, description="pass as ?cursor= for the next page; null on the last (a page ends at its bytes)"
    )


class FrameAnnotationsPublic(AnnotationsPublic):
    frame: int = Field(description="the frame, from 0")
    frame_count: int
    instance_list: list[dict[str, Any]] = Field(
        description="what the frame shows: each visible track as a shape (type box, polygon or point) with "
        "track_id, track_instance_id, keyframe, interpolated and occluded; the frame tags covering it; the "
        "whole-video tags"
    )


class FrameOfRangePublic(BaseModel):
    frame: int = Field(description="the frame, from 0")
    instance_list: list[dict[str, Any]] = Field(description="what the frame shows, as /frames/{frame}/annotations")


class FrameChunkPublic(BaseModel):
    chunk: int = Field(description="the chunk's number: it holds frames first_frame .. first_frame+chunk_frames-1")
    first_frame: int
    url: str = Field(
        description="presigned GET of the chunk: 'ALFC', uint32 frame count n, n+1 uint32 byte offsets (little "
        "endian, from the chunk's start), then the frames' JPEGs back to back"
    )


class FrameRangePublic(BaseModel):
    """Frames of a video for a loader: their annotations (tracks interpolated) and the chunks holding them."""

    file_id: str
    version: int = Field(description="the annotation version the shapes come from")
    frame_count: int
    fps: float
    width: int | None
    height: int | None
    chunk_frames: int = Field(description="frames per chunk (the last chunk of a video may hold fewer)")
    frames: list[FrameOfRangePublic]
    chunks: list[FrameChunkPublic]
    url_expires_in: int
