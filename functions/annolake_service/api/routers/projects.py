"""Projects, members and API keys."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, status
from pydantic import BaseModel, Field

from annolake_service.api import views
from annolake_service.api.deps import Principal, ProjectAccess, authenticate, require
from annolake_service.domain.permissions import Action
from annolake_service.domain.roles import Role
from annolake_service.services import projects
from annolake_service.shared.errors import Forbidden

router = APIRouter(tags=["projects"])
P = "/projects/{project_string_id}"


class ProjectCreate(BaseModel):
    project_string_id: str = Field(description="URL-safe id: 2-63 lowercase letters, digits, '-'")
    name: str = Field(min_length=1, max_length=200)


class ProjectUpdate(BaseModel):
    name: str = Field(min_length=1, max_length=200)


class MemberInvite(BaseModel):
    username: str = Field(min_length=1, max_length=128)
    email: str | None = Field(default=None, description="needed when the user does not exist yet: they get an invite")
    role: Role


class RoleChange(BaseModel):
    role: Role


class ApiKeyCreate(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    role: Role = Role.EDITOR


def _project_body(project: Any, role: Role | None = None) -> dict[str, Any]:
    body = {"project_string_id": project.project_id, "name": project.name, "created_at": project.created_at}
    if role is not None:
        body["role"] = role
    return body


@router.get("/projects", response_model=views.ProjectList)
def list_projects(principal: Annotated[Principal, Depends(authenticate)]) -> dict[str, Any]:
    return {"projects": [_project_body(p, r) for p, r in projects.projects_of(principal.principal_id)]}


@router.post("/projects", status_code=status.HTTP_201_CREATED, response_model=views.ProjectView)
def create_project(body: ProjectCreate, principal: Annotated[Principal, Depends(authenticate)]) -> dict[str, Any]:
    if not principal.principal_id.startswith("user:"):
        raise Forbidden("API keys belong to one project; sign in as a user to create projects")
    project = projects.create_project(body.project_string_id, body.name, creator=principal.principal_id)
    return _project_body(project, Role.ADMIN)


@router.get(P, response_model=views.ProjectView)
def get_project(access: Annotated[ProjectAccess, Depends(require(Action.PROJECT_READ))]) -> dict[str, Any]:
    return _project_body(projects.get_project(access.project_id), access.role)


@router.patch(P, response_model=views.ProjectView)
def update_project(
    body: ProjectUpdate, access: Annotated[ProjectAccess, Depends(require(Action.PROJECT_UPDATE))]
) -> dict[str, Any]:
    return _project_body(projects.rename_project(access.project_id, body.name), access.role)


@router.get(P + "/members", response_model=views.MemberList)
def list_members(access: Annotated[ProjectAccess, Depends(require(Action.MEMBER_READ))]) -> dict[str, Any]:
    return {"members": [{"principal_id": p, "role": r} for p, r in projects.list_members(access.project_id)]}


@router.post(P + "/members", status_code=status.HTTP_201_CREATED, response_model=views.MemberInvited)
def invite_member(
    body: MemberInvite, access: Annotated[ProjectAccess, Depends(require(Action.MEMBER_MANAGE))]
) -> dict[str, Any]:
    invited = projects.invite_member(access.project_id, username=body.username, email=body.email, role=body.role)
    return {"principal_id": projects.user_principal(body.username), "role": body.role, "invited": invited}


@router.patch(P + "/members/{principal_id}", response_model=views.MemberView)
def change_role(
    principal_id: str, body: RoleChange, access: Annotated[ProjectAccess, Depends(require(Action.MEMBER_MANAGE))]
) -> dict[str, Any]:
    projects.set_member_role(access.project_id, principal_id, body.role)
    return {"principal_id": principal_id, "role": body.role}


@router.delete(P + "/members/{principal_id}", status_code=status.HTTP_204_NO_CONTENT)
def remove_member(principal_id: str, access: Annotated[ProjectAccess, Depends(require(Action.MEMBER_MANAGE))]) -> None:
    projects.remove_member(access.project_id, principal_id)


@router.get(P + "/api-keys", response_model=views.ApiKeyList)
def list_api_keys(access: Annotated[ProjectAccess, Depends(require(Action.API_KEY_MANAGE))]) -> dict[str, Any]:
    keys = projects.list_api_keys(access.project_id)
    return {"api_keys": [k.model_dump(mode="json", exclude={"secret_hash"}) for k in keys]}


@router.post(P + "/api-keys", status_code=status.HTTP_201_CREATED, response_model=views.ApiKeyIssued)
def create_api_key(
    body: ApiKeyCreate, access: Annotated[ProjectAccess, Depends(require(Action.API_KEY_MANAGE))]
) -> dict[str, Any]:
    issued = projects.issue_api_key(access.project_id, role=body.role, name=body.name)
    return {
        "client_id": issued.client_id,
        "client_secret": issued.client_secret,
        "role": body.role,
        "name": body.name,
        "note": "the secret is shown once; store it now",
    }


@router.delete(P + "/api-keys/{client_id}", status_code=status.HTTP_204_NO_CONTENT)
def revoke_api_key(client_id: str, access: Annotated[ProjectAccess, Depends(require(Action.API_KEY_MANAGE))]) -> None:
    projects.revoke_api_key(access.project_id, client_id)
