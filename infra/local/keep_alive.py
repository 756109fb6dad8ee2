"""The emulator's HTTP connections stay open between requests, as AWS endpoints keep them.

werkzeug's development server answers every request with ``Connection: close``, so each call a client makes
(the API workers' AWS calls, the SDK's, aws-cli's, a browser's presigned fetches) opened a TCP connection and
the server started a thread for it; after each answer the thread also waited 10 ms for stray body bytes
before closing. ``KeepAliveRequestHandler`` serves HTTP/1.1 keep-alive: the request body is read to its
``Content-Length`` before the next request is read (what the application left unread is drained, or the
connection closed after the answer when that is more than ``DRAIN_LIMIT``), answers without a length are sent
chunked, and
a connection idle for ``IDLE_SECONDS`` is closed. A request with a chunked body, one asking
``Connection: close``, and one whose application failed after its answer began end their connection. Once
the platform begins to stop (``refuse_requests``), kept connections get a 503 instead of being served: a
write served then could be acknowledged after the state was saved.
"""

from __future__ import annotations

import logging
import socket
import time
import traceback
from collections.abc import Callable, Iterator
from email.utils import formatdate
from http import HTTPStatus
from typing import Any

from werkzeug.serving import WSGIRequestHandler
from werkzeug.wsgi import LimitedStream

IDLE_SECONDS = 120.0
DRAIN_LIMIT = 64 << 20  # unread body bytes read off to keep the connection, rather than closing it
_NO_BODY = frozenset({204, 304})
_werkzeug_log = logging.getLogger("werkzeug")
REFUSING = "annolake_refusing"  # server attribute: once true, every request on any connection gets a 503
MAX_HEADERS = 100  # as the standard library's HTTP server allows
MAX_LINE = 65536


def refuse_requests(server: object) -> None:
    """From now on ``server`` answers every request, on new and kept connections alike, with a 503."""
    setattr(server, REFUSING, True)


