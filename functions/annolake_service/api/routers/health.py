"""``GET /api/v1/health``: version, and whether the table and buckets answer."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from annolake_service import __version__
from annolake_service.api.models.health import HealthPublic
from annolake_service.services.health import check_health

router = APIRouter(prefix="/health", tags=["health"])


@router.get(
    "",
    response_model=HealthPublic,
    responses={503: {"model": HealthPublic, "description": "The table or a bucket does not answer"}},
)
def health() -> JSONResponse:
    """Unauthenticated: 200 when every check passes, 503 (same body) when one fails."""
    stage, checks = check_health()
    ok = all(checks.values())
    report = HealthPublic(status="ok" if ok else "degraded", version=__version__, stage=stage, checks=checks)
    return JSONResponse(status_code=200 if ok else 503, content=report.model_dump())
