"""Bulk imports: create (get upload forms), start or re-drive, follow progress."""

from __future__ import annotations

from fastapi import APIRouter, status

from annolake_service.api.deps import PROJECT_PATH, CanReadFiles, CanUploadFiles
from annolake_service.api.models.errors import PROJECT_ERRORS, error_responses
from annolake_service.api.models.imports import (
    ImportCreate,
    ImportCreatedPublic,
    ImportDetailPublic,
    ImportPublic,
    ImportsPublic,
)
from annolake_service.api.paging import CursorQuery, page_of
from annolake_service.domain.permissions import Action
from annolake_service.services import imports

router = APIRouter(prefix=f"{PROJECT_PATH}/imports", tags=["imports"], responses=PROJECT_ERRORS)


@router.post("", status_code=status.HTTP_201_CREATED, responses=error_responses(400))
def create_import(body: ImportCreate, access: CanUploadFiles) -> ImportCreatedPublic:
    """Returns presigned POST forms: ``manifest_upload`` (the COCO JSON / YOLO names / JSONL) and
    ``media_upload`` (any key under the import's media prefix, e.g. ``images/0001.jpg``)."""
    if body.create_labels:
        access.ensure(Action.SCHEMA_WRITE)
    created = imports.create_import(
        access.project_id,
        fmt=body.format,
        dataset_name=body.dataset,
        create_labels=body.create_labels,
        author=access.principal.principal_id,
    )
    return ImportCreatedPublic.model_validate(created)


@router.post("/{import_id}/start", status_code=status.HTTP_202_ACCEPTED, responses=error_responses(400, 409))
def start_import(import_id: str, access: CanUploadFiles) -> ImportDetailPublic:
    """Start the import once its manifest is uploaded, or re-drive a finished one (nothing is imported twice)."""
    return ImportDetailPublic.model_validate(imports.start_import(access.project_id, import_id))


@router.get("", responses=error_responses(400))
def list_imports(access: CanReadFiles, dataset: str | None = None, cursor: CursorQuery = None) -> ImportsPublic:
    """Imports of the project (or into one dataset), newest first, with their progress."""
    listed = [ImportPublic.model_validate(i) for i in imports.list_imports(access.project_id, dataset)]
    listing = f"imports:{access.project_id}/{dataset or ''}"
    page, next_cursor = page_of(
        listing, listed, cursor, lambda i: [i.created_at.isoformat(), i.import_id], descending=True
    )
    return ImportsPublic(imports=page, cursor=next_cursor)


@router.get("/{import_id}")
def get_import(import_id: str, access: CanReadFiles) -> ImportDetailPublic:
    return ImportDetailPublic.model_validate(imports.get_import(access.project_id, import_id))
