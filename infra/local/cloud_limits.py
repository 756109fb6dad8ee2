"""Limits the cloud enforces that a local server would not, so what fails in the cloud fails here too.

- A Lambda function behind API Gateway may return at most 6 MB; a larger answer is an invocation error, which
  API Gateway turns into a 500 (``LambdaResponseLimit``).
- API Gateway waits at most 30 s for its integration, then answers 504 (``IntegrationTimeout``).
- A Lambda invocation runs at most its function's ``Timeout``; past it the invocation fails with
  ``Sandbox.Timedout`` "Task timed out after N seconds", which Step Functions' Retry and Catch see
  (``within_function_timeout``, used by the in-process Lambda runtime).

Locally the API runs in uvicorn and the handlers in this process, with none of these limits, so without them
a page or a step that only the cloud would refuse passes every local test. Step Functions' 256 KB payload
limit is enforced in moto's engine (``moto_patches.step_functions.step_functions_payload_limit``).
"""

from __future__ import annotations

import contextvars
import json
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import anyio

LAMBDA_RESPONSE_BYTES = 6 * 1024 * 1024
API_GATEWAY_TIMEOUT_SECONDS = 30.0  # an HTTP API's longest integration timeout
LAMBDA_TIMEOUT_ERROR = "Sandbox.Timedout"  # the errorType of a Lambda invocation that ran out of time

T = TypeVar("T")


def _error_body(code: str, message: str, details: dict[str, Any]) -> bytes:
    return json.dumps({"error": {"code": code, "message": message, "details": details}}).encode()


async def _answer(send: Any, status: int, body: bytes) -> None:
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


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
        message = (
            f"the answer is {size} bytes; a Lambda function may return at most {self.limit} bytes, "
            "so the cloud would answer 500: ask for a smaller page (limit) or fewer fields"
        )
        await _answer(send, 500, _error_body("response_too_large", message, {"size": size, "limit": self.limit}))


class IntegrationTimeout:
    """ASGI middleware: an ``/api/`` request not answered within ``seconds`` gets API Gateway's 504.

    The answer is held until the app has finished it, as API Gateway receives a Lambda's answer whole; one not
    finished in time is replaced by the 504 and the app's later answer is dropped. A handler that is not async
    keeps running in its worker thread to its end, as a Lambda function keeps running after API Gateway gave
    up on it.
    """

    def __init__(self, app: Any, seconds: float = API_GATEWAY_TIMEOUT_SECONDS, prefix: str = "/api/") -> None:
        self.app = app
        self.seconds = seconds
        self.prefix = prefix

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(self.prefix):
            await self.app(scope, receive, send)
            return
        held: list[dict[str, Any]] = []
        finished = anyio.Event()

        async def hold(message: dict[str, Any]) -> None:
            held.append(message)

        async def run() -> None:
            await self.app(scope, receive, hold)
            finished.set()

        async with anyio.create_task_group() as group:
            group.start_soon(run)
            with anyio.move_on_after(self.seconds):
                await finished.wait()
            if not finished.is_set():
                message = (
                    f"{scope['method']} {scope['path']} took longer than {self.seconds:g} s: API Gateway answers "
                    "504 then; move long work to a job or an import and poll it, or ask for less at a time"
                )
                await _answer(send, 504, _error_body("gateway_timeout", message, {"limit_seconds": self.seconds}))
                group.cancel_scope.cancel()
                return
        for held_message in held:
            await send(held_message)


class LambdaTimedOut(Exception):
    """A Lambda invocation ran past its function's timeout."""

    error_type = LAMBDA_TIMEOUT_ERROR

    def __init__(self, request_id: str, seconds: float) -> None:
        super().__init__(f"RequestId: {request_id} Error: Task timed out after {seconds:.2f} seconds")


def within_function_timeout(call: Callable[[], T], seconds: float, request_id: str) -> T:
    """``call()``'s result, or LambdaTimedOut once it has run ``seconds`` without finishing.

    The call runs on a thread of its own (with the caller's context variables); one that times out is left to
    finish there, as Python cannot stop a thread, but its result is dropped, as Lambda drops it.
    """
    context = contextvars.copy_context()
    done = threading.Event()
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["result"] = context.run(call)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
            outcome["error"] = exc
        finally:
            done.set()

    threading.Thread(target=run, name=f"lambda-{request_id[:8]}", daemon=True).start()
    if not done.wait(seconds):
        raise LambdaTimedOut(request_id, seconds)
    if "error" in outcome:
        raise outcome["error"]
    result: T = outcome["result"]
    return result
