"""The README's local demo: ``examples/model_loop.py`` against ``make up``, with a short training.

The script streams the demo data through the SDK, trains, exports to ONNX, registers, predicts, evaluates and
sends the worst files to review; here it runs in-process on the shared platform with few steps.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest

from tests.e2e.conftest import REPO

pytestmark = pytest.mark.slow
SCRIPT = REPO / "examples" / "model_loop.py"


def _example():
    spec = importlib.util.spec_from_file_location("model_loop", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_model_loop_example_trains_predicts_evaluates_and_sends_the_worst_files_to_review(platform):
    from annolake import Project

    creds = platform.credentials
    argv = ["--host", platform.api_url, "--project", creds["project"]]
    argv += ["--client-id", creds["client_id"], "--client-secret", creds["client_secret"], "--steps", "30"]
    example = _example()
    out = example.main([*argv, "--dataset", "model-loop-e2e", "--review", "4"])

    project = Project(creds["project"], creds["client_id"], creds["client_secret"], platform.api_url)
    files = project.directory.get("model-loop-e2e").file_count()
    assert files == 24  # the demo's files, imported once with human boxes
    assert out["run"]["status"] == "completed" and out["run"]["done"] == files
    # The model's classes are the project's labels in the schema's order (other tests on the shared platform
    # may have added labels after the demo's four).
    schema_order = [label["name"] for label in project.get_label_schema()["labels"]]
    assert out["labels"] == schema_order and schema_order[:4] == ["car", "pedestrian", "bicycle", "traffic light"]
    evaluation = out["evaluation"]
    assert evaluation["file_count"] == files and evaluation["totals"]["fn"] + evaluation["totals"]["tp"] > 0
    worst = [f["disagreement"] for f in out["worst"]]
    assert len(worst) == 4 and worst == sorted(worst, reverse=True) and worst[0] > 0
    review = out["review"]
    assert review["file_ids"] == [f["file_id"] for f in out["worst"] if f["disagreement"] > 0]
    assert project.client.get(f"{project._path}/jobs/{review['job_id']}")["status"] == "active"
    # Archived, so its tasks are not handed to the people of the browser tests that share this platform.
    archived = project.client.patch(f"{project._path}/jobs/{review['job_id']}", {"status": "archived"})
    assert archived["status"] == "archived"

    # a second run reuses the imported dataset; the script runs as a user runs it
    assert example.copy_as_human(project, "default", "model-loop-e2e") == 0
    assert project.directory.get("model-loop-e2e").file_count() == 24
    result = subprocess.run(  # noqa: S603
        [sys.executable, str(SCRIPT), "--help"], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0 and "--steps" in result.stdout, result.stderr
