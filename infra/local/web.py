"""The web UI as ``make up`` serves it on 127.0.0.1:8000, beside the API: what CloudFront does in the cloud.

- ``/config.json``: the runtime settings the app reads at start-up (API base, the emulator's user pool and
  Cognito endpoint), the same keys the web stack deploys (``infra/stacks/web_stack.py``).
- ``/assets/*`` and top-level files with an extension: files of ``web/dist``; every other path is a
  client-side route and gets ``index.html`` (the rule of the CloudFront Function in ``infra/constructs/web.py``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from infra.web_contract import ASSETS_CACHE, CONFIG_FILE, INDEX_FILE, NO_CACHE

NOT_BUILT = "The web UI is not built: run `make web` (`make up` does) and reload."


def is_file_path(path: str) -> bool:
    """``/assets/...`` or a top-level name with an extension; anything else is a client-side route."""
    return path.startswith("/assets/") or ("/" not in path[1:] and "." in path)


def web_ui_app(dist: Path, runtime_config: dict[str, Any]) -> Starlette:
    root = dist.resolve()

    async def config(_: Request) -> Response:
        return JSONResponse(runtime_config, headers={"Cache-Control": NO_CACHE})

    async def page(request: Request) -> Response:
        path = request.url.path
        if not (root / INDEX_FILE).is_file():
            return PlainTextResponse(NOT_BUILT, status_code=503)
        if not is_file_path(path):
            return FileResponse(root / INDEX_FILE, headers={"Cache-Control": NO_CACHE})
        target = (root / path.lstrip("/")).resolve()
        if not target.is_relative_to(root) or not target.is_file():
            return PlainTextResponse(f"{path} not found", status_code=404)
        cache = ASSETS_CACHE if path.startswith("/assets/") else NO_CACHE
        return FileResponse(target, headers={"Cache-Control": cache})

    return Starlette(
        routes=[
            Route(f"/{CONFIG_FILE}", config, methods=["GET", "HEAD"]),
            Route("/{path:path}", page, methods=["GET", "HEAD"]),
        ]
    )
