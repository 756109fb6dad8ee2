"""AWS calls made inside the local platform's own process reach the emulator without a socket.

The handlers, moto's Step Functions engine and the event-source poller all run in the ``make up`` process
and call the emulator through boto3 at its endpoint URL. Over HTTP each call costs a connection from the
pool (often a new one), a thread of the threaded server, request parsing and response writing on both
sides — about half of the CPU an ingested file costs. A botocore ``before-send`` handler hands such a
request to the same WSGI application the server runs (presign guard, CORS wrapper and moto), in the
caller's thread, and gives botocore the answer; clients elsewhere (the SDK, aws-cli, browsers) still go
through the server. The environ is built the way werkzeug's server builds it, so moto sees the same request.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import unquote, urlsplit

from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.handlers import BUILTIN_HANDLERS

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class _RawBody(io.BytesIO):
    """What botocore reads a response body from (``urllib3.HTTPResponse``'s ``stream``)."""

    def stream(self, amt: int = 2**16, decode_content: bool | None = None) -> Iterable[bytes]:
        while chunk := self.read(amt):
            yield chunk


def _latin1(text: str) -> str:
    """WSGI carries bytes in ``str`` as latin-1 (PEP 3333), as werkzeug's server does."""
    return text.encode().decode("latin-1")


def _body_bytes(body: Any) -> bytes:
    if body is None:
        return b""
    if isinstance(body, bytes | bytearray):
        return bytes(body)
    if isinstance(body, str):
        return body.encode()
    if hasattr(body, "read"):
        return body.read()
    return b"".join(body)  # an iterable of chunks (sent with Transfer-Encoding: chunked over HTTP)


class InProcessDispatch:
    """The ``before-send`` handler: answers requests for ``endpoint_url`` by calling ``app`` directly."""

    def __init__(self, endpoint_url: str, app: WSGIApp) -> None:
        split = urlsplit(endpoint_url)
        self.app = app
        self._server_name, self._server_port = split.hostname or "127.0.0.1", str(split.port or 80)
        # moto's Step Functions engine names the emulator "localhost".
        self._prefixes = tuple(
            f"{split.scheme}://{host}:{self._server_port}/" for host in {self._server_name, "localhost", "127.0.0.1"}
        )
        self.enabled = True
        self.answered = 0  # requests answered without the network

    def __call__(self, request: AWSPreparedRequest, **_: Any) -> AWSResponse | None:
        if not self.enabled or not request.url.startswith(self._prefixes):
            return None  # not ours: botocore sends it over the network
        environ = self._environ(request)
        answer: dict[str, Any] = {}

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable:
            answer["status"], answer["headers"] = int(status.split(" ", 1)[0]), headers
            return lambda data: None

        chunks = self.app(environ, start_response)
        try:
            body = b"".join(chunks)
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
        headers = {name: value for name, value in answer["headers"]}
        self.answered += 1
        return AWSResponse(request.url, answer["status"], headers, _RawBody(body))

    def _environ(self, request: AWSPreparedRequest) -> dict[str, Any]:
        url = urlsplit(request.url)
        path_and_query = request.url[len(f"{url.scheme}://{url.netloc}") :]
        body = _body_bytes(request.body)
        environ: dict[str, Any] = {
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": url.scheme,
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
            "REQUEST_METHOD": request.method,
            "SCRIPT_NAME": "",
            "PATH_INFO": _latin1(unquote(url.path)),
            "QUERY_STRING": _latin1(url.query),
            "REQUEST_URI": _latin1(path_and_query),
            "RAW_URI": _latin1(path_and_query),
            "REMOTE_ADDR": "127.0.0.1",
            "REMOTE_PORT": 0,
            "SERVER_NAME": self._server_name,
            "SERVER_PORT": self._server_port,
            "SERVER_PROTOCOL": "HTTP/1.1",
            "HTTP_HOST": url.netloc,
        }
        for name, value in request.headers.items():
            if "_" in name:
                continue  # as werkzeug's server: never let an underscored header pass for a dashed one
            if isinstance(value, bytes):
                value = value.decode("latin-1")
            key = name.upper().replace("-", "_")
            if key in ("TRANSFER_ENCODING", "EXPECT"):
                continue  # the body is whole already; nobody waits for a 100 Continue
            if key not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
                key = f"HTTP_{key}"
            environ[key] = value.replace("\r\n", "")
        environ["CONTENT_LENGTH"] = str(len(body))
        return environ


_installed: list[InProcessDispatch] = []


def install(endpoint_url: str, app: WSGIApp) -> InProcessDispatch:
    """Answer this process's calls to ``endpoint_url`` in-process, for botocore sessions created from now on."""
    uninstall()
    dispatch = InProcessDispatch(endpoint_url, app)
    BUILTIN_HANDLERS.append(("before-send", dispatch))
    _installed.append(dispatch)
    return dispatch


def uninstall() -> None:
    """Sessions created earlier keep the handler; disabling it sends their calls over the network again."""
    while _installed:
        dispatch = _installed.pop()
        dispatch.enabled = False
        if ("before-send", dispatch) in BUILTIN_HANDLERS:
            BUILTIN_HANDLERS.remove(("before-send", dispatch))
