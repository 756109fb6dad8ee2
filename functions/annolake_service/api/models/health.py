"""The health report: version, stage, and whether the table and buckets answer."""

from __future__ import annotations

from pydantic import BaseModel


class HealthPublic(BaseModel):
    status: str
    version: str
    stage: str
    checks: dict[str, bool]
