"""A Lambda invocation that comes after the emulator stopped (a state machine's retry waking late in a process
whose emulator is gone, as in a test session's last minutes) fails as an invocation error: moto's own path
would try to start a Docker container, which this platform never runs."""

import json
import socket
import sys

import boto3
from moto.awslambda.models import lambda_backends
from moto.core import DEFAULT_ACCOUNT_ID

from infra.local import lambda_runtime
from infra.local.emulator import Emulator
from tests.support import lambda_fixtures


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_an_invocation_after_the_emulator_stopped_fails_without_trying_docker(monkeypatch):
    emulator = Emulator(port=_free_port())
    emulator.start()
    try:
        session = boto3.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1")
        clients = {s: session.client(s, endpoint_url=emulator.endpoint_url) for s in ("lambda", "iam")}
        lambda_fixtures.create_functions(clients, {"late-echo": ("echo", 30)}, role_name="after-stop-test")
        function = lambda_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].get_function("late-echo")
        headers: dict = {}
        assert json.loads(function.invoke("{}", {}, headers))["function"] == "late-echo"  # runs while it is up
    finally:
        emulator.stop()

    monkeypatch.setitem(sys.modules, "docker", None)  # importing it (moto's container path) would raise
    headers = {}
    answer = function.invoke(json.dumps({"late": True}), {}, headers)
    assert answer.decode() == lambda_runtime.STOPPED_ANSWER
    assert headers["x-amz-function-error"] == "Handled"
