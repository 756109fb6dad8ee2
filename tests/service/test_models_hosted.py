"""Models the user hosts, on the synthesized template with the prediction state machine executing: an HTTP
endpoint (the SDK's reference server, ``annolake.model_server``) and a Lambda function created in the emulator
(its handler runs in this process, as every function of the local platform does)."""

from __future__ import annotations

import io
import json
import socket
import zipfile

import pytest
from annolake import InvalidRequest
from annolake.model_server import ModelServer

from tests.support import hosted_model
from tests.support.model_platform import GREEN, RED, model_platform, unique_project

SECRET = "model-secret-" + "x" * 20
HOSTED = {"labels": hosted_model.CLASSES, "label_map": {"person": "pedestrian"}, "score_threshold": 0.5}


@pytest.fixture(scope="module")
def platform(local_stack, moto_endpoint):
    with model_platform(local_stack, moto_endpoint, unique_project("hosted")) as running:
        yield running


@pytest.fixture(scope="module")
def project(platform):
    return platform.project()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _assert_predicted_by_colour(run, ids, colours, model):
    for fid, colour in zip(ids, colours, strict=True):
        instances = run.predictions(fid)["instance_list"]
        assert {i["name"] for i in instances} == {"car" if colour == RED else "pedestrian"}
        assert sorted(i["score"] for i in instances) == [0.61, 0.93]
        for instance in instances:
            assert (instance["model"], instance["version"], instance["run"]) == (model.name, model.version, run.run_id)
            assert instance["source"] == "model" and instance["type"] == "box"


def test_an_http_model_predicts_every_file_and_its_secret_is_never_returned(platform, project):
    colours = [RED, GREEN] * 15  # two chunks of the run: two batches
    ids = platform.seed("web", colours)
    with ModelServer(hosted_model.predict, SECRET) as server:
        model = project.model.new("web", host="http", url=server.url, secret=SECRET, **HOSTED)
        assert model.info["status"] == "ready" and model.secret == SECRET and model.info["upload"] is None
        run = model.predict("web", threshold=0.5)
        final = run.wait(progress=False, timeout=120)

    assert (final["status"], final["total"], final["done"], final["failed"]) == ("completed", 30, 30, 0), final
    _assert_predicted_by_colour(run, ids, colours, model)
    web = project.directory.get("web")
    assert {s["file"]["id"] for s in web.slice("predictions.web.car = 2")} == {
        fid for fid, c in zip(ids, colours, strict=True) if c == RED
    }
    assert {s["file"]["id"] for s in web.slice("predictions.web.pedestrian.score < 0.7")} == {
        fid for fid, c in zip(ids, colours, strict=True) if c == GREEN
    }
    described = project.client.get(f"{project._path}/models/web")
    assert SECRET not in json.dumps(described) and SECRET not in json.dumps(project.model.list())
    assert described["versions"][0]["spec"]["url"] == server.url

    generated = project.model.new("web", host="http", url=server.url, **HOSTED)
    assert generated.version == 2 and generated.secret and generated.secret.startswith("whsec_")


def test_an_unreachable_endpoint_fails_its_files_with_the_reason_after_retries_and_a_redrive_finishes(
    platform, project
):
    colours = [RED, GREEN, RED]
    ids = platform.seed("down", colours, start=200)
    port = _free_port()  # nothing listens there yet
    model = project.model.new("down", host="http", url=f"http://127.0.0.1:{port}/predict", secret=SECRET, **HOSTED)
    run = model.predict("down")
    final = run.wait(progress=False, timeout=120)

    assert (final["status"], final["done"], final["failed"]) == ("completed_with_errors", 0, 3), final
    for failure in final["failures"]:
        assert failure["reason"].startswith("ModelUnreachable: could not reach http://127.0.0.1:")
        assert "after 4 attempts" in failure["reason"]
    assert {f["file_id"] for f in final["failures"]} == set(ids)

    with ModelServer(hosted_model.predict, SECRET, port=port):
        run.redrive()
        final = run.wait(progress=False, timeout=120)
    assert (final["status"], final["done"], final["failed"]) == ("completed", 3, 0), final
    _assert_predicted_by_colour(run, ids, colours, model)


