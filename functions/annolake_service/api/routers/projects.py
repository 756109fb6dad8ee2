"""Projects: list yours, create one (you become its admin), read and rename it."""

from __future__ import annotations

from fastapi import APIRouter, status

from annolake_service.api.deps import CanReadProject, CanUpdateProject, CurrentPrincipal
from annolake_service.api.models.errors import AUTH_ERRORS, PROJECT_ERRORS, error_responses
from annolake_service.api.models.projects import ProjectCreate, ProjectPublic, ProjectsPublic, ProjectUpdate
from annolake_service.api.paging import CursorQuery, page_of
from annolake_service.domain.roles import Role
from annolake_service.services import projects
from annolake_service.shared.errors import Forbidden

router = APIRouter(prefix="/projects", tags=["projects"], responses=AUTH_ERRORS)


@router.get("", responses=error_responses(400, 422))
def list_projects(principal: CurrentPrincipal, cursor: CursorQuery = None) -> ProjectsPublic:
    """The projects the signed-in user is a member of, with their role in each."""
    listed = [ProjectPublic.of(project, role) for project, role in projects.projects_of(principal.principal_id)]
    listing = f"projects:{principal.principal_id}"
    page, next_cursor = page_of(listing, listed, cursor, lambda p: [p.project_string_id])
    return ProjectsPublic(projects=page, cursor=next_cursor)


@router.post("", status_code=status.HTTP_201_CREATED, responses=error_responses(400, 403, 409, 422))
def create_project(body: ProjectCreate, principal: CurrentPrincipal) -> ProjectPublic:
    """Users only (an API key belongs to one project); the creator becomes the project's admin."""
    if not principal.principal_id.startswith("user:"):
        raise Forbidden("API keys belong to one project; sign in as a user to create projects")
    project = projects.create_project(body.project_string_id, body.name, creator=principal.principal_id)
    return ProjectPublic.of(project, Role.ADMIN)


@router.get("/{project_string_id}", responses=PROJECT_ERRORS)
def get_project(access: CanReadProject) -> ProjectPublic:
    return ProjectPublic.of(projects.get_project(access.project_id), access.role)


@router.patch("/{project_string_id}", responses=PROJECT_ERRORS)
def update_project(body: ProjectUpdate, access: CanUpdateProject) -> ProjectPublic:
    return ProjectPublic.of(projects.rename_project(access.project_id, body.name), access.role)