class KeepAliveRequestHandler(WSGIRequestHandler):
    timeout = IDLE_SECONDS  # socketserver sets it on the connection: an idle one ends
    drain_limit = DRAIN_LIMIT

    def setup(self) -> None:
        super().setup()
        # a head and its body go out in one write, but a chunked answer's parts, written as the application
        # yields them, would otherwise wait for the client's delayed ACK (~40 ms each, Nagle)
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def parse_request(self) -> bool:
        """The request line and headers of an ``HTTP/1.x`` request, read without the standard library's email
        parser (a fifth of what a ``GetItem`` cost the emulator); any other request line goes the standard
        library's way. Same limits, answers and connection handling as ``BaseHTTPRequestHandler``."""
        line = str(self.raw_requestline, "iso-8859-1").rstrip("\r\n")
        words = line.split()
        if len(words) != 3 or words[2] not in ("HTTP/1.1", "HTTP/1.0"):
            return super().parse_request()
        self.requestline = line
        self.command, path, self.request_version = words
        self.path = "/" + path.lstrip("/") if path.startswith("//") else path  # no open redirects (gh-87389)
        self.close_connection = self.request_version < "HTTP/1.1" or self.protocol_version < "HTTP/1.1"
        headers = RequestHeaders()
        for _ in range(MAX_HEADERS + 1):
            raw = self.rfile.readline(MAX_LINE + 1)
            if len(raw) > MAX_LINE:
                self.send_error(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "Line too long", "header line")
                return False
            if raw in (b"\r\n", b"\n", b""):
                break
            headers.add_line(raw.decode("iso-8859-1"))
        else:
            self.send_error(
                HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "Too many headers", f"got more than {MAX_HEADERS}"
            )
            return False
        self.headers = headers  # type: ignore[assignment]  # werkzeug and http.server read only items() and get()
        connection = headers.get("Connection", "").lower()
        if connection == "close":
            self.close_connection = True
        elif connection == "keep-alive" and self.protocol_version >= "HTTP/1.1":
            self.close_connection = False
        expects_continue = headers.get("Expect", "").lower() == "100-continue"
        if expects_continue and self.protocol_version >= "HTTP/1.1" and self.request_version >= "HTTP/1.1":
            return self.handle_expect_100()
        return True

    def date_time_string(self, timestamp: float | None = None) -> str:
        """The ``Date`` header, formatted once a second rather than per answer."""
        if timestamp is not None:
            return super().date_time_string(timestamp)
        now = int(time.time())
        cached = _dates.get(now)
        if cached is None:
            _dates.clear()
            cached = _dates[now] = formatdate(now, usegmt=True)
        return cached

    def run_wsgi(self) -> None:  # called for every method (werkzeug's ``do_*``)
        if getattr(self.server, REFUSING, False):
            self._refuse()
            return
        environ = self.environ = self.make_environ()
        body: LimitedStream | None = None
        if "wsgi.input_terminated" in environ:  # a chunked request body: werkzeug reads it; the connection ends
            self.close_connection = True
        else:
            body = LimitedStream(self.rfile, _content_length(environ))  # type: ignore[arg-type]
            environ["wsgi.input"] = body
        answer = _Answer(self, environ["REQUEST_METHOD"] == "HEAD", body)
        try:
            chunks = self.server.app(environ, answer.start_response)
            try:
                for chunk in chunks:
                    answer.write(chunk)
                answer.finish()
            finally:
                close = getattr(chunks, "close", None)
                if close is not None:
                    close()
        except (ConnectionError, TimeoutError) as exc:
            self.close_connection = True
            self.connection_dropped(exc, environ)
            return
        except Exception:  # noqa: BLE001 - the application failed: 500 if nothing was sent yet, else end
            self.log_error("Error on request %s %s:\n%s", self.command, self.path, traceback.format_exc())
            if answer.head_sent:
                self.close_connection = True
                return
            answer = _Answer(self, False, body)
            answer.start_response("500 Internal Server Error", [("Content-Type", "text/plain; charset=utf-8")])
            answer.write(b"Internal Server Error")
            answer.finish()
        if body is not None and not self.close_connection:
            body.exhaust()  # at most ``drain_limit`` bytes: the head said to close otherwise
        elif body is not None:
            self._read_off(body)

    def _read_off(self, body: LimitedStream) -> None:
        """Before closing, read what the client is still sending of a body left unread (for at most a second),
        so that it reads the answer rather than failing to send the rest on a reset connection."""
        self.connection.settimeout(0.01)
        deadline = time.monotonic() + 1.0
        try:
            while not body.is_exhausted and time.monotonic() < deadline and body.read(1 << 20):
                pass
        except (OSError, ValueError):
            pass  # the client stopped sending (or is gone): close

    def _refuse(self) -> None:
        """503 and the connection closed: the server is stopping (its state may be saved already, so a write
        served now could be acknowledged and lost). Clients retry a 503; the body is not read."""
        self.close_connection = True
        body = b"the emulator is stopping"
        self.send_response(503, "Service Unavailable")
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        if _werkzeug_log.isEnabledFor(logging.INFO):  # werkzeug formats the line before its logger's level check
            super().log_request(code, size)

    def log_error(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's signature
        if format.startswith("Request timed out"):
            return  # an idle connection ending: not an error
        super().log_error(format, *args)


_dates: dict[int, str] = {}


class RequestHeaders:
    """A request's header lines, in order: what werkzeug's ``make_environ`` and ``http.server`` read of them
    (``items`` and a case-insensitive ``get``; a repeated header's values joined by commas)."""

    def __init__(self) -> None:
        self._lines: list[tuple[str, str]] = []
        self._by_name: dict[str, str] = {}

    def add_line(self, line: str) -> None:
        if line[:1] in (" ", "\t") and self._lines:  # a folded continuation of the previous header
            name, value = self._lines[-1]
            self._set(name, f"{value} {line.strip()}", replace=True)
            return
        name, _, value = line.partition(":")
        self._set(name.strip(), value.strip(), replace=False)

    def _set(self, name: str, value: str, *, replace: bool) -> None:
        key = name.lower()
        if replace:
            self._lines[-1] = (name, value)
            self._by_name[key] = ", ".join(v for n, v in self._lines if n.lower() == key)
        else:
            self._lines.append((name, value))
            known = self._by_name.get(key)
            self._by_name[key] = value if known is None else f"{known}, {value}"

    def items(self) -> list[tuple[str, str]]:
        return list(self._lines)

    def get(self, name: str, default: Any = None) -> Any:
        return self._by_name.get(name.lower(), default)

    def __getitem__(self, name: str) -> str | None:
        return self._by_name.get(name.lower())

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._by_name

    def __iter__(self) -> Iterator[str]:
        return (name for name, _ in self._lines)

    def __len__(self) -> int:
        return len(self._lines)


class _Answer:
    """One response: its head written with the first body bytes (one write each), chunked when the application
    gave no length."""

    def __init__(self, handler: KeepAliveRequestHandler, head_only: bool, body: LimitedStream | None) -> None:
        self.handler = handler
        self.head_only = head_only
        self.body = body
        self.status: str | None = None
        self.headers: list[tuple[str, str]] = []
        self.head_sent = False
        self.chunked = False

    def start_response(
        self, status: str, headers: list[tuple[str, str]], exc_info: Any = None
    ) -> Callable[[bytes], None]:
        if exc_info is not None and self.head_sent:
            raise exc_info[1].with_traceback(exc_info[2])
        self.status, self.headers = status, headers
        return self.write

    def _head(self) -> bytes:
        """The status line and headers (with ``Transfer-Encoding: chunked`` when the application gave no length),
        to be written with the first body bytes."""
        handler = self.handler
        assert self.status is not None, "the application wrote before start_response"  # noqa: S101
        code_text, _, reason = self.status.partition(" ")
        code = int(code_text)
        handler.send_response(code, reason)  # buffered by http.server with the headers below
        names = set()
        for name, value in self.headers:
            handler.send_header(name, value)
            names.add(name.lower())
        if "content-length" not in names and not self.head_only and not (100 <= code < 200 or code in _NO_BODY):
            self.chunked = True
            handler.send_header("Transfer-Encoding", "chunked")
        if self.body is not None and self.body.limit - self.body.tell() > handler.drain_limit:
            handler.close_connection = True  # more of the body unread than is worth reading off
        if handler.close_connection:
            handler.send_header("Connection", "close")
        self.head_sent = True
        buffered = handler._headers_buffer  # noqa: SLF001 - http.server's buffer of the head
        head = b"".join(buffered) + b"\r\n"
        buffered.clear()
        return head

    def write(self, data: bytes) -> None:
        head = b"" if self.head_sent else self._head()
        if self.head_only or not data:
            if head:
                self.handler.wfile.write(head)
            return
        if self.chunked:
            data = b"%x\r\n%s\r\n" % (len(data), data)
        self.handler.wfile.write(head + data if head else data)

    def finish(self) -> None:
        head = b"" if self.head_sent else self._head()
        tail = b"0\r\n\r\n" if self.chunked else b""
        if head or tail:
            self.handler.wfile.write(head + tail)
        self.handler.wfile.flush()


def _content_length(environ: dict[str, Any]) -> int:
    try:
        return max(int(environ.get("CONTENT_LENGTH") or 0), 0)
    except ValueError:
        return 0
