"""The emulator's server keeps a client's connection for its next request, and frames every answer so that it
can: what an application leaves of a body is drained, answers without a length are chunked, failures end the
connection only when its framing is lost."""

from __future__ import annotations

import http.client
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from werkzeug.serving import make_server

from infra.local.keep_alive import KeepAliveRequestHandler, refuse_requests


def _app(environ, start_response):
    """``/echo`` answers the body; ``/ignore`` reads none of it; ``/stream`` answers in parts with no length;
    ``/fail`` raises before answering; ``/fail-late`` after its first part; ``/peer`` names the client's port;
    ``/headers`` answers the path, query and ``HTTP_*`` keys of its environ, one a line."""
    path = environ["PATH_INFO"]
    if path == "/headers":
        seen = [f"PATH_INFO={path}", f"QUERY_STRING={environ['QUERY_STRING']}"]
        seen += sorted(f"{k}={v}" for k, v in environ.items() if k.startswith(("HTTP_", "CONTENT_")))
        body = "\n".join(seen).encode()
        start_response("200 OK", [("Content-Length", str(len(body)))])
        return [body]
    if path == "/echo":
        body = environ["wsgi.input"].read()
        start_response("200 OK", [("Content-Length", str(len(body)))])
        return [body]
    if path == "/stream":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return iter([b"one,", b"", b"two,", b"three"])
    if path == "/fail":
        raise RuntimeError("the application failed")
    if path == "/fail-late":

        def parts():
            yield b"first part"
            raise RuntimeError("failed while answering")

        start_response("200 OK", [])
        return parts()
    if path == "/peer":
        peer = str(environ["REMOTE_PORT"]).encode()
        start_response("200 OK", [("Content-Length", str(len(peer)))])
        return [peer]
    start_response("200 OK", [("Content-Length", "2")])
    return [b"ok"]