def test_batches_signed_with_another_secret_are_refused_by_the_reference_server(platform, project):
    ids = platform.seed("forged", [RED, GREEN], start=300)
    with ModelServer(hosted_model.predict, SECRET) as server:
        model = project.model.new("forged", host="http", url=server.url, secret="another-secret-" + "y" * 20, **HOSTED)
        final = model.predict("forged").wait(progress=False, timeout=120)
    assert (final["status"], final["failed"]) == ("completed_with_errors", 2)
    for failure in final["failures"]:
        assert failure["file_id"] in ids
        assert "answered HTTP 401" in failure["reason"] and "signature does not verify" in failure["reason"]


def test_an_answer_that_does_not_fit_fails_the_file_it_concerns(platform, project):
    ids = platform.seed("odd", [RED, GREEN, RED], start=400)

    def predict(images):
        answers = hosted_model.predict(images)
        answers[1] = [{**answers[1][0], "label": "bicycle"}]  # the second file's model class is unknown
        return answers

    with ModelServer(predict, SECRET) as server:
        model = project.model.new("odd", host="http", url=server.url, secret=SECRET, **HOSTED)
        run = model.predict("odd")
        final = run.wait(progress=False, timeout=120)
    assert (final["status"], final["done"], final["failed"]) == ("completed_with_errors", 2, 1)
    [failure] = final["failures"]
    assert failure["reason"] == (
        "ModelAnswerInvalid: the model's answer does not fit: instance 0 has unknown label 'bicycle'; "
        "the model declares ['car', 'person']"
    )
    assert failure["file_id"] in ids and len(run.predictions(failure["file_id"])["instance_list"]) == 0


def test_hosted_registrations_refuse_what_the_platform_would_not_call(platform, project, monkeypatch):
    with pytest.raises(InvalidRequest, match="only http and https URLs"):
        project.model.new("bad", host="http", url="ftp://models.example.com/predict", **HOSTED)
    with pytest.raises(InvalidRequest, match="must be named annolake-local-models-<name>"):
        project.model.new(
            "bad", host="lambda", function_arn="arn:aws:lambda:us-east-1:123456789012:function:mine", **HOSTED
        )
    with pytest.raises(InvalidRequest, match="is not a Lambda function ARN"):
        project.model.new("bad", host="lambda", function_arn="annolake-local-models-x", **HOSTED)
    with pytest.raises(InvalidRequest, match="secret applies to http hosts only"):
        project.model.new(
            "bad",
            host="lambda",
            function_arn="arn:aws:lambda:us-east-1:123456789012:function:annolake-local-models-x",
            secret=SECRET,
            **HOSTED,
        )


