"""Bulk imports: create (get upload forms), start or re-drive, follow progress."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, status
from pydantic import BaseModel, Field

from annolake_service.api.deps import ProjectAccess, require
from annolake_service.domain.permissions import Action
from annolake_service.services import imports

router = APIRouter(tags=["imports"])
P = "/projects/{project_string_id}/imports"


class ImportProgress(BaseModel):
    import_id: str
    format: str
    dataset: str
    create_labels: bool
    status: str = Field(description="created, queued, running, completed or failed")
    status_reason: str | None
    total: int
    done: int
    failed: int
    created_by: str
    created_at: datetime
    finished_at: datetime | None


class ImportFailure(BaseModel):
    index: int
    name: str
    reason: str | None


class ImportDetail(ImportProgress):
    failures: list[ImportFailure] = Field(description="items that failed, with why (the first 100)")


class ImportList(BaseModel):
    imports: list[ImportProgress]


class ImportCreate(BaseModel):
    format: Literal["coco", "yolo", "jsonl"]
    dataset: str = "default"
    create_labels: bool = Field(default=False, description="add the manifest's unknown labels to the schema")


@router.post(P, status_code=status.HTTP_201_CREATED)
def create_import(body: ImportCreate, access: Annotated[ProjectAccess, Depends(require(Action.FILE_UPLOAD))]) -> dict:
    """Returns presigned POST forms: ``manifest_upload`` (the COCO JSON / YOLO names / JSONL) and
    ``media_upload`` (any key under the import's media prefix, e.g. ``images/0001.jpg``)."""
    if body.create_labels:
        access.ensure(Action.SCHEMA_WRITE)
    return imports.create_import(
        access.project_id,
        fmt=body.format,
        dataset_name=body.dataset,
        create_labels=body.create_labels,
        author=access.principal.principal_id,
    )


@router.post(P + "/{import_id}/start", status_code=status.HTTP_202_ACCEPTED)
def start_import(import_id: str, access: Annotated[ProjectAccess, Depends(require(Action.FILE_UPLOAD))]) -> dict:
    return imports.start_import(access.project_id, import_id)


@router.get(P)
def list_imports(
    access: Annotated[ProjectAccess, Depends(require(Action.FILE_READ))], dataset: str | None = None
) -> ImportList:
    """Imports of the project (or into one dataset), newest first, with their progress."""
    return ImportList(imports=[ImportProgress(**i) for i in imports.list_imports(access.project_id, dataset)])


@router.get(P + "/{import_id}")
def get_import(import_id: str, access: Annotated[ProjectAccess, Depends(require(Action.FILE_READ))]) -> ImportDetail:
    return ImportDetail(**imports.get_import(access.project_id, import_id))
