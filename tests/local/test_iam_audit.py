"""The IAM audit's recorder: each AWS call is recorded as the role of the function or state machine making it.

An in-process Lambda invocation acts as its function's role; a Step Functions execution's tasks act as the
state machine's role; calls made outside both (the test's own, the provisioner's) are not recorded.
"""

import copy
import dataclasses
import io
import json
import shutil
import socket
import time
import zipfile
from pathlib import Path

import boto3
import pytest

from infra.local.emulator import Emulator
from infra.local.iam_audit import recorder
from infra.local.iam_audit.check import Call, Recording, evaluate, unacknowledged_wildcards
from infra.local.iam_audit.grants import Grants
from infra.local.iam_audit.requests import TASK_TOKEN, NoRule, accesses, presigned_post
from tests.support.auth import local_assembly


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def audited(tmp_path_factory, local_stack):
    # ``local_stack`` is provisioned before this emulator starts: provisioned while it runs, the session's
    # template would be bound to it (its state machines among those it executes, its deliveries to its
    # functions) and later modules on this worker would find them gone or hanging
    directory = tmp_path_factory.mktemp("iam-audit")
    emu = Emulator(port=_free_port())
    emu.start()
    recorder.install(directory)
    recorder.run_step_functions_executions_as_their_role()
    try:
        yield emu, directory
    finally:
        recorder.uninstall()
        emu.stop()


