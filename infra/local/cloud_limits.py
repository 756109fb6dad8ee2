"""Limits the cloud enforces that a local server would not: an answer too large for Lambda fails here too.

A Lambda function behind API Gateway may return at most 6 MB; a larger answer is an invocation error, which
API Gateway turns into a 500. Locally the API runs in uvicorn, which has no such limit, so without this a page
that only the cloud would refuse passes every local test.
"""

from __future__ import annotations

import json
from typing import Any

LAMBDA_RESPONSE_BYTES = 6 * 1024 * 1024


class LambdaResponseLimit:
    """ASGI middleware: an ``/api/`` answer whose body is over the limit becomes the 500 the cloud would give."""

    def __init__(self, app: Any, limit: int = LAMBDA_RESPONSE_BYTES, prefix: str = "/api/") -> None:
        self.app = app
        self.limit = limit
        self.prefix = prefix

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(self.prefix):
            await self.app(scope, receive, send)
            return
        refused = False

        async def limited(message: dict[str, Any]) -> None:
            nonlocal refused
            if message["type"] == "http.response.start":
                length = dict(message.get("headers", [])).get(b"content-length")
                if length is not None and int(length) > self.limit:
                    refused = True
                    await self._refuse(send, int(length))
                    return
            if not refused:
                await send(message)

        await self.app(scope, receive, limited)

    async def _refuse(self, send: Any, size: int) -> None:
        body = json.dumps(
            {
                "error": {
                    "code": "response_too_large",
                    "message": (
                        f"the answer is {size} bytes; a Lambda function may return at most {self.limit} bytes, "
                        "so the cloud would answer 500: ask for a smaller page (limit) or fewer fields"
                    ),
                    "details": {"size": size, "limit": self.limit},
                }
            }
        ).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 500, "headers": headers})
        await send({"type": "http.response.body", "body": body})
