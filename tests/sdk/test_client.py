"""The SDK's API client turns every answer it cannot use into AnnolakeAPIError, never a JSON traceback."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from annolake.client import AnnolakeAPIError, ApiClient, NotFound


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *_):
        pass

    def do_GET(self):
        status, content_type, body = {
            "/api/v1/plain-500": (500, "text/plain", b"Internal Server Error"),
            "/api/v1/html-200": (200, "text/html", b"<html>a proxy login page</html>"),
            "/api/v1/json-404": (404, "application/json", b'{"error": {"code": "not_found", "message": "no file"}}'),
            "/api/v1/ok": (200, "application/json", b'{"fine": true}'),
        }[self.path]
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="module")
def client():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield ApiClient(f"http://127.0.0.1:{server.server_address[1]}", "id", "secret", timeout=5)
    server.shutdown()


def test_a_plain_text_server_error_is_an_api_error_with_its_text(client):
    with pytest.raises(AnnolakeAPIError) as failed:
        client.get("/plain-500")
    assert failed.value.status == 500 and "Internal Server Error" in failed.value.message


def test_a_success_without_json_is_an_api_error_naming_the_request(client):
    with pytest.raises(AnnolakeAPIError) as failed:
        client.get("/html-200")
    assert failed.value.code == "invalid_response" and "GET /html-200" in failed.value.message


def test_json_errors_keep_their_code_and_json_answers_pass_through(client):
    with pytest.raises(NotFound) as missing:
        client.get("/json-404")
    assert missing.value.code == "not_found" and missing.value.message == "no file"
    assert client.get("/ok") == {"fine": True}
