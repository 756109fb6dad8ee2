"""The FastAPI application: the API Lambda wraps it with Mangum; ``make up`` serves it with uvicorn."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import iter_route_contexts
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path

from annolake_service import __version__
from annolake_service.api.openapi import with_links
from annolake_service.api.routers import annotations as annotation_routes
from annolake_service.api.routers import (
    api_keys,
    datasets,
    exports,
    files,
    frame_annotations,
    health,
    imports,
    jobs,
    members,
    models,
    projects,
    schema,
    slices,
    snapshots,
    tasks,
    uploads,
    webhooks,
)
from annolake_service.shared.errors import AnnolakeError

API_PREFIX = "/api/v1"


class OneValuePerQueryParameter:
    """Every query parameter of the API takes one value: a repeated one is refused (422), not read as its last."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope.get("query_string") and scope["path"].startswith(API_PREFIX):
            names = [name for name, _ in parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True)]
            repeated = sorted({name for name in names if names.count(name) > 1})
            if repeated:
                message = (
                    f"the request does not match the API schema: query parameter(s) {', '.join(repeated)} "
                    "given more than once; give each once"
                )
                await _error(422, "invalid_request", message, {"repeated": repeated})(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _error(status: int, code: str, message: str, details: dict | None = None) -> JSONResponse:
    return JSONResponse(
        status_code=status, content={"error": {"code": code, "message": message, "details": details or {}}}
    )


def create_app() -> FastAPI:
    app = FastAPI(
        title="Annolake API",
        version=__version__,
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=f"{API_PREFIX}/docs",
        redoc_url=None,
    )
    routers = (
        health,
        projects,
        members,
        api_keys,
        datasets,
        files,
        annotation_routes,
        frame_annotations,
        slices,
        snapshots,
        exports,
        schema,
        uploads,
        imports,
        jobs,
        tasks,
        webhooks,
        models,
    )
    for router in (module.router for module in routers):
        app.include_router(router, prefix=API_PREFIX)
    # Each path's methods, for the Allow header of a 405 (Starlette names only the first route's). A literal
    # segment outranks a parameter: /files/transfer is not /files/{file_id}.
    methods_by_path = [
        (compile_path(context.path)[0], context.path.count("{"), frozenset(context.methods or ()))
        for context in iter_route_contexts(app.routes)
        if context.path is not None
    ]

    def allowed_methods(path: str) -> str:
        matching = [(params, methods) for pattern, params, methods in methods_by_path if pattern.match(path)]
        fewest = min((params for params, _ in matching), default=0)
        return ", ".join(sorted({m for params, methods in matching if params == fewest for m in methods}))

    app.add_middleware(OneValuePerQueryParameter)
    app.openapi = lambda: with_links(FastAPI.openapi(app))  # type: ignore[method-assign]

    @app.exception_handler(AnnolakeError)
    async def _annolake_error(_: Request, exc: AnnolakeError) -> JSONResponse:
        return JSONResponse(status_code=exc.status_code, content=exc.to_body(), headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [{"field": ".".join(str(p) for p in err["loc"]), "problem": err["msg"]} for err in exc.errors()]
        listed = "; ".join(f"{p['field']}: {p['problem']}" for p in problems[:5])
        return _error(
            422, "invalid_request", f"the request does not match the API schema: {listed}", {"problems": problems}
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400:  # FastAPI's own: a body that is not JSON, which no operation accepts
            return _error(422, "invalid_request", f"the request does not match the API schema: {exc.detail}")
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        answer = _error(exc.status_code, code, str(exc.detail))
        if exc.status_code == 405:
            answer.headers["Allow"] = allowed_methods(request.url.path)
        return answer

    return app
