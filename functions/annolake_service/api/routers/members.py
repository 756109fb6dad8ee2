"""A project's members: list them, invite a user, change a role, remove someone."""

from __future__ import annotations

from fastapi import APIRouter, status

from annolake_service.api.deps import PROJECT_PATH, CanManageMembers, CanReadMembers
from annolake_service.api.models.errors import PROJECT_ERRORS, error_responses
from annolake_service.api.models.members import (
    MemberCreate,
    MemberInvitedPublic,
    MemberPublic,
    MembersPublic,
    MemberUpdate,
)
from annolake_service.api.paging import CursorQuery, page_of
from annolake_service.services import projects

router = APIRouter(prefix=f"{PROJECT_PATH}/members", tags=["members"], responses=PROJECT_ERRORS)


@router.get("", responses=error_responses(400))
def list_members(access: CanReadMembers, cursor: CursorQuery = None) -> MembersPublic:
    listed = MembersPublic.of(projects.list_members(access.project_id)).members
    page, next_cursor = page_of(f"members:{access.project_id}", listed, cursor, lambda m: [m.principal_id])
    return MembersPublic(members=page, cursor=next_cursor)


@router.post("", status_code=status.HTTP_201_CREATED, responses=error_responses(400))
def invite_member(body: MemberCreate, access: CanManageMembers) -> MemberInvitedPublic:
    """Add a user with a role; a user who does not exist yet is created and emailed an invitation."""
    invited = projects.invite_member(access.project_id, username=body.username, email=body.email, role=body.role)
    return MemberInvitedPublic(principal_id=projects.user_principal(body.username), role=body.role, invited=invited)


@router.patch("/{principal_id}", responses=error_responses(400, 409))
def change_role(principal_id: str, body: MemberUpdate, access: CanManageMembers) -> MemberPublic:
    """409 when it would leave the project without an admin."""
    projects.set_member_role(access.project_id, principal_id, body.role)
    return MemberPublic(principal_id=principal_id, role=body.role)


@router.delete("/{principal_id}", status_code=status.HTTP_204_NO_CONTENT, responses=error_responses(409))
def remove_member(principal_id: str, access: CanManageMembers) -> None:
    """409 when it would leave the project without an admin."""
    projects.remove_member(access.project_id, principal_id)
