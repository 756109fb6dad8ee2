"""Lambda handlers in function worker processes (``infra/local/function_workers.py``): each invocation's answer
comes back from another process, many run at once in one worker, a worker that dies fails only its invocations
and is replaced, the function's timeout holds, and the emulator knows which function made a worker's calls."""

import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest
import urllib3

from infra.local import lambda_runtime
from infra.local.emulator import Emulator
from infra.local.faults import FAULTS_PATH
from tests.e2e.conftest import REPO, free_port
from tests.support import lambda_fixtures
from tests.support.processes import process_state

FIXTURES = "tests.support.lambda_fixtures"


@pytest.fixture(scope="module")
def aws():
    emulator = Emulator(port=free_port())
    emulator.start()
    lambda_runtime.run_functions_in_workers(1, 8, lambda handler: handler.startswith(FIXTURES))
    session = boto3.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1")
    clients = {s: session.client(s, endpoint_url=emulator.endpoint_url) for s in ("lambda", "iam", "s3")}
    handlers = {"whoami": ("whoami", 30), "exits": ("exits", 30), "store": ("store", 30), "slow": ("whoami", 1)}
    lambda_fixtures.create_functions(
        clients, {f"worker-{name}": handler for name, handler in handlers.items()}, role_name="workers-test"
    )
    clients["s3"].create_bucket(Bucket="workers-test")
    clients["endpoint"] = emulator.endpoint_url
    try:
        yield clients
    finally:
        lambda_runtime.stop_function_workers()
        emulator.stop()


def _invoke(aws, name: str, event: dict) -> tuple[bool, dict]:
    answer = aws["lambda"].invoke(FunctionName=f"worker-{name}", Payload=json.dumps(event))
    return "FunctionError" in answer, json.loads(answer["Payload"].read())


def test_invocations_run_in_a_worker_process_many_at_once(aws):
    started = time.monotonic()
    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(lambda _: _invoke(aws, "whoami", {"seconds": 1.0}), range(6)))
    assert all(not failed for failed, _ in answers)
    pids = {answer["pid"] for _, answer in answers}
    assert pids == set(lambda_runtime.function_worker_pids()) and os.getpid() not in pids
    assert answers[0][1]["function"] == "worker-whoami"
    assert time.monotonic() - started < 4  # one worker, six 1 s invocations: on threads, not one after another


def test_a_worker_that_dies_fails_its_invocation_as_lambda_does_and_is_replaced(aws):
    before = lambda_runtime.function_worker_pids()
    failed, error = _invoke(aws, "exits", {})
    assert failed and error["errorType"] == "Runtime.ExitError" and "exited" in error["errorMessage"]
    failed, answer = _invoke(aws, "whoami", {})
    assert not failed and answer["pid"] not in before
    assert lambda_runtime.function_worker_pids() == [answer["pid"]]


def test_an_invocation_past_its_function_timeout_fails_with_lambdas_error(aws):
    failed, error = _invoke(aws, "slow", {"seconds": 3})
    assert failed and error["errorType"] == "Sandbox.Timedout"
    assert "Task timed out after 1.00 seconds" in error["errorMessage"]


def test_the_emulator_knows_which_function_made_a_workers_call(aws):
    """Fault rules and the per-function call counts name the function behind a call from a worker."""
    http = urllib3.PoolManager()
    faults = aws["endpoint"] + FAULTS_PATH
    http.request("DELETE", faults)
    rule = {"operation": "s3:PutObject", "function": "worker-store", "status": 403, "code": "AccessDenied"}
    assert http.request("POST", faults, body=json.dumps(rule)).status == 201
    try:
        event = {"endpoint": aws["endpoint"], "bucket": "workers-test", "key": "k"}
        failed, error = _invoke(aws, "store", event)
        assert failed and "AccessDenied" in error["errorMessage"]
        aws["s3"].put_object(Bucket="workers-test", Key="k", Body=b"by a client")  # no function: not refused
        calls = json.loads(http.request("GET", faults).data)["calls"]
        assert {"function": "worker-store", "operation": "s3:PutObject", "count": 1} in calls
    finally:
        http.request("DELETE", faults)


_PLATFORM_WITH_WORKERS = """
import os, sys
from infra.local import lambda_runtime
lambda_runtime.run_in_workers({"x.y"}, 1)
lambda_runtime.run_functions_in_workers(1, 2, lambda handler: True)
media = lambda_runtime._workers.submit(os.getpid).result()
print(media, *lambda_runtime.function_worker_pids(), flush=True)
os.kill(os.getpid(), 9)
"""


def test_media_and_function_workers_end_when_their_platform_is_killed():
    """The media pool's queue kept its workers alive after the platform died (each holds both of its ends)."""
    killed = subprocess.run(  # noqa: S603
        [sys.executable, "-c", _PLATFORM_WITH_WORKERS], capture_output=True, text=True, timeout=120, cwd=REPO
    )
    workers = [int(pid) for pid in killed.stdout.split()]
    assert killed.returncode == -9 and len(workers) == 2, killed.stderr
    deadline = time.monotonic() + 15
    while (left := [pid for pid in workers if process_state(pid) not in ("", "Z")]) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not left, f"workers outlived their platform: {left}"
