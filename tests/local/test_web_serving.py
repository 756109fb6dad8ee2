"""What ``make up`` serves beside the API: the built UI with client-side routes, config.json, Cognito CORS."""

from __future__ import annotations

from pathlib import Path

import pytest
from starlette.testclient import TestClient
from werkzeug.test import Client
from werkzeug.wrappers import Response

from infra.local.cors import CognitoCors
from infra.local.web import NOT_BUILT, is_file_path, web_ui_app
from infra.web_contract import ASSETS_CACHE, NO_CACHE

CONFIG = {"apiBase": "/api/v1", "region": "us-east-1", "userPoolId": "p", "userPoolClientId": "c"}


@pytest.fixture
def dist(tmp_path) -> Path:
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text("<!doctype html><title>Annolake</title>")
    (tmp_path / "assets" / "index-abc.js").write_text("console.log(1)")
    (tmp_path / "favicon.svg").write_text("<svg/>")
    (tmp_path.parent / "secret.txt").write_text("not for the web")
    return tmp_path


def test_config_json_is_served_uncached(dist):
    answer = TestClient(web_ui_app(dist, CONFIG)).get("/config.json")
    assert answer.status_code == 200 and answer.json() == CONFIG
    assert answer.headers["cache-control"] == NO_CACHE


@pytest.mark.parametrize("path", ["/", "/signin", "/p/demo/datasets/default", "/p/demo/datasets/v1.2"])
def test_client_side_routes_get_index_html(dist, path):
    answer = TestClient(web_ui_app(dist, CONFIG)).get(path)
    assert answer.status_code == 200 and "<title>Annolake</title>" in answer.text
    assert answer.headers["cache-control"] == NO_CACHE


def test_files_are_served_and_missing_ones_are_404(dist):
    client = TestClient(web_ui_app(dist, CONFIG))
    asset = client.get("/assets/index-abc.js")
    assert asset.status_code == 200 and asset.headers["cache-control"] == ASSETS_CACHE
    assert client.get("/favicon.svg").status_code == 200
    assert client.get("/assets/missing.js").status_code == 404
    assert client.get("/missing.png").status_code == 404
    assert client.get("/assets/../../secret.txt").status_code == 404


def test_without_a_build_pages_say_how_to_build(tmp_path):
    answer = TestClient(web_ui_app(tmp_path / "dist", CONFIG)).get("/p/demo")
    assert answer.status_code == 503 and answer.text == NOT_BUILT


def test_file_paths_follow_the_cloudfront_function():
    assert is_file_path("/assets/a/b.js") and is_file_path("/config.json")
    assert not is_file_path("/p/demo/files/f.1") and not is_file_path("/signin")


WEB = "http://127.0.0.1:8000"


def _behind_cors():
    seen = []

    def downstream(environ, start_response):
        seen.append(environ["REQUEST_METHOD"])
        return Response('{"ok": true}', headers={"Access-Control-Allow-Origin": "*"})(environ, start_response)

    return Client(CognitoCors(downstream, [WEB])), seen


def test_cognito_preflights_from_the_web_origin_are_answered():
    client, seen = _behind_cors()
    answer = client.open(
        "/",
        method="OPTIONS",
        headers={
            "Origin": WEB,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,x-amz-target,x-amz-user-agent",
        },
    )
    assert answer.status_code == 204 and seen == []
    assert answer.headers["Access-Control-Allow-Origin"] == WEB
    assert "x-amz-target" in answer.headers["Access-Control-Allow-Headers"]
    assert answer.headers["Access-Control-Allow-Methods"] == "POST"


def test_cognito_answers_are_readable_by_the_web_origin_only():
    client, seen = _behind_cors()
    target = {"X-Amz-Target": "AWSCognitoIdentityProviderService.InitiateAuth"}
    answer = client.post("/", headers={"Origin": WEB, **target}, data="{}")
    assert seen == ["POST"] and answer.headers["Access-Control-Allow-Origin"] == WEB
    assert answer.headers.getlist("Access-Control-Allow-Origin") == [WEB]  # moto's wildcard replaced
    other = client.open(
        "/",
        method="OPTIONS",
        headers={
            "Origin": "http://evil.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "x-amz-target",
        },
    )
    assert seen == ["POST", "OPTIONS"]  # not ours to answer: passed to the emulator untouched
    assert other.status_code == 200


def test_s3_preflights_pass_through_to_the_buckets_cors_rules():
    client, seen = _behind_cors()
    client.open("/media-bucket", method="OPTIONS", headers={"Origin": WEB, "Access-Control-Request-Method": "POST"})
    assert seen == ["OPTIONS"]
