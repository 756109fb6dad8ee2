"""The emulator's fault rules: matching calls fail as the service would answer, for as many times as asked."""

import json

import pytest
from werkzeug.test import Client
from werkzeug.wrappers import Response

from infra.local.faults import FAULTS_PATH, FaultInjection
from infra.local.lambda_runtime import running_function


def _service(environ, start_response):
    return Response("served")(environ, start_response)


@pytest.fixture
def client():
    return Client(FaultInjection(_service))


S3_AUTH = "AWS4-HMAC-SHA256 Credential=test/20261201/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=x"


def test_a_rule_fails_its_matches_as_often_as_asked_then_lets_them_through(client):
    rule = {"method": "PUT", "path_contains": "thumb.jpg", "status": 503, "code": "SlowDown", "times": 2}
    assert client.post(FAULTS_PATH, json=rule).status_code == 201
    answers = [client.put("/media/p/f/thumb.jpg", headers={"Authorization": S3_AUTH}) for _ in range(3)]
    assert [a.status_code for a in answers] == [503, 503, 200]
    assert b"<Code>SlowDown</Code>" in answers[0].data and answers[2].data == b"served"
    assert client.get("/media/p/f/thumb.jpg").data == b"served"  # another method
    assert client.put("/media/p/f/original.jpg").data == b"served"  # another path
    assert json.loads(client.get(FAULTS_PATH).data)["rules"][0]["fired"] == 2


def test_json_services_get_their_error_type_and_a_rule_without_times_fires_until_cleared(client):
    rule = {"method": "POST", "path_contains": "IngestProcess", "status": 429, "code": "TooManyRequestsException"}
    client.post(FAULTS_PATH, json=rule)
    for _ in range(3):
        answer = client.post("/2015-03-31/functions/annolake-IngestProcess/invocations")
        assert answer.status_code == 429 and answer.headers["x-amzn-ErrorType"] == "TooManyRequestsException"
        assert len(answer.headers["x-amzn-RequestId"]) == 32  # botocore and the Step Functions engine read it
        assert json.loads(answer.data)["__type"] == "TooManyRequestsException"
    assert json.loads(client.delete(FAULTS_PATH).data) == {"rules": []}
    assert client.post("/2015-03-31/functions/annolake-IngestProcess/invocations").data == b"served"


@pytest.mark.parametrize(
    ("rule", "words"),
    [
        ({"method": "PUT", "path_contains": "x"}, "needs a code"),
        ({"code": "SlowDown"}, "and what it matches"),
        ({"operation": "PutObject", "code": "SlowDown"}, "is service:Operation"),
        ({"method": "PUT", "path_contains": "x", "code": "SlowDown", "status": 200}, "not an error status"),
        ({"method": "PUT", "path_contains": "x", "code": "SlowDown", "key": "x"}, "unknown rule fields ['key']"),
    ],
)
def test_a_bad_rule_is_refused_naming_the_problem(client, rule, words):
    answer = client.post(FAULTS_PATH, json=rule)
    assert answer.status_code == 400 and words in json.loads(answer.data)["error"]
    assert json.loads(client.get(FAULTS_PATH).data)["rules"] == []


DYNAMODB_AUTH = S3_AUTH.replace("/s3/", "/dynamodb/")


def test_a_rule_on_an_operation_of_one_function_leaves_other_functions_and_operations_alone(client):
    rule = {"operation": "dynamodb:PutItem", "function": "IngestRegister", "status": 500, "code": "InternalServerError"}
    assert client.post(FAULTS_PATH, json=rule).status_code == 201

    def put_item(target="DynamoDB_20120810.PutItem"):
        return client.post("/", headers={"Authorization": DYNAMODB_AUTH, "X-Amz-Target": target})

    assert put_item().data == b"served"  # no function running in this thread: a client over the socket
    token = running_function.set("annolake-local-app-IngestRegister1234")
    try:
        failed = put_item()
        assert failed.status_code == 500 and json.loads(failed.data)["__type"] == "InternalServerError"
        assert put_item("DynamoDB_20120810.UpdateItem").data == b"served"
        copy = client.put("/media/k.jpg", headers={"Authorization": S3_AUTH, "X-Amz-Copy-Source": "drop/k.jpg"})
        assert copy.data == b"served"
    finally:
        running_function.reset(token)
    token = running_function.set("annolake-local-app-IngestQuarantine99")
    try:
        assert put_item().data == b"served"
    finally:
        running_function.reset(token)
    calls = json.loads(client.get(FAULTS_PATH).data)["calls"]
    assert {(c["function"][-14:], c["operation"], c["count"]) for c in calls} == {
        ("IngestRegister1234"[-14:], "dynamodb:PutItem", 1),
        ("IngestRegister1234"[-14:], "dynamodb:UpdateItem", 1),
        ("IngestRegister1234"[-14:], "s3:CopyObject", 1),
        ("IngestQuarantine99"[-14:], "dynamodb:PutItem", 1),
    }
    assert client.delete(FAULTS_PATH).status_code == 200 and json.loads(client.get(FAULTS_PATH).data)["calls"] == []
