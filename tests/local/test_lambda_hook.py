"""The in-process Lambda hook: moto must call our runner (not Docker) from invokes and Step Functions.

If a moto upgrade renames or bypasses ``LambdaFunction._invoke_lambda``, these tests fail.
"""

import json
import socket
import time

import boto3
import pytest

from infra.local import lambda_runtime
from infra.local.emulator import Emulator
from tests.support import lambda_fixtures


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def emulator():
    emu = Emulator(port=_free_port())
    emu.start()
    yield emu
    emu.stop()


@pytest.fixture(scope="module")
def aws(emulator):
    session = boto3.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1")
    services = ("lambda", "iam", "stepfunctions", "sqs")
    clients = {s: session.client(s, endpoint_url=emulator.endpoint_url) for s in services}
    names = ("echo", "flaky", "broken", "busy", "batch", "hold")
    role, arns = lambda_fixtures.create_functions(clients, {n: (n, 30) for n in names}, role_name="hook-test")
    clients["role"], clients["arns"] = role, arns
    return clients


def test_invoke_runs_the_handler_in_process(aws):
    before = lambda_runtime.invocations["echo"]
    response = aws["lambda"].invoke(FunctionName="echo", Payload=json.dumps({"hello": "world"}))
    payload = json.loads(response["Payload"].read())
    assert payload["echo"] == {"hello": "world"} and payload["function"] == "echo"
    assert 0 < payload["remaining_ms"] <= 30_000
    assert lambda_runtime.invocations["echo"] == before + 1


def test_a_burst_of_media_invocations_queues_for_a_slot_before_its_timeout_starts(aws, monkeypatch):
    """The media handlers run at most one per CPU at once in the platform process (a burst of drops no longer
    decodes hundreds of photos at once); an invocation waiting for a slot has not started its timeout yet."""
    from concurrent.futures import ThreadPoolExecutor

    monkeypatch.setattr(lambda_runtime.os, "cpu_count", lambda: 2)
    lambda_runtime.run_in_workers({"tests.support.lambda_fixtures.busy"}, 0)
    lambda_fixtures.busy_now.clear()
    try:

        def invoke(_: int) -> dict:
            answer = aws["lambda"].invoke(FunctionName="busy", Payload=json.dumps({"seconds": 1.0}))
            assert "FunctionError" not in answer
            return json.loads(answer["Payload"].read())

        with ThreadPoolExecutor(6) as pool:
            answers = list(pool.map(invoke, range(6)))
        # other functions are not held back
        assert json.loads(aws["lambda"].invoke(FunctionName="echo", Payload=b"{}")["Payload"].read())["echo"] == {}
    finally:
        lambda_runtime.stop_workers()
    assert lambda_fixtures.busy_now["most"] == 2
    # the last two waited ~2 s for a slot; their 30 s started when they had one
    assert min(answer["remaining_ms_at_start"] for answer in answers) > 29_000


def test_handler_errors_surface_as_function_errors(aws):
    response = aws["lambda"].invoke(FunctionName="broken", Payload=b"{}")
    assert "FunctionError" in response
    error = json.loads(response["Payload"].read())
    assert error["errorType"] == "ValueError" and "cannot handle" in error["errorMessage"]


@pytest.mark.slow  # waits out the retry intervals (2 s) on the ASL engine
def test_a_task_on_a_function_arn_invokes_it_without_a_request_and_its_errors_still_retry(aws, emulator, monkeypatch):
    """A task whose Resource is the function's ARN (CDK's ``payload_response_only``) reaches the function without
    botocore or the request path: its payload and its error, retried by name, are what the client way gave."""
    definition = {
        "StartAt": "Flaky",
        "States": {
            "Flaky": {
                "Type": "Task",
                "Resource": aws["arns"]["flaky"],
                "Retry": [
                    {"ErrorEquals": ["TransientError"], "IntervalSeconds": 1, "MaxAttempts": 3, "BackoffRate": 1}
                ],
                "ResultPath": "$.flaky",
                "Next": "Echo",
            },
            "Echo": {"Type": "Task", "Resource": aws["arns"]["echo"], "ResultPath": "$.echo", "End": True},
        },
    }
    sfn = aws["stepfunctions"]
    machine = sfn.create_state_machine(name="hook-direct", definition=json.dumps(definition), roleArn=aws["role"])
    lambda_fixtures.calls["flaky"] = 0
    invoke_requests = []
    app = emulator.in_process.app

    def counting(environ, start_response):
        if environ["PATH_INFO"].endswith("/invocations"):
            invoke_requests.append(environ["PATH_INFO"])
        return app(environ, start_response)

    monkeypatch.setattr(emulator.in_process, "app", counting)  # the engine's requests, were it to make any
    execution = sfn.start_execution(stateMachineArn=machine["stateMachineArn"], input='{"n": 1}')
    result = _wait(sfn, execution["executionArn"])
    assert result["status"] == "SUCCEEDED", result
    output = json.loads(result["output"])
    assert output["flaky"] == {"attempt": 3} and lambda_fixtures.calls["flaky"] == 3
    assert output["echo"]["echo"] == {"n": 1, "flaky": {"attempt": 3}} and output["echo"]["function"] == "echo"
    assert invoke_requests == []  # four invocations, none of them a request


