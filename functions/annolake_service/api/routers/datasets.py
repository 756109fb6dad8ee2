"""Datasets and their files."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, status
from pydantic import BaseModel, Field

from annolake_service.api import views
from annolake_service.api.deps import ProjectAccess, require
from annolake_service.domain.permissions import Action
from annolake_service.services import files, projects, slices

router = APIRouter(tags=["datasets", "files"])
P = "/projects/{project_string_id}"


class DatasetCreate(BaseModel):
    name: str
    description: str = ""


class MetadataUpdate(BaseModel):
    metadata: dict[str, Any] = Field(description="replaces the file's user metadata (a JSON object)")


class Transfer(BaseModel):
    file_ids: list[str] = Field(min_length=1, max_length=500)
    mode: Literal["mirror", "move", "copy"]
    target_dataset: str
    source_dataset: str | None = None


def _dataset_body(dataset: Any) -> dict[str, Any]:
    return dataset.model_dump(mode="json", exclude={"project_id"})


@router.get(P + "/datasets", response_model=views.DatasetList)
def list_datasets(access: Annotated[ProjectAccess, Depends(require(Action.DATASET_READ))]) -> dict[str, Any]:
    return {"datasets": [_dataset_body(d) for d in projects.list_datasets(access.project_id)]}


@router.post(P + "/datasets", status_code=status.HTTP_201_CREATED, response_model=views.DatasetView)
def create_dataset(
    body: DatasetCreate, access: Annotated[ProjectAccess, Depends(require(Action.DATASET_WRITE))]
) -> dict[str, Any]:
    return _dataset_body(projects.create_dataset(access.project_id, body.name, body.description))


@router.get(P + "/datasets/{dataset_name}", response_model=views.DatasetDetail)
def get_dataset(
    dataset_name: str, access: Annotated[ProjectAccess, Depends(require(Action.DATASET_READ))]
) -> dict[str, Any]:
    body = _dataset_body(projects.get_dataset(access.project_id, dataset_name))
    body["file_count"] = files.count_files(access.project_id, dataset_name)
    return body


@router.get(P + "/datasets/{dataset_name}/files", response_model=views.FilePage)
def list_files(
    dataset_name: str,
    access: Annotated[ProjectAccess, Depends(require(Action.FILE_READ))],
    limit: Annotated[int, Query(ge=1, le=files.MAX_PAGE)] = 100,
    cursor: str | None = None,
    status: Literal["ready", "quarantined", "processing"] | None = None,
    query: Annotated[
        str | None, Query(description="slice query, e.g. labels.car > 3 and labels.pedestrian >= 1")
    ] = None,
) -> dict[str, Any]:
    if query:
        if status:
            query = f"({query}) and file.status = {json.dumps(status)}"
        return slices.query_files(access.project_id, dataset_name, query, limit=limit, cursor=cursor)
    return files.list_files(access.project_id, dataset_name, limit=limit, cursor=cursor, status=status)


@router.get(P + "/datasets/{dataset_name}/query", response_model=views.QueryResult)
def query_dataset(
    dataset_name: str,
    q: Annotated[str, Query(description="slice query (DESIGN §6)")],
    access: Annotated[ProjectAccess, Depends(require(Action.FILE_READ))],
    limit: Annotated[int, Query(ge=1, le=files.MAX_PAGE)] = 20,
) -> dict[str, Any]:
    """How many files match, and the first page of them."""
    page = slices.query_files(access.project_id, dataset_name, q, limit=limit, cursor=None)
    return {"count": slices.count_files(access.project_id, dataset_name, q), **page}


@router.get(P + "/files/{file_id}", response_model=views.FileView)
def get_file(file_id: str, access: Annotated[ProjectAccess, Depends(require(Action.FILE_READ))]) -> dict[str, Any]:
    return files.describe(files.get_file(access.project_id, file_id))


@router.patch(P + "/files/{file_id}", response_model=views.FileView)
def update_file(
    file_id: str, body: MetadataUpdate, access: Annotated[ProjectAccess, Depends(require(Action.FILE_UPDATE))]
) -> dict[str, Any]:
    return files.describe(files.update_metadata(access.project_id, file_id, body.metadata))


@router.delete(P + "/files/{file_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_file(file_id: str, access: Annotated[ProjectAccess, Depends(require(Action.FILE_DELETE))]) -> None:
    files.delete_file(access.project_id, file_id)


@router.post(P + "/files/transfer")
def transfer_files(
    body: Transfer, access: Annotated[ProjectAccess, Depends(require(Action.FILE_UPDATE))]
) -> dict[str, Any]:
    file_ids = files.transfer(
        access.project_id,
        body.file_ids,
        mode=body.mode,
        target_dataset=body.target_dataset,
        source_dataset=body.source_dataset,
        author=access.principal.principal_id,
    )
    return {"mode": body.mode, "target_dataset": body.target_dataset, "file_ids": file_ids}
