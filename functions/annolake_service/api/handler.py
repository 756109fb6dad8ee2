"""API Lambda entry point: API Gateway HTTP API (payload 2.0) -> Mangum -> FastAPI."""

from __future__ import annotations

from mangum import Mangum

from annolake_service.api.app import create_app
from annolake_service.services.health import connect_api

connect_api()  # in the init phase, not the first request
handler = Mangum(create_app(), lifespan="off")