def _user_function(platform, name: str) -> str:
    """A Lambda function of the user's, created in the emulator; its ARN."""
    import boto3

    session = boto3.Session(region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test")
    endpoint = platform.environment["AWS_ENDPOINT_URL"]
    iam = session.client("iam", endpoint_url=endpoint)
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    role = iam.create_role(RoleName=f"{name}-role", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    package = io.BytesIO()
    with zipfile.ZipFile(package, "w") as archive:  # the local runtime imports the handler from this checkout
        archive.writestr("README", "handler: tests.support.hosted_model.handler")
    created = session.client("lambda", endpoint_url=endpoint).create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=role,
        Handler="tests.support.hosted_model.handler",
        Code={"ZipFile": package.getvalue()},
        Timeout=60,
    )
    return created["FunctionArn"]


def test_a_lambda_model_is_invoked_with_each_batch_and_predicts_every_file(platform, project):
    colours = [GREEN, RED, GREEN, RED]
    ids = platform.seed("fn", colours, start=600)
    arn = _user_function(platform, "annolake-local-models-det")
    model = project.model.new("fn", host="lambda", function_arn=arn, **HOSTED)
    assert model.info["status"] == "ready" and model.secret is None
    run = model.predict("fn")
    final = run.wait(progress=False, timeout=120)
    assert (final["status"], final["done"], final["failed"]) == ("completed", 4, 0), final
    _assert_predicted_by_colour(run, ids, colours, model)

    missing = arn.replace("annolake-local-models-det", "annolake-local-models-gone")
    gone = project.model.new("gone", host="lambda", function_arn=missing, **HOSTED)
    final = gone.predict("fn").wait(progress=False, timeout=120)
    assert (final["status"], final["failed"]) == ("completed_with_errors", 4)
    assert all("ModelUnreachable: invoking" in f["reason"] and "gone" in f["reason"] for f in final["failures"])


def _query(project, dataset: str, text: str, *, table: bool) -> tuple[str, set[str]]:
    """(the engine that answered, the matching file ids) of a query through the API."""
    from annolake_service.services import query_index

    path = f"{project._path}/datasets/{dataset}/query"
    if table:
        settings = query_index.get_settings()
        with pytest.MonkeyPatch.context() as patch:  # what a deployment with query_engine "table" answers
            patch.setattr(query_index, "get_settings", lambda: settings.model_copy(update={"query_engine": "table"}))
            answer = project.client.get(path, q=text, limit=100)
    else:
        answer = project.client.get(path, q=text, limit=100)
    return answer["engine"]["name"], {f["file_id"] for f in answer["files"]}


def test_eval_fields_select_files_by_their_evaluation_on_both_query_engines(platform, project):
    import time

    colours = [RED, GREEN, RED, GREEN, RED, GREEN]
    ids = platform.seed("judged", colours, start=700)
    files = f"{project._path}/files"
    for fid in (ids[0], ids[3]):  # the person forgot every box: two confident false positives each
        version = project.client.get(f"{files}/{fid}/annotations")["version"]
        project.client.put(f"{files}/{fid}/annotations", {"version": version, "instance_list": []})
    with ModelServer(hosted_model.predict, SECRET) as server:
        model = project.model.new("judge", host="http", url=server.url, secret=SECRET, **HOSTED)
        run = model.predict("judged")
        assert run.wait(progress=False, timeout=120)["status"] == "completed"
    run.evaluate(iou=0.5)
    results = {f["file_id"]: f for f in run.evaluation_files()}
    assert {fid: (r["tp"], r["fp"], r["fn"]) for fid, r in results.items()} == {
        fid: (0, 2, 0) if fid in (ids[0], ids[3]) else (2, 0, 0) for fid in ids
    }

    def expected(predicate) -> set[str]:
        return {fid for fid, r in results.items() if predicate(r)}

    cases = {
        f"eval.{run.run_id}.fp >= 1": expected(lambda r: r["fp"] >= 1),
        "eval.judge.tp = 2": expected(lambda r: r["tp"] == 2),
        f"eval.judge.disagreement > 0.5 and eval.{run.run_id}.fn = 0": expected(lambda r: r["disagreement"] > 0.5),
        f"eval.judge.fp in [0, 1] and not eval.{run.run_id}.disagreement = 0": set(),
        "eval.pr_0000000000000000.tp != 1": set(ids),  # a run never evaluated: no file has a value
        "eval.pr_0000000000000000.tp < 1": set(),
    }
    assert cases[f"eval.{run.run_id}.fp >= 1"] == {ids[0], ids[3]}
    for text, wanted in cases.items():
        assert _query(project, "judged", text, table=True) == ("table", wanted), text
    deadline = time.monotonic() + 60
    while _query(project, "judged", "labels.car >= 0", table=False)[0] != "index":
        assert time.monotonic() < deadline, "the columnar index never answered"
        time.sleep(0.2)
    for text, wanted in cases.items():
        assert _query(project, "judged", text, table=False) == ("index", wanted), text
    with pytest.raises(InvalidRequest, match="unknown model 'judgee'.*did you mean 'judge'"):
        _query(project, "judged", "eval.judgee.tp > 0", table=False)
    with pytest.raises(InvalidRequest, match="an eval field is eval.<run>.<metric>"):
        _query(project, "judged", f"eval.{run.run_id}.recall > 0", table=False)
