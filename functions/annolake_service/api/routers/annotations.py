"""A file's annotations: read, save a new version with the version last read, history."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from annolake_service.api.deps import PROJECT_PATH, CanReadAnnotations, CanWriteAnnotations
from annolake_service.api.models.annotations import (
    AnnotationHistoryPublic,
    AnnotationsPublic,
    AnnotationsSavedPublic,
    AnnotationsUpdate,
    CvatVideoImport,
)
from annolake_service.api.models.errors import PROJECT_ERRORS, error_responses
from annolake_service.domain.permissions import Action
from annolake_service.services import annotations as annotation_service

router = APIRouter(
    prefix=f"{PROJECT_PATH}/files/{{file_id}}/annotations", tags=["annotations"], responses=PROJECT_ERRORS
)


@router.get("")
def get_annotations(file_id: str, access: CanReadAnnotations) -> AnnotationsPublic:
    return AnnotationsPublic.model_validate(annotation_service.get_annotations(access.project_id, file_id))


@router.put("", responses=error_responses(400, 409))
def save_annotations(file_id: str, body: AnnotationsUpdate, access: CanWriteAnnotations) -> AnnotationsSavedPublic:
    """Replace the live instances; 409 when ``version`` is not the current one (someone saved meanwhile)."""
    if body.create_labels:
        access.ensure(Action.SCHEMA_WRITE)
    saved = annotation_service.save_annotations(
        access.project_id,
        file_id,
        expected_version=body.version,
        instance_list=body.instance_list,
        author=access.principal.principal_id,
        create_labels=body.create_labels,
    )
    return AnnotationsSavedPublic.model_validate(saved)


@router.put("/cvat-video", responses=error_responses(400, 409))
def import_cvat_video(file_id: str, body: CvatVideoImport, access: CanWriteAnnotations) -> AnnotationsSavedPublic:
    """Replace a video's annotations with the tracks of a CVAT for video 1.1 XML document (as exported by CVAT
    or by the ``cvat_video`` export); 409 when ``version`` is not the current one."""
    if body.create_labels:
        access.ensure(Action.SCHEMA_WRITE)
    saved = annotation_service.import_cvat_video(
        access.project_id,
        file_id,
        document=body.document,
        expected_version=body.version,
        author=access.principal.principal_id,
        create_labels=body.create_labels,
    )
    return AnnotationsSavedPublic.model_validate(saved)


@router.get("/history", responses=error_responses(400))
def annotation_history(
    file_id: str,
    access: CanReadAnnotations,
    instance_root_id: str | None = None,
    cursor: Annotated[str | None, Query(description="the previous page's cursor")] = None,
) -> AnnotationHistoryPublic:
    """The file's versions, oldest first, a page at a time: a page ends early when its versions are large, so
    follow ``cursor`` until it is null."""
    history = annotation_service.history(access.project_id, file_id, instance_root_id=instance_root_id, cursor=cursor)
    return AnnotationHistoryPublic.model_validate(history)
