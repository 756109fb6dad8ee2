import socket
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
from annolake.client import AnnolakeAPIError
from annolake.fetch import Downloader, FetchError, UrlExpired


def _body(n: str) -> bytes:
    return f"item {n};".encode() * 100


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive
    disable_nagle_algorithm = True  # headers and body go out in separate writes

    def log_message(self, *_):
        pass

    def do_GET(self):
        server: _Server = self.server
        parts = urlsplit(self.path)
        query = {name: values[0] for name, values in parse_qs(parts.query).items()}
        _, route, *rest = parts.path.split("/")
        name = rest[0] if rest else ""
        with server.lock:
            server.requests += 1
            server.ports.add(self.client_address[1])
            server.hits[parts.path] += 1
            hits = server.hits[parts.path]
            server.active += 1
            server.max_active = max(server.max_active, server.active)
        try:
            time.sleep(float(query.get("delay", 0)))
            if route == "item":
                self._answer(200, _body(name))
            elif route == "signed":
                self._answer(200, _body(name)) if query.get("sig") == "new" else self._answer(403, b"Request expired")
            elif route == "forbidden":
                self._answer(403, b"AccessDenied")
            elif route == "flaky":
                self._answer(503, b"SlowDown") if hits == 1 else self._answer(200, _body(name))
            elif route == "down":
                self._answer(503, b"<Error>ServiceUnavailable</Error>")
            else:
                self._answer(404, b"<Error><Code>NoSuchKey</Code></Error>")
        finally:
            with server.lock:
                server.active -= 1

    def _answer(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.lock = threading.Lock()
        self.requests = 0
        self.ports: set[int] = set()
        self.hits: Counter[str] = Counter()
        self.active = 0
        self.max_active = 0
        self.url = f"http://127.0.0.1:{self.server_address[1]}"


@pytest.fixture
def server():
    httpd = _Server()
    thread = threading.Thread(target=httpd.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def downloader():
    with Downloader(concurrency=8, retries=2, backoff_factor=0) as d:
        yield d


def test_fetch_returns_the_body(server, downloader):
    assert downloader.fetch(f"{server.url}/item/a") == _body("a")


def test_expired_url_without_refresh_raises(server, downloader):
    with pytest.raises(UrlExpired) as raised:
        downloader.fetch(f"{server.url}/signed/1?sig=old")
    assert raised.value.status == 403 and raised.value.url.endswith("sig=old")
    assert isinstance(raised.value, FetchError) and isinstance(raised.value, AnnolakeAPIError)
    assert server.hits["/signed/1"] == 1  # 403 is not retried


def test_server_error_then_success_is_retried(server, downloader):
    assert downloader.fetch(f"{server.url}/flaky/x") == _body("x")
    assert server.hits["/flaky/x"] == 2


def test_persistent_server_error_raises_after_retries(server, downloader):
    with pytest.raises(FetchError, match="HTTP 503: <Error>ServiceUnavailable") as raised:
        downloader.fetch(f"{server.url}/down/x")
    assert raised.value.status == 503
    assert server.hits["/down/x"] == 3  # one try and two retries


def test_not_found_raises_fetch_error_naming_the_status(server, downloader):
    with pytest.raises(FetchError) as raised:
        downloader.fetch(f"{server.url}/gone/x?X-Amz-Signature=secret")
    assert raised.value.status == 404 and "404" in str(raised.value) and "NoSuchKey" in str(raised.value)
    assert "secret" not in str(raised.value)  # the signature stays out of logs
    assert server.hits["/gone/x"] == 1


def test_connection_refused_raises_fetch_error():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with Downloader(retries=1, backoff_factor=0) as d, pytest.raises(FetchError) as raised:
        d.fetch(f"http://127.0.0.1:{port}/x?sig=secret")
    assert raised.value.status == 0 and "secret" not in str(raised.value)


def test_closed_downloader_can_be_used_again(server):
    d = Downloader(concurrency=2)
    d.fetch(f"{server.url}/item/a")
    d.close()
    assert d.fetch(f"{server.url}/item/b") == _body("b")
    d.close()


def test_parallel_callers_share_kept_alive_connections(server):
    from concurrent.futures import ThreadPoolExecutor

    with Downloader(concurrency=4) as d, ThreadPoolExecutor(4) as pool:
        bodies = list(pool.map(lambda i: d.fetch(f"{server.url}/item/{i}"), range(60)))
    assert bodies == [_body(str(i)) for i in range(60)]
    assert server.requests == 60 and len(server.ports) <= 4


def test_a_pickled_downloader_fetches_with_its_own_pool(server, downloader):
    import pickle

    downloader.fetch(f"{server.url}/item/a")
    copy = pickle.loads(pickle.dumps(downloader))
    assert copy.fetch(f"{server.url}/item/b") == _body("b") and copy.concurrency == downloader.concurrency
