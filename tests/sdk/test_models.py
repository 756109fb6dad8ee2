"""The SDK's models surface (``project.model``, ``Model.predict``, ``PredictionRun``) against the API with the
prediction state machine executing (tests/support/model_platform.py)."""

from __future__ import annotations

import io

import pytest
from annolake import Model, PredictionRun, RunFailed

from tests.support import onnx_models
from tests.support.model_platform import GREEN, RED, model_platform, unique_project


@pytest.fixture(scope="module")
def platform(local_stack, moto_endpoint):
    with model_platform(local_stack, moto_endpoint, unique_project("sdkmodels")) as running:
        yield running


@pytest.fixture(scope="module")
def model(platform, tmp_path_factory) -> Model:
    path = tmp_path_factory.mktemp("onnx") / "det.onnx"
    path.write_bytes(onnx_models.yolo_detector(64))
    return platform.project().model.new("det", path=path, format="yolo", labels=["car", "pedestrian"], input_size=64)


def test_a_slice_is_predicted_with_a_progress_bar_to_the_end(platform, model, monkeypatch):
    project = platform.project()
    ids = platform.seed("sdk", [RED, GREEN, RED, RED])
    sliced = project.directory.get("sdk").slice("labels.car >= 1")
    bar = io.StringIO()
    monkeypatch.setattr("sys.stderr", bar)

    run = model.predict(sliced)
    final = run.wait(progress=True, timeout=120)

    assert isinstance(run, PredictionRun) and final["query"] == "labels.car >= 1"
    assert (final["total"], final["done"], final["status"]) == (3, 3, "completed")
    assert "3/3" in bar.getvalue() and "predicting det" in bar.getvalue()
    assert {p["file_id"] for p in run.predictions()} == {ids[0], ids[2], ids[3]}
    assert [r.run_id for r in project.model.get("det").runs()][0] == run.run_id
    assert {m["name"]: m["latest_run"] for m in project.model.list()}["det"] == run.run_id


def test_a_cancelled_run_raises_run_failed_from_wait(platform, model):
    platform.seed("cancel", [RED, GREEN] * 40, start=500)
    run = model.predict("cancel")
    cancelled = run.cancel()
    assert cancelled["status"] == "cancelled"
    with pytest.raises(RunFailed, match="cancelled"):
        run.wait(progress=False, timeout=30)
    assert run.status()["status"] == "cancelled"
