"""Frozen slices and their stream pages (the SDK's datasets read them page by page).

A slice is created from its dataset (``POST .../datasets/{dataset_name}/slices``, in the datasets router).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from annolake_service.api.deps import PROJECT_PATH, CanReadFiles
from annolake_service.api.models.errors import PROJECT_ERRORS, error_responses
from annolake_service.api.models.slices import PREDICTIONS_HELP, SlicePublic, StreamPage
from annolake_service.services import slices

router = APIRouter(prefix=f"{PROJECT_PATH}/slices", tags=["slices"], responses=PROJECT_ERRORS)


@router.get("/{slice_id}")
def get_slice(slice_id: str, access: CanReadFiles) -> SlicePublic:
    return SlicePublic.model_validate(slices.describe_slice(access.project_id, slice_id))


@router.get("/{slice_id}/items", response_model=StreamPage, responses=error_responses(400))
def slice_items(
    slice_id: str,
    access: CanReadFiles,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=slices.MAX_STREAM_PAGE)] = 100,
    cursor: Annotated[str | None, Query(description="the previous page's cursor (instead of offset)")] = None,
    url_expires_in: Annotated[int | None, Query(ge=1, description="seconds the presigned URLs live")] = None,
    urls: Annotated[
        str, Query(description="the presigned URLs each item carries: media, thumbnail, or both (comma-separated)")
    ] = "media,thumbnail",
    predictions: Annotated[str | None, Query(min_length=1, max_length=200, description=PREDICTIONS_HELP)] = None,
) -> dict[str, Any]:
    """A stream page: items with file metadata, annotations and presigned media/thumbnail URLs minted for this
    response. Deleted files keep their place (``file.status`` = ``deleted``) so indices stay stable."""
    return slices.slice_page(
        access.project_id,
        slice_id,
        offset=offset,
        limit=limit,
        cursor=cursor,
        url_expires_in=url_expires_in,
        url_kinds=slices.parse_url_kinds(urls),
        predictions=predictions,
    )