def test_sqs_messages_reach_their_function_in_batches_gathered_for_the_mapping_window(aws):
    """Lambda's poller hands a function up to BatchSize messages at a time, gathered for up to the mapping's
    batching window; moto invoked it once per message."""
    sqs = aws["sqs"]
    queue = sqs.create_queue(QueueName="hook-batches")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    aws["lambda"].create_event_source_mapping(
        EventSourceArn=arn, FunctionName="batch", BatchSize=10, MaximumBatchingWindowInSeconds=1
    )
    lambda_fixtures.batches.clear()
    for n in range(0, 25, 5):
        sqs.send_message_batch(QueueUrl=queue, Entries=[{"Id": str(i), "MessageBody": str(i)} for i in range(n, n + 5)])
    deadline = time.monotonic() + 30
    while sum(lambda_fixtures.batches) < 25 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert sum(lambda_fixtures.batches) == 25
    assert max(lambda_fixtures.batches) <= 10 and len(lambda_fixtures.batches) <= 4, lambda_fixtures.batches


def test_messages_sent_at_once_to_a_mapped_queue_each_reach_the_function_once(aws):
    """Many senders at once (EventBridge targets of API requests, say): every send succeeds, every message is
    delivered exactly once, and none is left in the queue."""
    from concurrent.futures import ThreadPoolExecutor

    sqs = aws["sqs"]
    queue = sqs.create_queue(QueueName="hook-senders")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    aws["lambda"].create_event_source_mapping(EventSourceArn=arn, FunctionName="batch", BatchSize=10)
    lambda_fixtures.bodies.clear()
    sent = [f"m{n}" for n in range(400)]
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda body: sqs.send_message(QueueUrl=queue, MessageBody=body), sent))
    deadline = time.monotonic() + 30
    while len(lambda_fixtures.bodies) < len(sent) and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(0.5)  # a duplicate would arrive by now
    assert sorted(lambda_fixtures.bodies) == sorted(sent)
    counts = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["All"])["Attributes"]
    assert counts["ApproximateNumberOfMessages"] == counts["ApproximateNumberOfMessagesNotVisible"] == "0"


