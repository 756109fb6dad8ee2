"""API Lambda entry point: API Gateway HTTP API (payload 2.0) -> Mangum -> FastAPI."""

from __future__ import annotations

from mangum import Mangum

from annolake_service.api.app import create_app

handler = Mangum(create_app(), lifespan="off")
