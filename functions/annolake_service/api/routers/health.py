"""``GET /api/v1/health``: version, and whether the table and buckets answer."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from annolake_service import __version__
from annolake_service.services.health import check_health

router = APIRouter(tags=["health"])


class HealthReport(BaseModel):
    status: str
    version: str
    stage: str
    checks: dict[str, bool]


@router.get("/health", response_model=HealthReport, responses={503: {"model": HealthReport}})
def health() -> JSONResponse:
    stage, checks = check_health()
    ok = all(checks.values())
    report = HealthReport(status="ok" if ok else "degraded", version=__version__, stage=stage, checks=checks)
    return JSONResponse(status_code=200 if ok else 503, content=report.model_dump())
