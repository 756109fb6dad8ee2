"""``python -m infra.app`` outside the CDK CLI: stage, bundling switch and output directory from the environment."""

from __future__ import annotations

import json

import pytest

from infra import app as infra_app
from infra.constructs.dependency_layer import LAYERS_DIR


@pytest.mark.slow  # a whole synth of its own, ~7 s
def test_main_synthesizes_the_stage_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("ANNOLAKE_STAGE", "local")
    monkeypatch.setenv("ANNOLAKE_SKIP_BUNDLING", "1")
    monkeypatch.setenv("CDK_OUTDIR", str(tmp_path))
    assert infra_app.main() == 0
    assert sorted(p.name for p in tmp_path.glob("*.template.json")) == [
        "Annolake-local-App.template.json",
        "Annolake-local-Data.template.json",
        "Annolake-local-Web.template.json",
    ]
    # Bundling skipped: the layer asset points at the source folder; pip never ran.
    assets = json.loads((tmp_path / "Annolake-local-App.assets.json").read_text())["files"]
    assert str(LAYERS_DIR) in {asset["source"]["path"] for asset in assets.values()}


def test_cdk_json_runs_this_module_and_carries_the_feature_flags(dev):
    cdk_json = json.loads((infra_app.REPO_ROOT / "cdk.json").read_text())
    assert cdk_json["app"] == ".venv/bin/python -m infra.app"
    assert cdk_json["context"]["@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy"] is True
    assert "stage" not in cdk_json["context"]  # else `-c stage=` / ANNOLAKE_STAGE could not choose
    # A synth without the CDK CLI (build_app, as `python -m infra.app` and these tests run it) has every flag.
    assert {key: dev.app.node.try_get_context(key) for key in cdk_json["context"]} == cdk_json["context"]