def test_a_task_token_is_answered_by_its_own_execution_among_many_finished_ones(aws, monkeypatch):
    """SendTaskSuccess/Failure go to the execution that handed the token out, without reading the status of the
    others (moto offered each token to every execution ever started); a token whose execution is over is
    refused as before, so a repeated submit still learns the workflow has moved on."""
    from botocore.exceptions import ClientError
    from moto.stepfunctions.parser.backend.execution import Execution

    sfn = aws["stepfunctions"]
    done = sfn.create_state_machine(
        name="hook-done",
        definition=json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}),
        roleArn=aws["role"],
    )["stateMachineArn"]
    finished = [sfn.start_execution(stateMachineArn=done, name=f"done-{n}")["executionArn"] for n in range(30)]
    for arn in finished:
        assert _wait(sfn, arn)["status"] == "SUCCEEDED"
    waiting = {
        "StartAt": "Hold",
        "States": {
            "Hold": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
                "Parameters": {"FunctionName": "hold", "Payload": {"token.$": "$$.Task.Token"}},
                "End": True,
            }
        },
    }
    machine = sfn.create_state_machine(name="hook-hold", definition=json.dumps(waiting), roleArn=aws["role"])
    lambda_fixtures.tokens.clear()
    runs = [
        sfn.start_execution(stateMachineArn=machine["stateMachineArn"], name=f"hold-{n}")["executionArn"]
        for n in (1, 2)
    ]
    deadline = time.monotonic() + 30
    while len(lambda_fixtures.tokens) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    first, second = lambda_fixtures.tokens

    status_reads = []
    status = Execution.status

    def counted(self):
        status_reads.append(self.exec_arn)
        return status.fget(self)

    monkeypatch.setattr(Execution, "status", property(counted))
    sfn.send_task_success(taskToken=first, output='{"ok": true}')
    sfn.send_task_failure(taskToken=second, error="Nope", cause="declined")
    assert not set(status_reads) & set(finished)  # the 30 finished executions were not asked
    monkeypatch.setattr(Execution, "status", status)

    ends = {arn: _wait(sfn, arn) for arn in runs}
    assert sorted(e["status"] for e in ends.values()) == ["FAILED", "SUCCEEDED"]
    succeeded = next(e for e in ends.values() if e["status"] == "SUCCEEDED")
    assert json.loads(succeeded["output"]) == {"ok": True}
    failed = next(e for e in ends.values() if e["status"] == "FAILED")
    assert failed["error"] == "Nope"
    with pytest.raises(ClientError) as repeated:
        sfn.send_task_success(taskToken=first, output="{}")
    assert repeated.value.response["Error"]["Code"] in ("InvalidToken", "TaskTimedOut", "TaskDoesNotExist")


def _wait(sfn, arn, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = sfn.describe_execution(executionArn=arn)
        if status["status"] != "RUNNING":
            return status
        time.sleep(0.1)
    raise AssertionError("execution did not finish")


@pytest.mark.slow  # waits out the retry intervals (2 s) on the ASL engine
def test_step_functions_task_retries_on_the_python_error_name_then_catches(aws):
    definition = {
        "StartAt": "Flaky",
        "States": {
            "Flaky": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "OutputPath": "$.Payload",
                "Parameters": {"FunctionName": "flaky", "Payload.$": "$"},
                "Retry": [
                    {"ErrorEquals": ["TransientError"], "IntervalSeconds": 1, "MaxAttempts": 3, "BackoffRate": 1}
                ],
                "Next": "Broken",
            },
            "Broken": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": "broken", "Payload.$": "$"},
                "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Handled"}],
                "End": True,
            },
            "Handled": {"Type": "Succeed"},
        },
    }
    sfn = aws["stepfunctions"]
    machine = sfn.create_state_machine(name="hook-retry", definition=json.dumps(definition), roleArn=aws["role"])
    lambda_fixtures.calls["flaky"] = 0
    execution = sfn.start_execution(stateMachineArn=machine["stateMachineArn"], input="{}")
    result = _wait(sfn, execution["executionArn"])
    assert result["status"] == "SUCCEEDED", result
    output = json.loads(result["output"])
    assert output["attempt"] == 3 and lambda_fixtures.calls["flaky"] == 3
    assert output["error"]["Error"] == "ValueError"
    assert "cannot handle" in json.loads(output["error"]["Cause"])["errorMessage"]


def test_a_machine_keeps_its_newest_finished_executions_an_express_one_fewer(aws, monkeypatch):
    """moto kept every execution it ever ran (one per ingested file, one per file of a job, with its history);
    AWS keeps no Express execution to list. The emulator keeps each machine's newest finished ones, fewer of an
    Express machine's."""
    from infra.local.moto_patches import step_functions

    monkeypatch.setattr(step_functions, "EXPRESS_EXECUTIONS_KEPT", 5)
    monkeypatch.setattr(step_functions, "STANDARD_EXECUTIONS_KEPT", 12)
    monkeypatch.setattr(step_functions, "PRUNE_EVERY", 3)
    sfn = aws["stepfunctions"]
    definition = json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
    listed = {}
    for kind in ("EXPRESS", "STANDARD"):
        arn = sfn.create_state_machine(
            name=f"hook-{kind.lower()}", definition=definition, roleArn=aws["role"], type=kind
        )["stateMachineArn"]
        started = []
        for n in range(20):
            started.append(sfn.start_execution(stateMachineArn=arn, name=f"run-{n}")["executionArn"])
            _wait(sfn, started[-1])  # finished before the next one starts
        listed[kind] = [e["executionArn"] for e in sfn.list_executions(stateMachineArn=arn)["executions"]]
        assert set(listed[kind]) <= set(started)
    assert 12 <= len(listed["STANDARD"]) <= 12 + 3
    assert 5 <= len(listed["EXPRESS"]) <= 5 + 3
    for kind in listed:  # the newest, newest first as ListExecutions orders them
        assert [arn.rsplit(":run-", 1)[1] for arn in listed[kind]] == [
            str(n) for n in range(19, 19 - len(listed[kind]), -1)
        ]


