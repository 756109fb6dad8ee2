"""API keys: the credentials the SDK sends, one project and one role each."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from annolake_service.api.models.paging import NextCursor
from annolake_service.domain.roles import Role

#: Said with every newly issued key.
SHOWN_ONCE = "the secret is shown once; store it now"


class ApiKeyCreate(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    role: Role = Role.EDITOR


class ApiKeyPublic(BaseModel):
    """A key as listed: never its secret."""

    model_config = ConfigDict(from_attributes=True)

    project_id: str
    client_id: str
    role: Role
    name: str
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None


class ApiKeysPublic(BaseModel):
    api_keys: list[ApiKeyPublic]
    cursor: NextCursor = None

    @classmethod
    def of(cls, keys: Iterable[object]) -> ApiKeysPublic:
        return cls(api_keys=[ApiKeyPublic.model_validate(key) for key in keys])


class ApiKeyIssuedPublic(BaseModel):
    client_id: str
    client_secret: str = Field(description="shown this once")
    role: Role
    name: str
    note: str
