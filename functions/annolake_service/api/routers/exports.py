"""Exports of snapshots: start (or reuse) one, follow its progress, download it, cancel it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from annolake_service.api.deps import PROJECT_PATH, CanCreateExports, CanReadFiles
from annolake_service.api.models.errors import PROJECT_ERRORS, error_responses
from annolake_service.api.models.snapshots import (
    ExportCreate,
    ExportPublic,
    ExportsPublic,
    PackCreate,
    ReferencesPublic,
    ShardsPublic,
)
from annolake_service.api.paging import CursorQuery, page_of
from annolake_service.services import exports

router = APIRouter(prefix=PROJECT_PATH, tags=["exports"], responses=PROJECT_ERRORS)


@router.post(
    "/snapshots/{snapshot_ref}/exports",
    status_code=status.HTTP_202_ACCEPTED,
    responses={
        200: {"model": ExportPublic, "description": "This export exists (done, or running): it is reused"},
        **error_responses(400),
    },
)
def create_export(snapshot_ref: str, body: ExportCreate, access: CanCreateExports, response: Response) -> ExportPublic:
    """Export the snapshot in a format. 202 when a run started (a new export, or a failed one re-driven); 200 with
    the existing export when the same snapshot content was already exported (or is being) in this format."""
    found, started = exports.create_export(
        access.project_id, snapshot_ref, body.format, body.options, author=access.principal.principal_id
    )
    if not started:
        response.status_code = status.HTTP_200_OK
    return ExportPublic.model_validate(found)


@router.post(
    "/snapshots/{snapshot_ref}/pack",
    status_code=status.HTTP_202_ACCEPTED,
    responses={
        200: {"model": ExportPublic, "description": "This pack exists (done, or running): it is reused"},
        **error_responses(400),
    },
)
def pack_snapshot(snapshot_ref: str, body: PackCreate, access: CanCreateExports, response: Response) -> ExportPublic:
    """Pack the snapshot into tar shards of media and pinned annotations (the ``packed`` export): 202 when a run
    started, 200 with the existing pack of the same snapshot content and shard size."""
    options = {} if body.shard_bytes is None else {"shard_bytes": body.shard_bytes}
    found, started = exports.create_export(
        access.project_id, snapshot_ref, "packed", options, author=access.principal.principal_id
    )
    if not started:
        response.status_code = status.HTTP_200_OK
    return ExportPublic.model_validate(found)


@router.get("/exports/{export_id}/shards", responses=error_responses(409))
def export_shards(export_id: str, access: CanReadFiles, cursor: CursorQuery = None) -> ShardsPublic:
    """A completed pack's shards with presigned GET URLs, a page at a time in name order (409 while it runs;
    404 for an export of another format)."""
    return ShardsPublic.model_validate(exports.shard_urls(access.project_id, export_id, cursor))


@router.get("/exports/{export_id}/references", responses=error_responses(400, 409))
def export_references(
    export_id: str,
    access: CanReadFiles,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=exports.REFERENCES_PAGE)] = exports.REFERENCES_PAGE,
    url_expires_in: Annotated[int | None, Query(ge=1, description="seconds the presigned URLs live")] = None,
) -> ReferencesPublic:
    """Presigned GETs of the originals a completed export names by S3 URI (``references``), for a range of its
    snapshot's files, minted for this answer: what the SDK's ``references="presigned"`` writes into the
    downloaded export (409 while it runs, or for an export without references)."""
    found = exports.references(access.project_id, export_id, offset=offset, limit=limit, url_expires_in=url_expires_in)
    return ReferencesPublic.model_validate(found)


@router.get("/exports", responses=error_responses(400))
def list_exports(access: CanReadFiles, cursor: CursorQuery = None) -> ExportsPublic:
    listed = [ExportPublic.model_validate(e) for e in exports.list_exports(access.project_id)]
    page, next_cursor = page_of(f"exports:{access.project_id}", listed, cursor, lambda e: [e.export_id])
    return ExportsPublic(exports=page, cursor=next_cursor)


@router.get("/exports/{export_id}")
def get_export(export_id: str, access: CanReadFiles) -> ExportPublic:
    """Status and progress; once completed, a presigned download URL minted for this answer."""
    return ExportPublic.model_validate(exports.describe(access.project_id, export_id))


@router.post("/exports/{export_id}/cancel", responses=error_responses(409))
def cancel_export(export_id: str, access: CanCreateExports) -> ExportPublic:
    """Stop a queued or running export: its execution is stopped and its partial output removed (409 once it
    has finished). Asking for the same export again re-drives it."""
    return ExportPublic.model_validate(exports.cancel(access.project_id, export_id))