def test_an_execution_waiting_on_its_token_holds_one_thread_and_a_declared_timeout_still_ends_it(aws):
    """A review execution (a Map over slots, each a waitForTaskToken task) waits as long as its file waits to be
    annotated: moto ran its program, the Map, the Map's one iteration and the task each in a thread of their own
    that only waited, six threads an execution, so a job over a few thousand files ran the machine out of
    threads. Untimed, they run in the thread that waited; the answer still reaches the output through the Map,
    a Map over two slots still waits on both at once, and a task that declares ``TimeoutSeconds`` still times
    out."""
    import threading

    sfn = aws["stepfunctions"]

    open_slot = {
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
        "Parameters": {"FunctionName": "hold", "Payload": {"token.$": "$$.Task.Token"}},
        "End": True,
    }

    def machine(name: str, definition: dict) -> str:
        return sfn.create_state_machine(name=name, definition=json.dumps(definition), roleArn=aws["role"])[
            "stateMachineArn"
        ]

    slots = {"StartAt": "Open", "States": {"Open": open_slot}}
    waiting = machine(
        "hook-slots",
        {
            "StartAt": "Slots",
            "States": {"Slots": {"Type": "Map", "ItemsPath": "$.slots", "ItemProcessor": slots, "End": True}},
        },
    )
    lambda_fixtures.tokens.clear()

    def engine_threads() -> int:  # the Step Functions engine's, by the functions they run
        ends = ("(_execution_logic)", "(_exec_and_notify)", "(eval)")
        return sum(1 for thread in threading.enumerate() if thread.name.endswith(ends))

    before = engine_threads()
    runs = [
        sfn.start_execution(stateMachineArn=waiting, name=f"slots-{n}", input='{"slots": [1]}')["executionArn"]
        for n in range(10)
    ]
    deadline = time.monotonic() + 30
    while len(lambda_fixtures.tokens) < 10 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(lambda_fixtures.tokens) == 10
    time.sleep(0.3)
    assert engine_threads() - before == 10, engine_threads() - before  # 60 before: six an execution
    for n, token in enumerate(list(lambda_fixtures.tokens)):
        sfn.send_task_success(taskToken=token, output=json.dumps({"done": n}))
    outputs = [_wait(sfn, arn) for arn in runs]
    assert all(o["status"] == "SUCCEEDED" for o in outputs)
    assert sorted(json.loads(o["output"])[0]["done"] for o in outputs) == list(range(10))

    lambda_fixtures.tokens.clear()
    both = sfn.start_execution(stateMachineArn=waiting, input='{"slots": [1, 2]}')["executionArn"]
    deadline = time.monotonic() + 30
    while len(lambda_fixtures.tokens) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(lambda_fixtures.tokens) == 2  # both slots handed out before either is answered
    for n, token in enumerate(list(lambda_fixtures.tokens)):
        sfn.send_task_success(taskToken=token, output=json.dumps({"slot": n}))
    ended = _wait(sfn, both)
    assert ended["status"] == "SUCCEEDED" and sorted(o["slot"] for o in json.loads(ended["output"])) == [0, 1]

    timed = machine("hook-timed", {"StartAt": "Open", "States": {"Open": {**open_slot, "TimeoutSeconds": 1}}})
    run = sfn.start_execution(stateMachineArn=timed, input="{}")["executionArn"]
    ended = _wait(sfn, run)
    assert ended["status"] == "FAILED" and ended["error"] == "States.Timeout", ended


def _slots_machine(aws, name: str) -> str:
    """A review execution's shape: a Map over slots, each a task waiting on its token (``hold`` keeps it)."""
    open_slot = {
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
        "Parameters": {"FunctionName": "hold", "Payload": {"token.$": "$$.Task.Token"}},
        "Retry": [{"ErrorEquals": ["States.ALL"], "MaxAttempts": 2, "IntervalSeconds": 1}],
        "End": True,
    }
    definition = {
        "StartAt": "Slots",
        "States": {
            "Slots": {
                "Type": "Map",
                "ItemsPath": "$.slots",
                "ItemProcessor": {"StartAt": "Open", "States": {"Open": open_slot}},
                "End": True,
            }
        },
    }
    sfn = aws["stepfunctions"]
    return sfn.create_state_machine(name=name, definition=json.dumps(definition), roleArn=aws["role"])[
        "stateMachineArn"
    ]


