"""The local API refuses an answer larger than a Lambda function may return, as the cloud would (a 500)."""

from __future__ import annotations

from fastapi import FastAPI
from starlette.testclient import TestClient

from infra.local.cloud_limits import LAMBDA_RESPONSE_BYTES, LambdaResponseLimit


def _client() -> TestClient:
    app = FastAPI()

    @app.get("/api/v1/sized/{size}")
    def sized(size: int) -> dict[str, str]:
        return {"data": "x" * size}

    @app.get("/site/{size}")
    def site(size: int) -> dict[str, str]:
        return {"data": "x" * size}

    return TestClient(LambdaResponseLimit(app))


def test_an_answer_over_six_megabytes_is_the_500_the_cloud_gives():
    client = _client()
    too_big = client.get(f"/api/v1/sized/{LAMBDA_RESPONSE_BYTES}")
    assert too_big.status_code == 500
    error = too_big.json()["error"]
    assert error["code"] == "response_too_large" and error["details"]["limit"] == LAMBDA_RESPONSE_BYTES
    assert "at most 6291456 bytes" in error["message"]


def test_answers_within_the_limit_and_outside_the_api_pass_unchanged():
    client = _client()
    fits = client.get(f"/api/v1/sized/{LAMBDA_RESPONSE_BYTES - 100}")
    assert fits.status_code == 200 and len(fits.json()["data"]) == LAMBDA_RESPONSE_BYTES - 100
    static = client.get(f"/site/{LAMBDA_RESPONSE_BYTES + 10}")
    assert static.status_code == 200
