"""Direct uploads: ask for a presigned POST, send the file to S3, then poll the upload."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, status
from pydantic import BaseModel, Field

from annolake_service.api.deps import ProjectAccess, require
from annolake_service.domain.permissions import Action
from annolake_service.services import uploads

router = APIRouter(tags=["uploads"])
P = "/projects/{project_string_id}"


class UploadRequest(BaseModel):
    dataset: str = Field(description="dataset the file joins (created if missing)")
    file_name: str
    content_type: str = Field(description="e.g. image/jpeg")
    size_bytes: int = Field(description="exact size; S3 refuses a larger body")


@router.post(P + "/uploads", status_code=status.HTTP_201_CREATED)
def request_upload(
    body: UploadRequest, access: Annotated[ProjectAccess, Depends(require(Action.FILE_UPLOAD))]
) -> dict[str, Any]:
    return uploads.request_upload(
        access.project_id,
        dataset_name=body.dataset,
        file_name=body.file_name,
        content_type=body.content_type,
        size_bytes=body.size_bytes,
        author=access.principal.principal_id,
    )


@router.get(P + "/uploads/{upload_id}")
def get_upload(upload_id: str, access: Annotated[ProjectAccess, Depends(require(Action.FILE_READ))]) -> dict:
    return uploads.get_upload(access.project_id, upload_id)
