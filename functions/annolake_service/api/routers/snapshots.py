"""Snapshots: take one from a dataset (and a query), list, describe, stream its pinned versions, diff two."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response, status

from annolake_service.api.deps import PROJECT_PATH, CanCreateExports, CanReadFiles
from annolake_service.api.models.errors import PROJECT_ERRORS, error_responses
from annolake_service.api.models.snapshots import (
    SnapshotCreate,
    SnapshotDiff,
    SnapshotPage,
    SnapshotPublic,
    SnapshotsPublic,
)
from annolake_service.api.paging import CursorQuery, StreamPageQuery, page_of
from annolake_service.services import snapshot_builds, snapshots

router = APIRouter(prefix=PROJECT_PATH, tags=["snapshots"], responses=PROJECT_ERRORS)


@router.post(
    "/datasets/{dataset_name}/snapshots",
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {"model": SnapshotPublic, "description": "The name already holds this very content: that snapshot"},
        202: {"model": SnapshotPublic, "description": "Too large for one request: pending while it is built"},
        **error_responses(400, 409, 503),
    },
)
def create_snapshot(
    dataset_name: str, body: SnapshotCreate, access: CanCreateExports, response: Response
) -> SnapshotPublic:
    """Pin the dataset's ready files matching the query: each file's media sha256 and annotation version.

    201 when taken now; 202 when it is too large to build within the request (``status`` pending: GET it until
    it is ready or failed); 200 with the existing snapshot when the name already holds the same content (or is
    being built from the same dataset and query); 409 when the name holds other content (snapshots are
    immutable)."""
    body_out, created = snapshot_builds.create_snapshot(
        access.project_id, dataset_name, body.name, body.query, author=access.principal.principal_id
    )
    if not created:
        response.status_code = status.HTTP_200_OK
    elif body_out["status"] == "pending":
        response.status_code = status.HTTP_202_ACCEPTED
    return SnapshotPublic.model_validate(body_out)


@router.get("/snapshots", responses=error_responses(400))
def list_snapshots(access: CanReadFiles, cursor: CursorQuery = None) -> SnapshotsPublic:
    listed = [SnapshotPublic.model_validate(s) for s in snapshots.list_snapshots(access.project_id)]
    page, next_cursor = page_of(f"snapshots:{access.project_id}", listed, cursor, lambda s: [s.name])
    return SnapshotsPublic(snapshots=page, cursor=next_cursor)


@router.get("/snapshots/{snapshot_ref}", responses=error_responses(400))
def get_snapshot(snapshot_ref: str, access: CanReadFiles) -> SnapshotPublic:
    """A snapshot by name, or by its digest or a unique prefix of it (at least 8 hex digits)."""
    return SnapshotPublic.model_validate(snapshots.describe(access.project_id, snapshot_ref))


@router.get("/snapshots/{snapshot_ref}/items", response_model=SnapshotPage, responses=error_responses(400))
def snapshot_items(snapshot_ref: str, access: CanReadFiles, page: StreamPageQuery) -> dict[str, Any]:
    """A stream page: the pinned annotation version of each file (whatever was saved since) and presigned URLs."""
    return snapshots.snapshot_page(access.project_id, snapshot_ref, **page)


@router.get("/snapshots/{snapshot_ref}/diff/{other_ref}", responses=error_responses(400))
def diff_snapshots(
    snapshot_ref: str,
    other_ref: str,
    access: CanReadFiles,
    limit: Annotated[int, Query(ge=0, le=snapshots.MAX_DIFF_IDS, description="file ids listed per kind")] = 1000,
) -> SnapshotDiff:
    """What changed from this snapshot to the other: added, removed and changed files, per-label deltas."""
    return SnapshotDiff.model_validate(snapshots.diff(access.project_id, snapshot_ref, other_ref, limit=limit))
