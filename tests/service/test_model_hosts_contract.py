"""The batch contract of models the user hosts (``domain/model_hosts.py``): what a version declares, and how an
answer is judged file by file; and the reference server's signature check (``annolake.model_server``)."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime

import pytest
from annolake.model_server import ModelServer
from annolake_service.domain import model_hosts as contract
from annolake_service.domain import webhooks as signing
from annolake_service.domain.models import ModelSpec, ModelVersion, class_labels
from pydantic import ValidationError

SPEC = ModelSpec(
    host="http",
    url="https://models.example.com/predict",
    labels=["car", "person", "kite"],
    label_map={"person": "pedestrian"},
    ignore=["kite"],
)
VERSION = ModelVersion(
    project_id="p",
    name="det",
    version=3,
    spec=SPEC,
    class_labels=class_labels(SPEC, {"car", "pedestrian"}),
    status="ready",
    status_reason=None,
    object_key="models/p/det/v3/model.onnx",
    signature=None,
    created_by="me",
    created_at=datetime.now(UTC),
)
PROVENANCE = {"source": "model", "model": "det", "version": 3, "run": "pr_1"}


def _box(label: str, score: float, x0: float = 1, y0: float = 2, x1: float = 30, y1: float = 40) -> dict:
    return {"type": "box", "label": label, "score": score, "x_min": x0, "y_min": y0, "x_max": x1, "y_max": y1}


@pytest.mark.parametrize(
    ("declared", "problem"),
    [
        ({"host": "http", "labels": ["car"]}, "host 'http' needs url"),
        ({"host": "lambda", "labels": ["car"]}, "host 'lambda' needs function_arn"),
        ({"labels": ["car"]}, "host 'onnx' needs format"),
        ({"format": "yolo", "labels": ["car"], "url": "https://x.example/p"}, "['url'] do not apply to host 'onnx'"),
        (
            {"host": "http", "url": "https://x.example/p", "function_arn": "arn:x", "labels": ["car"]},
            "['function_arn'] do not apply to host 'http'",
        ),
    ],
)
def test_each_host_needs_its_own_options_and_refuses_the_others(declared, problem):
    with pytest.raises(ValidationError, match=problem.replace("[", r"\[").replace("]", r"\]")):
        ModelSpec.model_validate(declared)


def test_an_answer_is_mapped_to_project_labels_thresholded_and_given_provenance():
    answer = {
        "predictions": [
            {"file_id": "a", "instances": [_box("car", 0.9), _box("person", 0.8), _box("kite", 0.99)]},
            {"file_id": "b", "instances": [_box("car", 0.2), {"type": "tag", "label": "person", "score": 0.7}]},
            {"file_id": "stranger", "instances": [_box("car", 0.9)]},  # not asked: left alone
        ]
    }
    out = contract.read_answer(answer, ["a", "b"], VERSION, 0.5, PROVENANCE)
    assert set(out) == {"a", "b"}
    assert out["a"].reason is None
    assert [(i["type"], i["name"], i["score"]) for i in out["a"].instances] == [
        ("box", "car", 0.9),
        ("box", "pedestrian", 0.8),
    ]  # kite is ignored
    assert out["a"].instances[0] == {
        "type": "box",
        "name": "car",
        "x_min": 1.0,
        "y_min": 2.0,
        "x_max": 30.0,
        "y_max": 40.0,
        "score": 0.9,
        **PROVENANCE,
    }
    assert [(i["type"], i["name"]) for i in out["b"].instances] == [("tag", "pedestrian")]  # the 0.2 car is below


@pytest.mark.parametrize(
    ("instances", "problem"),
    [
        (
            [_box("bicycle", 0.9)],
            "instance 0 has unknown label 'bicycle'; the model declares ['car', 'person', 'kite']",
        ),
        ([_box("car", 0.9), _box("car", 0.9, x1=0)], "instance 1 is a box with x_max <= x_min"),
        ([{"type": "box", "label": "car", "score": 0.9, "x_min": 1}], "instance 0 is a box without numeric"),
        ([_box("car", 1.5)], "instance 0 needs a score between 0 and 1, not 1.5"),
        ([{**_box("car", 0.5), "type": "polygon"}], "instance 0 has type 'polygon'"),
        (["car"], "instance 0 is not an object"),
        ("car", "has no instances list"),
    ],
)
def test_a_file_whose_instances_do_not_fit_fails_alone_naming_the_problem(instances, problem):
    answer = {"predictions": [{"file_id": "bad", "instances": instances}, {"file_id": "good", "instances": []}]}
    out = contract.read_answer(answer, ["bad", "good"], VERSION, 0.0, PROVENANCE)
    assert out["good"] == contract.FileAnswer([], None)
    assert out["bad"].instances == [] and problem in (out["bad"].reason or "")


def test_a_file_left_out_or_answered_twice_fails_and_an_unusable_answer_fails_the_batch():
    answer = {"predictions": [{"file_id": "twice", "instances": []}, {"file_id": "twice", "instances": []}]}
    out = contract.read_answer(answer, ["twice", "missing"], VERSION, 0.0, PROVENANCE)
    assert "more than once" in (out["twice"].reason or "")
    assert "no prediction for this file" in (out["missing"].reason or "")
    for unusable in ({"predictions": "none"}, [], None, {"results": []}):
        with pytest.raises(contract.AnswerInvalid, match='"predictions"'):
            contract.read_answer(unusable, ["a"], VERSION, 0.0, PROVENANCE)


def test_the_batch_request_carries_the_run_the_model_and_each_files_url_and_size():
    items = [contract.BatchItem("f1", "https://s3.example/f1?sig", 640, 480)]
    assert contract.batch_request("pr_1", VERSION, items) == {
        "run_id": "pr_1",
        "model": "det",
        "version": 3,
        "items": [{"file_id": "f1", "url": "https://s3.example/f1?sig", "width": 640, "height": 480}],
    }


def _post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json", **headers})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_the_reference_server_answers_a_signed_batch_and_refuses_a_bad_signature():
    seen = []

    def predict(images):
        seen.extend(images)
        return [[_box("car", 0.9)] for _ in images]

    secret = "s" * 32
    batch = json.dumps(
        {
            "run_id": "pr_1",
            "model": "det",
            "version": 1,
            "items": [{"file_id": "f1", "url": "http://127.0.0.1:9/f1", "width": 64, "height": 48}],
        }
    ).encode()
    now = int(time.time())
    with ModelServer(predict, secret) as server:
        signed = {signing.TIMESTAMP_HEADER: str(now), signing.SIGNATURE_HEADER: signing.signature(secret, now, batch)}
        status, answer = _post(server.url, batch, signed)
        assert status == 200
        assert answer == {"predictions": [{"file_id": "f1", "instances": [_box("car", 0.9)]}]}
        assert [(i.file_id, i.width, i.height) for i in seen] == [("f1", 64, 48)]

        wrong = {**signed, signing.SIGNATURE_HEADER: signing.signature("t" * 32, now, batch)}
        stale = {
            signing.TIMESTAMP_HEADER: str(now - 3600),
            signing.SIGNATURE_HEADER: signing.signature(secret, now - 3600, batch),
        }
        tampered_body = batch.replace(b"f1", b"f2")
        for headers, body in ((wrong, batch), (stale, batch), (signed, tampered_body), ({}, batch)):
            status, answer = _post(server.url, body, headers)
            assert status == 401 and "signature does not verify" in answer["error"]
        assert len(seen) == 1  # predict never saw a refused batch
