"""Datasets: list, create, read; a dataset's files (optionally filtered by a slice query), counts and slices."""

from __future__ import annotations

import json
from typing import Annotated, Literal

from fastapi import APIRouter, Query, status

from annolake_service.api.deps import PROJECT_PATH, CanReadDatasets, CanReadFiles, CanWriteDatasets
from annolake_service.api.models.datasets import (
    DatasetCreate,
    DatasetDetailPublic,
    DatasetPublic,
    DatasetsPublic,
    LabelCountsPublic,
)
from annolake_service.api.models.errors import PROJECT_ERRORS, error_responses
from annolake_service.api.models.files import FilePage, FileQueryPage
from annolake_service.api.models.slices import PREDICTIONS_HELP, SliceCreate, SlicePublic
from annolake_service.api.paging import CursorQuery, page_of
from annolake_service.services import dataset_stats, files, projects, slices
from annolake_service.services.query_index import EngineChoice

router = APIRouter(prefix=f"{PROJECT_PATH}/datasets", tags=["datasets"], responses=PROJECT_ERRORS)

QUERY_EXAMPLE = "slice query, e.g. labels.car > 3 and labels.pedestrian >= 1"
ENGINE_HELP = (
    "what runs the query on the dataset's columnar index: auto (Athena past ATHENA_MIN_INDEX_BYTES, else the "
    "embedded engine), embedded, or athena (locally the embedded engine answers; the response's engine says so)"
)


@router.get("", responses=error_responses(400))
def list_datasets(access: CanReadDatasets, cursor: CursorQuery = None) -> DatasetsPublic:
    listed = DatasetsPublic.of(projects.list_datasets(access.project_id)).datasets
    page, next_cursor = page_of(f"datasets:{access.project_id}", listed, cursor, lambda d: [d.name])
    return DatasetsPublic(datasets=page, cursor=next_cursor)


@router.post("", status_code=status.HTTP_201_CREATED, responses=error_responses(400, 409))
def create_dataset(body: DatasetCreate, access: CanWriteDatasets) -> DatasetPublic:
    return DatasetPublic.model_validate(projects.create_dataset(access.project_id, body.name, body.description))


@router.get("/{dataset_name}")
def get_dataset(dataset_name: str, access: CanReadDatasets) -> DatasetDetailPublic:
    dataset = projects.get_dataset(access.project_id, dataset_name)
    return DatasetDetailPublic.of(dataset, files.count_files(access.project_id, dataset_name))


@router.get("/{dataset_name}/files", tags=["files"], responses=error_responses(400))
def list_files(
    dataset_name: str,
    access: CanReadFiles,
    limit: Annotated[int, Query(ge=1, le=files.MAX_PAGE)] = 100,
    cursor: str | None = None,
    status: Literal["ready", "quarantined", "processing"] | None = None,
    query: Annotated[str | None, Query(description=QUERY_EXAMPLE)] = None,
    predictions: Annotated[str | None, Query(min_length=1, max_length=200, description=PREDICTIONS_HELP)] = None,
) -> FilePage:
    """A page of the dataset's files, newest first; with ``query``, only those matching it (a bad query is a 400)."""
    if query:
        if status:
            query = f"({query}) and file.status = {json.dumps(status)}"
        page = slices.query_files(
            access.project_id, dataset_name, query, limit=limit, cursor=cursor, predictions=predictions
        )
    else:
        page = files.list_files(
            access.project_id, dataset_name, limit=limit, cursor=cursor, status=status, predictions=predictions
        )
    return FilePage.model_validate(page)


@router.get("/{dataset_name}/query", tags=["files"], responses=error_responses(400))
def query_dataset(
    dataset_name: str,
    q: Annotated[str, Query(description=QUERY_EXAMPLE)],
    access: CanReadFiles,
    limit: Annotated[int, Query(ge=1, le=files.MAX_PAGE)] = 20,
    engine: Annotated[EngineChoice, Query(description=ENGINE_HELP)] = "auto",
) -> FileQueryPage:
    """How many files match, and the first page of them."""
    page = slices.query_files(access.project_id, dataset_name, q, limit=limit, cursor=None, engine=engine)
    if "count" not in page:  # the table engine pages without counting
        page["count"] = slices.count_files(access.project_id, dataset_name, q, engine=engine)
    return FileQueryPage.model_validate(page)


@router.get("/{dataset_name}/label-counts", responses=error_responses(400))
def label_counts(
    dataset_name: str,
    access: CanReadFiles,
    query: Annotated[str | None, Query(description="count only the files matching this slice query")] = None,
    engine: Annotated[EngineChoice, Query(description=ENGINE_HELP)] = "auto",
) -> LabelCountsPublic:
    """Per label, how many files carry it and how many instances there are (a bad query is a 400)."""
    counts = dataset_stats.label_counts(access.project_id, dataset_name, query or None, engine=engine)
    return LabelCountsPublic.model_validate(counts)


@router.post(
    "/{dataset_name}/slices", status_code=status.HTTP_201_CREATED, tags=["slices"], responses=error_responses(400)
)
def create_slice(dataset_name: str, body: SliceCreate, access: CanReadFiles) -> SlicePublic:
    """Freeze the ready files matching the query into one ordered list that every rank and worker reads."""
    return SlicePublic.model_validate(slices.freeze_slice(access.project_id, dataset_name, body.query))