def _wait(sfn, arn, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = sfn.describe_execution(executionArn=arn)
        if status["status"] != "RUNNING":
            return status
        time.sleep(0.1)
    raise AssertionError("execution did not finish")


def test_calls_are_recorded_as_the_role_of_the_function_or_state_machine_making_them(audited):
    emu, directory = audited
    session = boto3.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1")
    aws = {s: session.client(s, endpoint_url=emu.endpoint_url) for s in ("lambda", "iam", "stepfunctions", "s3")}
    roles = {
        name: aws["iam"].create_role(RoleName=f"audit-{name}", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        for name in ("function", "machine")
    }
    aws["s3"].create_bucket(Bucket="audited")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("unused.py", "")
    function_arn = aws["lambda"].create_function(
        FunctionName="audited-store",
        Runtime="python3.12",
        Role=roles["function"],
        Handler="tests.support.lambda_fixtures.store",
        Code={"ZipFile": buffer.getvalue()},
        Timeout=30,
    )["FunctionArn"]
    definition = {"StartAt": "Store", "States": {"Store": {"Type": "Task", "Resource": function_arn, "End": True}}}
    machine = aws["stepfunctions"].create_state_machine(
        name="audited", definition=json.dumps(definition), roleArn=roles["machine"]
    )["stateMachineArn"]

    event = {"endpoint": emu.endpoint_url, "bucket": "audited"}
    aws["lambda"].invoke(FunctionName="audited-store", Payload=json.dumps({**event, "key": "direct.txt"}))
    execution = aws["stepfunctions"].start_execution(
        stateMachineArn=machine, input=json.dumps({**event, "key": "from-machine.txt"})
    )["executionArn"]
    assert _wait(aws["stepfunctions"], execution)["status"] == "SUCCEEDED"

    calls = Recording.read(directory).calls
    assert Call(roles["machine"], "lambda:InvokeFunction", function_arn) in calls
    for key in ("direct.txt", "from-machine.txt"):
        assert Call(roles["function"], "s3:PutObject", f"arn:aws:s3:::audited/{key}") in calls
    # the test's own calls (create_function, invoke, start_execution) act as nobody's role: not recorded
    assert {c.principal for c in calls} == set(roles.values())


# --- the check, on the synthesized template as provisioned (the session's local_stack) ---------------


@pytest.fixture(scope="module")
def grants(local_stack) -> Grants:
    return Grants.of(local_stack.deployment, local_assembly().directory)


def _role_of(grants: Grants, function_part: str) -> str:
    (arn,) = [arn for arn, role in grants.roles.items() if any(function_part in who for who in role.assumed_by)]
    return arn


def _machine(grants: Grants, part: str, *, but_not: str = "\0") -> str:
    (name,) = [
        w
        for r in grants.roles.values()
        for w in r.assumed_by
        if w.startswith("state machine") and part in w.lower() and but_not not in w.lower()
    ]
    return f"arn:aws:states:us-east-1:123456789012:stateMachine:{name.removeprefix('state machine ')}"


def _table_and_media(local_stack) -> tuple[str, str]:
    env = local_stack.environment
    return f"arn:aws:dynamodb:us-east-1:123456789012:table/{env['TABLE_NAME']}", f"arn:aws:s3:::{env['MEDIA_BUCKET']}"


def test_granted_calls_pass_and_a_call_outside_the_grants_is_named(grants, local_stack):
    register = _role_of(grants, "ingestregister")
    table, media = _table_and_media(local_stack)
    recording = Recording(
        calls={
            Call(register, "dynamodb:PutItem", table),
            Call(register, "dynamodb:Query", f"{table}/index/gsi1"),
            Call(register, "s3:PutObject", f"{media}/quarantine/p/late.json"),  # its only S3 write
            Call(register, "s3:PutObject", f"{media}/originals/p/x.jpg"),  # not granted
        }
    )
    report = evaluate(grants, recording)
    (missing,) = report.missing
    assert "ingestregister" in missing and "s3:PutObject" in missing and f"{media}/originals/p/x.jpg" in missing
    assert report.errors == [] and report.unacknowledged_wildcards == []
    assert any("s3:GetObject*" in grant for grant in report.unused[grants.roles[register].name])


def test_a_grant_missing_from_the_synthesized_policy_fails_the_check(grants):
    trigger = _role_of(grants, "ingesttrigger")
    start = Call(trigger, "states:StartExecution", _machine(grants, "ingest", but_not="video"))
    assert evaluate(grants, Recording(calls={start})).failures == []

    without = copy.deepcopy(grants)
    for policy in without.roles[trigger].policies:
        statements = policy.document["Statement"]
        statements[:] = [s for s in statements if "states:StartExecution" not in json.dumps(s["Action"])]
    (failure,) = evaluate(without, Recording(calls={start})).failures
    assert failure.startswith(f"function {grants.roles[trigger].name.removeprefix('function ')} calls ")
    assert "states:StartExecution" in failure and start.resource in failure and "does not allow" in failure


def test_task_tokens_resolve_to_their_state_machine_and_unexplained_calls_fail(grants):
    api, review = grants.api_role, _machine(grants, "review")
    calls = {
        Call(api, "states:SendTaskSuccess", f"{TASK_TOKEN}t1"),
        Call(api, "states:SendTaskSuccess", f"{TASK_TOKEN}t2"),
    }
    report = evaluate(
        grants, Recording(calls=calls, task_tokens={"t1": review}, no_rule={(api, "kms:Decrypt: no rule")})
    )
    assert report.missing == []
    assert sorted(report.errors) == sorted(
        [
            f"{grants.roles[api].name}: kms:Decrypt: no rule",
            f"{grants.roles[api].name}: states:SendTaskSuccess with a task token this emulator never handed out",
        ]
    )
    stranger = Call("arn:aws:iam::123456789012:role/nobody", "s3:GetObject", "arn:aws:s3:::b/k")
    assert "a role no template declares" in evaluate(grants, Recording(calls={stranger})).errors[0]


def test_a_wildcard_cdk_nag_was_not_told_about_fails(grants, tmp_path):
    assembly = Path(grants.assembly)
    for path in assembly.glob("*.json"):
        shutil.copy(path, tmp_path / path.name)
    template_path = tmp_path / "Annolake-local-App.template.json"
    template = json.loads(template_path.read_text())
    api_policy = grants.roles[grants.api_role].policies[0].logical_id
    template["Resources"][api_policy]["Properties"]["PolicyDocument"]["Statement"].append(
        {"Effect": "Allow", "Action": "dynamodb:*", "Resource": "*"}
    )
    template_path.write_text(json.dumps(template))
    widened = dataclasses.replace(grants, assembly=str(tmp_path))
    (problem,) = unacknowledged_wildcards(widened)
    assert "Action::dynamodb:*" in problem and api_policy in problem and "acknowledg" in problem
    # Resource::* is acknowledged on every function role (X-Ray): only the new action is reported


@pytest.mark.parametrize(
    ("service", "operation", "params", "expected"),
    [
        ("s3", "HeadObject", {"Bucket": "b", "Key": "k/x.jpg"}, [("s3:GetObject", "arn:aws:s3:::b/k/x.jpg")]),
        ("s3", "ListObjectsV2", {"Bucket": "b", "Prefix": "p/"}, [("s3:ListBucket", "arn:aws:s3:::b")]),
        (
            "s3",
            "CopyObject",
            {"Bucket": "b", "Key": "to", "CopySource": {"Bucket": "a", "Key": "from"}},
            [("s3:GetObject", "arn:aws:s3:::a/from"), ("s3:PutObject", "arn:aws:s3:::b/to")],
        ),
        (
            "dynamodb",
            "TransactWriteItems",
            {"TransactItems": [{"Put": {"TableName": "t"}}, {"ConditionCheck": {"TableName": "t"}}]},
            [
                ("dynamodb:PutItem", "arn:aws:dynamodb:us-east-1:123456789012:table/t"),
                ("dynamodb:ConditionCheckItem", "arn:aws:dynamodb:us-east-1:123456789012:table/t"),
            ],
        ),
        (
            "dynamodb",
            "Query",
            {"TableName": "t", "IndexName": "gsi1"},
            [("dynamodb:Query", "arn:aws:dynamodb:us-east-1:123456789012:table/t/index/gsi1")],
        ),
        (
            "lambda",
            "Invoke",
            {"FunctionName": "f"},
            [("lambda:InvokeFunction", "arn:aws:lambda:us-east-1:123456789012:function:f")],
        ),
        ("cognito-idp", "InitiateAuth", {"ClientId": "c"}, []),
    ],
)
def test_calls_become_the_actions_and_resources_iam_checks(service, operation, params, expected):
    assert accesses(service, operation, params) == expected


def test_an_operation_without_a_rule_is_named_and_form_uploads_cover_their_prefix():
    with pytest.raises(NoRule, match=r"s3:PutBucketPolicy: no rule for this operation"):
        accesses("s3", "PutBucketPolicy", {"Bucket": "b"})
    with pytest.raises(NoRule, match=r"kms:Decrypt: no rule for the service 'kms'"):
        accesses("kms", "Decrypt", {})
    assert presigned_post("b", "imports/p/i/${filename}") == [("s3:PutObject", "arn:aws:s3:::b/imports/p/i/*")]
