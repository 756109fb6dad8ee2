"""A video frame's annotations: the tracks' shapes on that frame, interpolated between keyframes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from annolake_service.api.deps import PROJECT_PATH, CanReadAnnotations
from annolake_service.api.models.annotations import FrameAnnotationsPublic
from annolake_service.api.models.errors import PROJECT_ERRORS, error_responses
from annolake_service.services import frame_annotations as frame_service

router = APIRouter(prefix=f"{PROJECT_PATH}/files/{{file_id}}/frames", tags=["annotations"], responses=PROJECT_ERRORS)


@router.get("/{frame}/annotations", responses=error_responses(400))
def frame_annotations(
    file_id: str, frame: Annotated[int, Path(ge=0, description="the frame, from 0")], access: CanReadAnnotations
) -> FrameAnnotationsPublic:
    """The video's annotations on one frame; save edits as tracks with PUT /files/{file_id}/annotations."""
    return FrameAnnotationsPublic.model_validate(frame_service.frame_annotations(access.project_id, file_id, frame))
