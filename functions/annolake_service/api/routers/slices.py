"""Frozen slices and their stream pages (the SDK's datasets read them page by page).

A slice is created from its dataset (``POST .../datasets/{dataset_name}/slices``, in the datasets router).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from annolake_service.api.deps import PROJECT_PATH, CanReadFiles
from annolake_service.api.models.errors import PROJECT_ERRORS, error_responses
from annolake_service.api.models.slices import SlicePublic, StreamPage
from annolake_service.api.paging import StreamPageQuery
from annolake_service.services import slices

router = APIRouter(prefix=f"{PROJECT_PATH}/slices", tags=["slices"], responses=PROJECT_ERRORS)


@router.get("/{slice_id}")
def get_slice(slice_id: str, access: CanReadFiles) -> SlicePublic:
    return SlicePublic.model_validate(slices.describe_slice(access.project_id, slice_id))


@router.get("/{slice_id}/items", response_model=StreamPage, responses=error_responses(400))
def slice_items(slice_id: str, access: CanReadFiles, page: StreamPageQuery) -> dict[str, Any]:
    """A stream page: items with file metadata, annotations and presigned media/thumbnail URLs minted for this
    response. Deleted files keep their place (``file.status`` = ``deleted``) so indices stay stable."""
    return slices.slice_page(access.project_id, slice_id, **page)
