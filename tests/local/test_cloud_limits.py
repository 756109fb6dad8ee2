"""The local runtime refuses what the cloud refuses: a Lambda answer over 6 MB, an API request past API
Gateway's integration timeout, a Lambda invocation past its function's timeout, a Step Functions payload over
256 KB. Each test fails where the limit is not enforced."""

from __future__ import annotations

import asyncio
import json
import socket
import time
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from fastapi import FastAPI
from starlette.testclient import TestClient

from infra.local import lambda_runtime
from infra.local.cloud_limits import LAMBDA_RESPONSE_BYTES, IntegrationTimeout, LambdaResponseLimit
from infra.local.emulator import Emulator
from infra.local.moto_patches.step_functions import MAX_PAYLOAD_BYTES
from tests.support import lambda_fixtures

# --- Lambda's 6 MB answer -------------------------------------------------------------------------------------


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


# --- API Gateway's integration timeout ------------------------------------------------------------------------


def _slow_app(limit: float) -> TestClient:
    app = FastAPI()

    @app.get("/api/v1/waits/{seconds}")
    async def waits(seconds: float) -> dict[str, float]:
        await asyncio.sleep(seconds)
        return {"waited": seconds}

    @app.post("/api/v1/blocks/{seconds}")
    def blocks(seconds: float) -> dict[str, float]:  # a sync route: FastAPI runs it on a worker thread
        time.sleep(seconds)
        return {"blocked": seconds}

    @app.get("/site/waits/{seconds}")
    async def site(seconds: float) -> dict[str, float]:
        await asyncio.sleep(seconds)
        return {"waited": seconds}

    return TestClient(IntegrationTimeout(app, seconds=limit))


def test_an_api_request_past_the_integration_timeout_is_api_gateways_504():
    client = _slow_app(limit=0.3)
    started = time.monotonic()
    late = client.get("/api/v1/waits/3")
    assert time.monotonic() - started < 2  # answered at the limit, not when the handler would have finished
    assert late.status_code == 504
    error = late.json()["error"]
    assert error["code"] == "gateway_timeout" and error["details"]["limit_seconds"] == 0.3
    assert "GET /api/v1/waits/3 took longer than 0.3 s" in error["message"]
    blocked = client.post("/api/v1/blocks/0.8")
    assert blocked.status_code == 504 and blocked.json()["error"]["code"] == "gateway_timeout"


def test_requests_within_the_timeout_and_outside_the_api_are_answered():
    client = _slow_app(limit=0.5)
    assert client.get("/api/v1/waits/0.01").json() == {"waited": 0.01}
    assert client.post("/api/v1/blocks/0.01").json() == {"blocked": 0.01}
    assert client.get("/site/waits/0.7").json() == {"waited": 0.7}  # the web UI is not behind API Gateway


# --- Lambda's per-function timeout and Step Functions' 256 KB, on the emulator ----------------------------------