def _tokens_handed_out(count: int) -> None:
    deadline = time.monotonic() + 30
    while len(lambda_fixtures.tokens) < count and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(lambda_fixtures.tokens) == count
    time.sleep(0.2)  # the task's Lambda has returned: the execution waits (or is parked)


def test_a_stopped_execution_waiting_on_its_token_ends_aborted_and_lets_its_thread_go(aws):
    """The wait runs in the execution's own thread: a stop wakes it, the execution ends ``ABORTED`` (its retry
    does not run the task again), and its token is refused afterwards."""
    import threading

    from botocore.exceptions import ClientError

    sfn = aws["stepfunctions"]
    machine = _slots_machine(aws, "hook-stopped")
    lambda_fixtures.tokens.clear()
    before = threading.active_count()
    run = sfn.start_execution(stateMachineArn=machine, input='{"slots": [1]}')["executionArn"]
    _tokens_handed_out(1)
    sfn.stop_execution(executionArn=run)
    assert _wait(sfn, run, timeout=5)["status"] == "ABORTED"
    history = [e["type"] for e in sfn.get_execution_history(executionArn=run)["events"]]
    assert history[-1] == "ExecutionAborted" and history.count("TaskScheduled") == 1, history
    deadline = time.monotonic() + 5
    while threading.active_count() > before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert threading.active_count() <= before
    with pytest.raises(ClientError) as refused:
        sfn.send_task_success(taskToken=lambda_fixtures.tokens[0], output="{}")
    assert refused.value.response["Error"]["Code"] == "InvalidToken"


def test_executions_beyond_the_waiting_limit_are_parked_and_their_answers_refused(aws):
    """At most ``waiting.limit`` executions wait on a token at once; the next one that would wait ends
    ``ABORTED`` with ``Annolake.Parked`` (its task handed out all the same) and an answer to its token is refused
    as for any execution that is gone, so the caller starts its work again; the others' answers still reach
    them, and there is room again once they end."""
    from botocore.exceptions import ClientError

    from infra.local.moto_patches import step_functions

    sfn = aws["stepfunctions"]
    machine = _slots_machine(aws, "hook-parked")
    lambda_fixtures.tokens.clear()
    limit, step_functions.waiting.limit = step_functions.waiting.limit, 3
    try:
        runs = []
        for n in range(5):  # one at a time: which ones wait is then known
            started = sfn.start_execution(stateMachineArn=machine, name=f"parked-{n}", input=f'{{"slots": [{n}]}}')
            runs.append(started["executionArn"])
            _tokens_handed_out(n + 1)
        described = [sfn.describe_execution(executionArn=run) for run in runs]
        assert [d["status"] for d in described] == ["RUNNING"] * 3 + ["ABORTED"] * 2
        assert {d.get("error") for d in described[3:]} == {"Annolake.Parked"}
        assert "ANNOLAKE_LOCAL_WAITING_EXECUTIONS" in described[3]["cause"]
        answers = []
        for n, token in enumerate(list(lambda_fixtures.tokens)):
            try:
                sfn.send_task_success(taskToken=token, output=json.dumps({"n": n}))
                answers.append("accepted")
            except ClientError as error:
                answers.append(error.response["Error"]["Code"])
        assert answers == ["accepted"] * 3 + ["InvalidToken"] * 2
        assert [_wait(sfn, run)["status"] for run in runs] == ["SUCCEEDED"] * 3 + ["ABORTED"] * 2
        assert step_functions.waiting.count == 0

        lambda_fixtures.tokens.clear()
        again = sfn.start_execution(stateMachineArn=machine, name="room", input='{"slots": [1, 2]}')["executionArn"]
        _tokens_handed_out(2)
        assert sfn.describe_execution(executionArn=again)["status"] == "RUNNING"  # room again: both slots wait
        for token in list(lambda_fixtures.tokens):
            sfn.send_task_success(taskToken=token, output="{}")
        assert _wait(sfn, again)["status"] == "SUCCEEDED"
    finally:
        step_functions.waiting.limit = limit
