"""Projects: create, rename, and how a caller sees them (with their role)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from annolake_service.api.models.paging import NextCursor
from annolake_service.domain.entities import Project
from annolake_service.domain.roles import Role


class ProjectCreate(BaseModel):
    project_string_id: str = Field(description="URL-safe id: 2-63 lowercase letters, digits, '-'")
    name: str = Field(min_length=1, max_length=200)


class ProjectUpdate(BaseModel):
    name: str = Field(min_length=1, max_length=200)


class ProjectPublic(BaseModel):
    project_string_id: str
    name: str
    created_at: datetime
    role: Role = Field(description="the caller's role in the project")

    @classmethod
    def of(cls, project: Project, role: Role) -> ProjectPublic:
        return cls(project_string_id=project.project_id, name=project.name, created_at=project.created_at, role=role)


class ProjectsPublic(BaseModel):
    projects: list[ProjectPublic]
    cursor: NextCursor = None
