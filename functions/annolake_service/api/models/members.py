"""Project members: users and API keys, each with one role."""

from __future__ import annotations

from pydantic import BaseModel, Field

from annolake_service.api.models.paging import NextCursor
from annolake_service.domain.roles import Role


class MemberCreate(BaseModel):
    username: str = Field(min_length=1, max_length=128)
    email: str | None = Field(default=None, description="needed when the user does not exist yet: they get an invite")
    role: Role


class MemberUpdate(BaseModel):
    role: Role


class MemberPublic(BaseModel):
    principal_id: str = Field(description="'user:<username>' or 'key:<client_id>'")
    role: Role


class MemberInvitedPublic(MemberPublic):
    invited: bool = Field(description="true when the user was created and sent an invitation")


class MembersPublic(BaseModel):
    members: list[MemberPublic]
    cursor: NextCursor = None

    @classmethod
    def of(cls, members: list[tuple[str, Role]]) -> MembersPublic:
        return cls(members=[MemberPublic(principal_id=principal, role=role) for principal, role in members])
