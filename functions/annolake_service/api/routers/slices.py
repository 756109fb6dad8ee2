"""Frozen slices of a dataset and their stream pages (DESIGN §7)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, status
from pydantic import BaseModel, Field

from annolake_service.api.deps import ProjectAccess, require
from annolake_service.domain.permissions import Action
from annolake_service.services import slices

router = APIRouter(tags=["slices"])
P = "/projects/{project_string_id}"


class SliceCreate(BaseModel):
    query: str | None = Field(default=None, description="slice query; none for every ready file of the dataset")


@router.post(P + "/datasets/{dataset_name}/slices", status_code=status.HTTP_201_CREATED)
def create_slice(
    dataset_name: str, body: SliceCreate, access: Annotated[ProjectAccess, Depends(require(Action.FILE_READ))]
) -> dict[str, Any]:
    """Freeze the ready files matching the query into one ordered list that every rank and worker reads."""
    return slices.freeze_slice(access.project_id, dataset_name, body.query)


@router.get(P + "/slices/{slice_id}")
def get_slice(slice_id: str, access: Annotated[ProjectAccess, Depends(require(Action.FILE_READ))]) -> dict[str, Any]:
    return slices.describe_slice(access.project_id, slice_id)


@router.get(P + "/slices/{slice_id}/items")
def slice_items(
    slice_id: str,
    access: Annotated[ProjectAccess, Depends(require(Action.FILE_READ))],
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=slices.MAX_STREAM_PAGE)] = 100,
    cursor: Annotated[str | None, Query(description="the previous page's cursor (instead of offset)")] = None,
    url_expires_in: Annotated[int | None, Query(ge=1, description="seconds the presigned URLs live")] = None,
    urls: Annotated[
        str, Query(description="the presigned URLs each item carries: media, thumbnail, or both (comma-separated)")
    ] = "media,thumbnail",
) -> dict[str, Any]:
    """A stream page: items with file metadata, annotations and presigned media/thumbnail URLs."""
    return slices.slice_page(
        access.project_id,
        slice_id,
        offset=offset,
        limit=limit,
        cursor=cursor,
        url_expires_in=url_expires_in,
        url_kinds=slices.parse_url_kinds(urls),
    )