@contextmanager
def _served(
    handler: type[KeepAliveRequestHandler] = KeepAliveRequestHandler, servers: list | None = None
) -> Iterator[int]:
    server = make_server("127.0.0.1", 0, _app, threaded=True, request_handler=handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    if servers is not None:
        servers.append(server)
    try:
        yield server.server_port
    finally:
        server.shutdown()
        server.server_close()


def _ask(connection: http.client.HTTPConnection, method: str, path: str, body: bytes | None = None, **headers):
    connection.request(method, path, body=body, headers=headers)
    answer = connection.getresponse()
    return answer.status, answer.read(), answer


def _peer(connection: http.client.HTTPConnection) -> bytes:
    return _ask(connection, "GET", "/peer")[1]


def test_requests_share_one_connection_whatever_each_application_read_of_its_body():
    with _served() as port:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        first = _peer(connection)
        assert _ask(connection, "POST", "/echo", b"a body")[:2] == (200, b"a body")
        assert _ask(connection, "POST", "/ignore", b"x" * 50_000)[:2] == (200, b"ok")  # left unread: drained
        status, body, answer = _ask(connection, "GET", "/stream")
        assert (status, body, answer.getheader("Transfer-Encoding")) == (200, b"one,two,three", "chunked")
        status, body, answer = _ask(connection, "HEAD", "/echo")
        assert (status, body) == (200, b"")
        assert _peer(connection) == first  # still the first connection


def test_a_failure_before_the_answer_gets_a_500_and_keeps_the_connection_one_after_ends_it():
    with _served() as port:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        first = _peer(connection)
        status, body, _ = _ask(connection, "GET", "/fail")
        assert (status, body) == (500, b"Internal Server Error")
        assert _peer(connection) == first
        connection.request("GET", "/fail-late")
        with pytest.raises(http.client.IncompleteRead):  # the chunked answer never got its last chunk
            connection.getresponse().read()
        connection.close()
        assert _peer(connection) != first  # a new connection


class _SmallDrain(KeepAliveRequestHandler):
    drain_limit = 100_000


def test_connections_end_when_the_client_asks_a_body_is_chunked_or_too_much_was_left_unread():
    """The client still reads the answer to a body the application left unread (the server reads what it
    sends before closing: no broken pipe)."""
    with _served(_SmallDrain) as port:
        for method, path, body, headers in (
            ("GET", "/peer", None, {"Connection": "close"}),
            ("POST", "/echo", iter([b"chunked ", b"body"]), {}),  # http.client sends an iterable chunked
            ("POST", "/ignore", b"x" * 3_000_000, {}),
        ):
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            first = _peer(connection)
            connection.request(method, path, body=body, headers=headers)
            answer = connection.getresponse()
            assert answer.status == 200
            assert answer.getheader("Connection") == "close", path
            answer.read()
            assert _peer(connection) != first, path  # http.client opened a new one


def test_an_idle_connection_is_closed_by_the_server():
    class Brief(KeepAliveRequestHandler):
        timeout = 0.3

    with _served(Brief) as port:
        client = socket.create_connection(("127.0.0.1", port), timeout=5)
        client.sendall(b"GET /peer HTTP/1.1\r\nHost: x\r\n\r\n")
        assert client.recv(4096).startswith(b"HTTP/1.1 200")
        time.sleep(0.8)
        assert client.recv(4096) == b""  # the server closed it
        client.close()


def test_once_stopping_a_kept_connection_gets_a_503_not_a_served_request():
    """The platform saves its state as it stops: a write served on a kept connection after that would be
    acknowledged and lost."""
    servers: list = []
    with _served(servers=servers) as port:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        assert _ask(connection, "POST", "/echo", b"before")[:2] == (200, b"before")
        refuse_requests(servers[0])
        status, body, answer = _ask(connection, "POST", "/echo", b"after")
        assert (status, body, answer.getheader("Connection")) == (503, b"the emulator is stopping", "close")
        fresh = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        assert _ask(fresh, "GET", "/peer")[0] == 503


def _raw(port: int, head: bytes, *, body: bytes = b"") -> bytes:
    """What the server answers one request written as ``head`` (and ``body``), up to its close or 2 s."""
    with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
        sock.sendall(head + body)
        answer = b""
        try:
            while chunk := sock.recv(65536):
                answer += chunk
                if b"\r\n\r\n" in answer and b"Connection: close" not in answer and answer.endswith(b"\n"):
                    break
        except TimeoutError:
            pass
        return answer


def test_request_heads_reach_the_application_as_the_standard_library_parsed_them():
    head = (
        b"GET //headers?a=1 HTTP/1.1\r\nHost: here\r\nX-Twice: one\r\nx-twice: two\r\n"
        b"X-Folded: first\r\n  second\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n"
    )
    with _served() as port:
        answer = _raw(port, head)
    lines = answer.split(b"\r\n\r\n", 1)[1].decode().splitlines()
    assert answer.startswith(b"HTTP/1.1 200")
    assert "PATH_INFO=/headers" in lines  # a leading // is one /, as http.server makes it (no open redirects)
    assert "QUERY_STRING=a=1" in lines
    assert "HTTP_X_TWICE=one,two" in lines  # werkzeug joins a repeated header's values
    assert "HTTP_X_FOLDED=first second" in lines
    assert "CONTENT_TYPE=text/plain" in lines
    assert "HTTP_HOST=here" in lines


def test_too_many_or_too_long_header_lines_get_a_431_and_the_connection_ends():
    many = b"".join(b"X-H%d: v\r\n" % n for n in range(101))
    with _served() as port:
        assert _raw(port, b"GET / HTTP/1.1\r\nHost: h\r\n" + many + b"\r\n").startswith(b"HTTP/1.1 431")
        long_line = b"X-Long: " + b"v" * 70_000 + b"\r\n"
        assert _raw(port, b"GET / HTTP/1.1\r\n" + long_line + b"\r\n").startswith(b"HTTP/1.1 431")
        assert _raw(port, b"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n").startswith(b"HTTP/1.1 200")


def test_a_body_sent_after_100_continue_is_read_and_an_http_1_0_request_ends_its_connection():
    with _served() as port:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(b"PUT /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
            assert sock.recv(1024).startswith(b"HTTP/1.1 100")
            sock.sendall(b"body")
            answer = sock.recv(1024)
        assert answer.startswith(b"HTTP/1.1 200") and answer.endswith(b"body")
        old = _raw(port, b"GET /peer HTTP/1.0\r\nHost: h\r\n\r\n")
        assert old.startswith(b"HTTP/1.1 200")
        assert b"Connection: close" in old
        assert b"400 - Bad request syntax" in _raw(port, b"GARBAGE\r\n\r\n")  # the standard library's answer
