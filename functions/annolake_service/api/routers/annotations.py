"""A file's annotations: read, save a new version with the version last read, history."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from annolake_service.api import views
from annolake_service.api.deps import ProjectAccess, require
from annolake_service.domain.permissions import Action
from annolake_service.services import annotations

router = APIRouter(tags=["annotations"])
F = "/projects/{project_string_id}/files/{file_id}/annotations"


class AnnotationSave(BaseModel):
    version: int = Field(ge=0, description="the annotation version you last read; a stale one gets 409")
    instance_list: list[dict[str, Any]] = Field(description="the full list (Diffgram packet shape)")
    create_labels: bool = Field(default=False, description="add unknown label names to the schema")


@router.get(F, response_model=views.AnnotationsView)
def get_annotations(
    file_id: str, access: Annotated[ProjectAccess, Depends(require(Action.ANNOTATION_READ))]
) -> dict[str, Any]:
    return annotations.get_annotations(access.project_id, file_id)


@router.put(F, response_model=views.AnnotationsSaved)
def save_annotations(
    file_id: str, body: AnnotationSave, access: Annotated[ProjectAccess, Depends(require(Action.ANNOTATION_WRITE))]
) -> dict[str, Any]:
    if body.create_labels:
        access.ensure(Action.SCHEMA_WRITE)
    return annotations.save_annotations(
        access.project_id,
        file_id,
        expected_version=body.version,
        instance_list=body.instance_list,
        author=access.principal.principal_id,
        create_labels=body.create_labels,
    )


@router.get(F + "/history", response_model=views.AnnotationHistory)
def annotation_history(
    file_id: str,
    access: Annotated[ProjectAccess, Depends(require(Action.ANNOTATION_READ))],
    instance_root_id: str | None = None,
) -> dict[str, Any]:
    return {
        "file_id": file_id,
        "history": annotations.history(access.project_id, file_id, instance_root_id=instance_root_id),
    }
