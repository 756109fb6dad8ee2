"""Direct uploads: ask for a presigned POST, send the file to S3, then poll the upload."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, status
from pydantic import BaseModel, Field

from annolake_service.api import views
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


@router.post(P + "/uploads", status_code=status.HTTP_201_CREATED, response_model=views.UploadTicket)
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


class UrlImport(BaseModel):
    url: str = Field(description="http(s) URL of an image on a public host")
    dataset: str = "default"
    instance_list: list[dict[str, Any]] | None = Field(default=None, description="pre-labels (packet shape)")
    create_labels: bool = False


class PacketMedia(BaseModel):
    url: str
    type: str = "image"


class Packet(BaseModel):
    """Diffgram's packet: ``{"media": {"url", "type"}, "instance_list": [...]}``."""

    media: PacketMedia
    instance_list: list[dict[str, Any]] = Field(default_factory=list)
    dataset: str = "default"
    create_labels: bool = False


def _import(access: ProjectAccess, *, url: str, dataset: str, instances, create_labels: bool, media_type: str):
    if create_labels:
        access.ensure(Action.SCHEMA_WRITE)
    return uploads.import_from_url(
        access.project_id,
        dataset_name=dataset,
        url=url,
        instance_list=instances,
        create_labels=create_labels,
        author=access.principal.principal_id,
        media_type=media_type,
    )


@router.post(P + "/files/from_url", status_code=status.HTTP_202_ACCEPTED, response_model=views.UploadView)
def from_url(body: UrlImport, access: Annotated[ProjectAccess, Depends(require(Action.FILE_UPLOAD))]) -> dict:
    """Download the URL now, ingest it asynchronously: poll ``GET /uploads/{upload_id}``."""
    return _import(
        access,
        url=body.url,
        dataset=body.dataset,
        instances=body.instance_list,
        create_labels=body.create_labels,
        media_type="image",
    )


@router.post(P + "/files/from_packet", status_code=status.HTTP_202_ACCEPTED, response_model=views.UploadView)
def from_packet(body: Packet, access: Annotated[ProjectAccess, Depends(require(Action.FILE_UPLOAD))]) -> dict:
    return _import(
        access,
        url=body.media.url,
        dataset=body.dataset,
        instances=body.instance_list,
        create_labels=body.create_labels,
        media_type=body.media.type,
    )


@router.get(P + "/uploads/{upload_id}", response_model=views.UploadView)
def get_upload(upload_id: str, access: Annotated[ProjectAccess, Depends(require(Action.FILE_READ))]) -> dict:
    return uploads.get_upload(access.project_id, upload_id)
