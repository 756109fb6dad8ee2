"""One file: read (with fresh presigned URLs), replace its metadata, delete; move files between datasets;
add a file from a URL or a packet."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Path, Response, status

from annolake_service.api.deps import (
    PROJECT_PATH,
    CanDeleteFiles,
    CanReadFiles,
    CanUpdateFiles,
    CanUploadFiles,
    ProjectAccess,
)
from annolake_service.api.models.errors import PROJECT_ERRORS, error_responses
from annolake_service.api.models.files import FilePublic, FileTransferCreate, FileTransferPublic, FileUpdate
from annolake_service.api.models.uploads import PacketUploadCreate, UploadPublic, UrlUploadCreate
from annolake_service.domain.permissions import Action
from annolake_service.services import files, uploads, video_frames

router = APIRouter(prefix=f"{PROJECT_PATH}/files", tags=["files"], responses=PROJECT_ERRORS)


@router.get("/{file_id}")
def get_file(file_id: str, access: CanReadFiles) -> FilePublic:
    return FilePublic.model_validate(files.describe(files.get_file(access.project_id, file_id)))


@router.get(
    "/{file_id}/frames/{frame}",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}}, "description": "the frame as JPEG"}, **error_responses(400)},
)
def get_frame(
    file_id: str, access: CanReadFiles, frame: int = Path(ge=0, description="0-based, presentation order")
) -> Response:
    """Frame ``frame`` of a video as JPEG (its time: the video's timestamps_url lists every frame's)."""
    body = video_frames.frame_jpeg(access.project_id, file_id, frame)
    return Response(body, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=3600"})


@router.patch("/{file_id}", responses=error_responses(400))
def update_file(file_id: str, body: FileUpdate, access: CanUpdateFiles) -> FilePublic:
    return FilePublic.model_validate(files.describe(files.update_metadata(access.project_id, file_id, body.metadata)))


@router.delete("/{file_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_file(file_id: str, access: CanDeleteFiles) -> None:
    files.delete_file(access.project_id, file_id)


@router.post("/transfer", responses=error_responses(400))
def transfer_files(body: FileTransferCreate, access: CanUpdateFiles) -> FileTransferPublic:
    """mirror: also list the files in the target; move: mirror, then leave the source; copy: new files sharing
    the media, with a copy of the current annotations."""
    file_ids = files.transfer(
        access.project_id,
        body.file_ids,
        mode=body.mode,
        target_dataset=body.target_dataset,
        source_dataset=body.source_dataset,
        author=access.principal.principal_id,
    )
    return FileTransferPublic(mode=body.mode, target_dataset=body.target_dataset, file_ids=file_ids)


def _import(
    access: ProjectAccess,
    *,
    url: str,
    dataset: str,
    instances: list[dict[str, Any]] | None,
    create_labels: bool,
    media_type: str,
) -> UploadPublic:
    if create_labels:
        access.ensure(Action.SCHEMA_WRITE)
    upload = uploads.import_from_url(
        access.project_id,
        dataset_name=dataset,
        url=url,
        instance_list=instances,
        create_labels=create_labels,
        author=access.principal.principal_id,
        media_type=media_type,
    )
    return UploadPublic.model_validate(upload)


@router.post("/from_url", status_code=status.HTTP_202_ACCEPTED, tags=["uploads"], responses=error_responses(400))
def from_url(body: UrlUploadCreate, access: CanUploadFiles) -> UploadPublic:
    """Download the URL now, ingest it asynchronously: poll ``GET /uploads/{upload_id}``."""
    return _import(
        access,
        url=body.url,
        dataset=body.dataset,
        instances=body.instance_list,
        create_labels=body.create_labels,
        media_type="image",
    )


@router.post("/from_packet", status_code=status.HTTP_202_ACCEPTED, tags=["uploads"], responses=error_responses(400))
def from_packet(body: PacketUploadCreate, access: CanUploadFiles) -> UploadPublic:
    """Like ``from_url``, with the media and its pre-labels in one packet."""
    return _import(
        access,
        url=body.media.url,
        dataset=body.dataset,
        instances=body.instance_list,
        create_labels=body.create_labels,
        media_type=body.media.type,
    )
