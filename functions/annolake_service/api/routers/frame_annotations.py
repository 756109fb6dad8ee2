"""A video frame's annotations (the tracks' shapes on that frame, interpolated between keyframes), and a range
of frames with theirs, as a loader reads them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from annolake_service.api.deps import PROJECT_PATH, CanReadAnnotations
from annolake_service.api.models.annotations import FrameAnnotationsPublic, FrameRangePublic
from annolake_service.api.models.errors import PROJECT_ERRORS, error_responses
from annolake_service.services import frame_annotations as frame_service
from annolake_service.services import video_frames

router = APIRouter(prefix=f"{PROJECT_PATH}/files/{{file_id}}/frames", tags=["annotations"], responses=PROJECT_ERRORS)


@router.get("/{frame}/annotations", responses=error_responses(400))
def frame_annotations(
    file_id: str, frame: Annotated[int, Path(ge=0, description="the frame, from 0")], access: CanReadAnnotations
) -> FrameAnnotationsPublic:
    """The video's annotations on one frame; save edits as tracks with PUT /files/{file_id}/annotations."""
    return FrameAnnotationsPublic.model_validate(frame_service.frame_annotations(access.project_id, file_id, frame))


@router.get("", responses=error_responses(400))
def frame_range(
    file_id: str,
    access: CanReadAnnotations,
    start: Annotated[int, Query(ge=0, description="the first frame, from 0")] = 0,
    count: Annotated[int, Query(ge=1, le=video_frames.MAX_FRAME_RANGE, description="frames, clipped at the end")] = 32,
    url_expires_in: Annotated[int | None, Query(ge=1, description="seconds the presigned URLs live")] = None,
) -> FrameRangePublic:
    """Frames ``start`` .. ``start+count-1`` of a video: each one's annotations, as /frames/{frame}/annotations
    answers them, and presigned URLs of the chunks of JPEG frames that hold them (what the SDK's frames mode reads)."""
    answer = video_frames.frame_range(
        access.project_id, file_id, start=start, count=count, url_expires_in=url_expires_in
    )
    return FrameRangePublic.model_validate(answer)
