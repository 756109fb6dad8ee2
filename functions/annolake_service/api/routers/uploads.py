"""Direct uploads: ask for a presigned POST, send the file to S3, then poll the upload."""

from __future__ import annotations

from fastapi import APIRouter, status

from annolake_service.api.deps import PROJECT_PATH, CanReadFiles, CanUploadFiles
from annolake_service.api.models.errors import PROJECT_ERRORS, error_responses
from annolake_service.api.models.uploads import UploadCreate, UploadPublic, UploadTicketPublic
from annolake_service.services import uploads

router = APIRouter(prefix=f"{PROJECT_PATH}/uploads", tags=["uploads"], responses=PROJECT_ERRORS)


@router.post("", status_code=status.HTTP_201_CREATED, responses=error_responses(400))
def request_upload(body: UploadCreate, access: CanUploadFiles) -> UploadTicketPublic:
    """A presigned POST for one file; once S3 has it, the file is ingested (poll the upload for the outcome)."""
    ticket = uploads.request_upload(
        access.project_id,
        dataset_name=body.dataset,
        file_name=body.file_name,
        content_type=body.content_type,
        size_bytes=body.size_bytes,
        author=access.principal.principal_id,
    )
    return UploadTicketPublic.model_validate(ticket)


@router.get("/{upload_id}")
def get_upload(upload_id: str, access: CanReadFiles) -> UploadPublic:
    return UploadPublic.model_validate(uploads.get_upload(access.project_id, upload_id))
