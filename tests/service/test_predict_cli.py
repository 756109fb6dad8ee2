"""``annolake predict`` run as a user runs it (``python -m annolake.cli`` in its own process) against the synthesized
template with its prediction state machine executing (``tests.support.model_platform``)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import onnx_models
from tests.support.model_platform import GREEN, RED, model_platform, unique_project

SDK = str(Path(__file__).resolve().parents[2] / "sdk")


@pytest.fixture(scope="module")
def platform(local_stack, moto_endpoint, tmp_path_factory):
    with model_platform(local_stack, moto_endpoint, unique_project("cli")) as running:
        path = tmp_path_factory.mktemp("onnx") / "yolo.onnx"
        path.write_bytes(onnx_models.yolo_detector(64))
        running.project().model.new(
            "det", path=path, format="yolo", labels=["car", "pedestrian"], input_size=64, score_threshold=0.3
        )
        yield running


def annolake(platform, *arguments: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PYTHONPATH": SDK,
        "ANNOLAKE_HOST": platform.host,
        "ANNOLAKE_PROJECT": platform.project_id,
        "ANNOLAKE_CLIENT_ID": platform.client_id,
        "ANNOLAKE_CLIENT_SECRET": platform.client_secret,
        "ANNOLAKE_CREDENTIALS": os.devnull,  # no credentials file of the machine's
    }
    return subprocess.run(  # noqa: S603 - our own command line
        [sys.executable, "-m", "annolake.cli", *arguments], env=env, capture_output=True, text=True, timeout=180
    )


def test_predict_follows_the_run_to_its_end_and_exits_non_zero_when_files_failed(platform):
    from annolake_service.adapters import storage
    from annolake_service.adapters.dynamo import files as file_repo
    from annolake_service.shared.settings import get_settings

    ids = platform.seed("cli", [RED, GREEN] * 15)
    corrupt = ids[4]
    record = file_repo.get_file(platform.project_id, corrupt)
    storage.write_object(get_settings().media_bucket, record.original_key, b"not an image", "image/png")

    finished = annolake(platform, "predict", "det", "--directory", "cli", "--threshold", "0.5")

    assert finished.returncode == 1, finished.stderr
    run_id, status = finished.stdout.split()[:2]
    assert run_id.startswith("pr_") and status == "completed_with_errors:"
    assert "29 done, 1 failed, 0 pending" in finished.stdout and "of 30" in finished.stdout
    assert f"failed: {corrupt}: ImageUnreadable" in finished.stderr
    assert "files/s" in finished.stderr and "predicting det" in finished.stderr  # the progress bar
    run = platform.project().model.run(run_id)
    assert run.last["threshold"] == 0.5 and run.last["dataset"] == "cli"

    status = annolake(platform, "predict", "--status", run_id)
    assert status.returncode == 1 and status.stdout.startswith(f"{run_id} completed_with_errors")
    assert f"failed: {corrupt}" in status.stderr

    cancelled = annolake(platform, "predict", "--cancel", run_id)
    assert cancelled.returncode == 2 and "nothing to cancel" in cancelled.stderr


def test_predict_over_a_query_exits_zero_and_a_redrive_predicts_nothing_twice(platform):
    ids = platform.seed("cli-query", [RED, GREEN] * 5, start=500)

    started = annolake(
        platform, "predict", "det", "--directory", "cli-query", "--query", "labels.car >= 1", "--no-wait"
    )
    assert started.returncode == 0, started.stderr
    run_id = started.stdout.strip()
    assert run_id.startswith("pr_") and "over 5 files of cli-query" in started.stderr

    followed = annolake(platform, "predict", "--wait", run_id)
    assert followed.returncode == 0, followed.stderr
    assert followed.stdout.startswith(f"{run_id} completed: 5 done, 0 failed, 0 pending")
    run = platform.project().model.run(run_id)
    assert {p["file_id"] for p in run.predictions()} == set(ids[0::2])  # the red files: those with cars

    again = annolake(platform, "predict", "--redrive", run_id)
    assert again.returncode == 0 and f"{run_id} completed: 5 done" in again.stdout


def test_predict_says_what_is_wrong_with_its_arguments(platform):
    both = annolake(platform, "predict", "det", "--status", "pr_x")
    assert both.returncode == 2 and "name a model to start a run, or give one of" in both.stderr
    unknown = annolake(platform, "predict", "--status", "pr_nope")
    assert unknown.returncode == 2 and "pr_nope" in unknown.stderr and "not found" in unknown.stderr
    missing = annolake(platform, "predict", "nomodel", "--directory", "cli")
    assert missing.returncode == 2 and "nomodel" in missing.stderr
