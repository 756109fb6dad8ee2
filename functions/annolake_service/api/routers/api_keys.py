"""A project's API keys: list, issue (the secret is shown once), revoke."""

from __future__ import annotations

from fastapi import APIRouter, status

from annolake_service.api.deps import PROJECT_PATH, CanManageApiKeys
from annolake_service.api.models.api_keys import SHOWN_ONCE, ApiKeyCreate, ApiKeyIssuedPublic, ApiKeysPublic
from annolake_service.api.models.errors import PROJECT_ERRORS, error_responses
from annolake_service.api.paging import CursorQuery, page_of
from annolake_service.services import projects

router = APIRouter(prefix=f"{PROJECT_PATH}/api-keys", tags=["api-keys"], responses=PROJECT_ERRORS)


@router.get("", responses=error_responses(400))
def list_api_keys(access: CanManageApiKeys, cursor: CursorQuery = None) -> ApiKeysPublic:
    listed = ApiKeysPublic.of(projects.list_api_keys(access.project_id)).api_keys
    page, next_cursor = page_of(f"api-keys:{access.project_id}", listed, cursor, lambda k: [k.client_id])
    return ApiKeysPublic(api_keys=page, cursor=next_cursor)


@router.post("", status_code=status.HTTP_201_CREATED)
def create_api_key(body: ApiKeyCreate, access: CanManageApiKeys) -> ApiKeyIssuedPublic:
    issued = projects.issue_api_key(access.project_id, role=body.role, name=body.name)
    return ApiKeyIssuedPublic(
        client_id=issued.client_id, client_secret=issued.client_secret, role=body.role, name=body.name, note=SHOWN_ONCE
    )


@router.delete("/{client_id}", status_code=status.HTTP_204_NO_CONTENT)
def revoke_api_key(client_id: str, access: CanManageApiKeys) -> None:
    projects.revoke_api_key(access.project_id, client_id)