def sleepy(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """A Lambda handler that takes ``event['seconds']``."""
    time.sleep(event["seconds"])
    return {"slept": event["seconds"]}


def measure(event: Any, context: Any) -> dict[str, int]:
    """A Lambda handler that answers the size of the event it got."""
    return {"bytes": len(json.dumps(event, separators=(",", ":")))}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def aws() -> Iterator[dict[str, Any]]:
    emulator = Emulator(port=_free_port())
    emulator.start()
    try:
        session = boto3.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1")
        clients: dict[str, Any] = {
            s: session.client(s, endpoint_url=emulator.endpoint_url) for s in ("lambda", "iam", "stepfunctions")
        }
        role, arns = lambda_fixtures.create_functions(
            clients, {"sleepy": ("sleepy", 1), "measure": ("measure", 30)}, role_name="limits-test", module=__name__
        )
        clients |= arns
        clients["role"] = role
        yield clients
    finally:
        emulator.stop()


def _run(aws: dict[str, Any], states: dict[str, Any], start: str, execution_input: str) -> dict[str, Any]:
    sfn = aws["stepfunctions"]
    machine = sfn.create_state_machine(
        name=f"limits-{uuid.uuid4().hex[:8]}",
        definition=json.dumps({"StartAt": start, "States": states}),
        roleArn=aws["role"],
    )["stateMachineArn"]
    arn = sfn.start_execution(stateMachineArn=machine, input=execution_input)["executionArn"]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        described = sfn.describe_execution(executionArn=arn)
        if described["status"] != "RUNNING":
            return dict(described)
        time.sleep(0.05)
    raise AssertionError("the execution did not finish")


def test_a_lambda_running_past_its_timeout_fails_as_lambda_fails_it(aws: dict[str, Any]) -> None:
    started = time.monotonic()
    answer = aws["lambda"].invoke(FunctionName="sleepy", Payload=json.dumps({"seconds": 2.5}))
    assert time.monotonic() - started < 2.2  # the caller had its answer at the timeout
    assert "FunctionError" in answer
    error = json.loads(answer["Payload"].read())
    assert error["errorType"] == "Sandbox.Timedout"
    assert error["errorMessage"].endswith("Error: Task timed out after 1.00 seconds")
    fits = aws["lambda"].invoke(FunctionName="sleepy", Payload=json.dumps({"seconds": 0.05}))
    assert "FunctionError" not in fits and json.loads(fits["Payload"].read()) == {"slept": 0.05}


def test_step_functions_retries_then_catches_a_lambda_timeout(aws: dict[str, Any]) -> None:
    before = lambda_runtime.invocations["sleepy"]
    states = {
        "Sleep": {
            "Type": "Task",
            "Resource": aws["sleepy"],
            "Retry": [{"ErrorEquals": ["Sandbox.Timedout"], "IntervalSeconds": 1, "MaxAttempts": 1}],
            "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.failure", "Next": "TimedOut"}],
            "End": True,
        },
        "TimedOut": {"Type": "Pass", "End": True},
    }
    done = _run(aws, states, "Sleep", json.dumps({"seconds": 1.6}))
    assert done["status"] == "SUCCEEDED", done
    failure = json.loads(done["output"])["failure"]
    assert failure["Error"] == "Sandbox.Timedout" and "Task timed out after 1.00 seconds" in failure["Cause"]
    assert lambda_runtime.invocations["sleepy"] == before + 2  # the first try and its retry


def _exactly(size: int) -> str:
    """A JSON document of exactly ``size`` bytes (compact, as Step Functions measures it)."""
    return json.dumps({"d": "x" * (size - 8)}, separators=(",", ":"))


def test_a_state_payload_up_to_256_kb_passes_and_one_byte_more_fails_the_execution(aws: dict[str, Any]) -> None:
    states = {"Hold": {"Type": "Pass", "End": True}}
    assert MAX_PAYLOAD_BYTES == 262_144
    fits = _run(aws, states, "Hold", _exactly(MAX_PAYLOAD_BYTES))
    assert fits["status"] == "SUCCEEDED", fits
    over = _run(aws, states, "Hold", _exactly(MAX_PAYLOAD_BYTES + 1))
    assert over["status"] == "FAILED" and over["error"] == "States.DataLimitExceeded", over
    assert "'Hold'" in over["cause"]


def test_a_task_input_made_over_256_kb_by_its_parameters_fails_before_the_lambda_runs(aws: dict[str, Any]) -> None:
    before = lambda_runtime.invocations["measure"]
    states = {
        "Measure": {
            "Type": "Task",
            "Resource": aws["measure"],
            "Parameters": {"first.$": "$.half", "second.$": "$.half"},
            "End": True,
        }
    }
    small = _run(aws, states, "Measure", json.dumps({"half": "x" * 1000}))
    assert small["status"] == "SUCCEEDED" and json.loads(small["output"])["bytes"] > 2000
    doubled = _run(aws, states, "Measure", json.dumps({"half": "x" * 150_000}))  # 150 KB in, 300 KB to the task
    assert doubled["status"] == "FAILED" and doubled["error"] == "States.DataLimitExceeded", doubled
    assert "'Measure' has an input of more than 262144 bytes" in doubled["cause"]
    assert lambda_runtime.invocations["measure"] == before + 1  # only the small one ran
