"""A Lambda invocation that comes after the emulator stopped (a state machine's retry waking late in a process
whose emulator is gone, as in a test session's last minutes) fails as an invocation error: moto's own path
would try to start a Docker container, which this platform never runs."""

import json
import socket
import sys
import threading
import time

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


def _function(emulator: Emulator, name: str, handler: str, *, role_name: str):  # noqa: ANN202
    """moto's function ``name``, running ``lambda_fixtures.<handler>``, made on ``emulator``."""
    session = boto3.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1")
    clients = {s: session.client(s, endpoint_url=emulator.endpoint_url) for s in ("lambda", "iam")}
    lambda_fixtures.create_functions(clients, {name: (handler, 30)}, role_name=role_name)
    return lambda_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].get_function(name)


def test_an_invocation_after_the_emulator_stopped_fails_without_trying_docker(monkeypatch):
    emulator = Emulator(port=_free_port())
    emulator.start()
    try:
        function = _function(emulator, "late-echo", "echo", role_name="after-stop-test")
        headers: dict = {}
        assert json.loads(function.invoke("{}", {}, headers))["function"] == "late-echo"  # runs while it is up
    finally:
        emulator.stop()

    monkeypatch.setitem(sys.modules, "docker", None)  # importing it (moto's container path) would raise
    headers = {}
    answer = function.invoke(json.dumps({"late": True}), {}, headers)
    assert answer.decode() == lambda_runtime.STOPPED_ANSWER
    assert headers["x-amz-function-error"] == "Handled"


def test_stopping_the_runtime_can_wait_for_the_invocations_under_way():
    """A test restoring its environment waits for them: a handler still running would read the next test's."""
    emulator = Emulator(port=_free_port())
    emulator.start()
    try:
        function = _function(emulator, "slow-busy", "busy", role_name="wait-test")
        lambda_fixtures.busy_now.clear()
        answers: list = []
        running = threading.Thread(target=lambda: answers.append(function.invoke('{"seconds": 1}', {}, {})))
        running.start()
        deadline = time.monotonic() + 10
        while lambda_fixtures.busy_now["running"] == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert lambda_fixtures.busy_now["running"] == 1

        assert lambda_runtime.uninstall(wait=0.05) is False  # still running; later ones are refused from now
        assert function.invoke('{"seconds": 0}', {}, {}).decode() == lambda_runtime.STOPPED_ANSWER
        assert lambda_runtime.uninstall(wait=10) is True
        assert lambda_fixtures.busy_now["running"] == 0
        running.join(5)
        assert "remaining_ms_at_start" in json.loads(answers[0])  # it finished, answered as usual
    finally:
        emulator.stop()
