"""cdk-nag (AwsSolutions) finds nothing unacknowledged in any stage.

cdk-nag 3 is a CDK policy-validation plugin: its findings go to ``validation-report.json`` in the cloud
assembly (and fail ``cdk synth``), not to construct annotations. Both are checked, and a control case
shows the plugin that ``build_app`` registers does report a violation.
"""

from __future__ import annotations

import pytest
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Annotations, Match

from infra.app import build_app

NAG = Match.string_like_regexp("AwsSolutions-.*")


def _violations(report: dict) -> list[str]:
    return [
        f"{violation['ruleName']} at "
        + ", ".join(c.get("constructPath", "?") for c in violation.get("violatingConstructs", []))
        for plugin in report["pluginReports"]
        for violation in plugin.get("violations", [])
    ]


@pytest.mark.parametrize("stage", ["dev", "local", "prod"])
def test_no_unacknowledged_findings(synth_stage, stage):
    synth = synth_stage(stage)
    violations = _violations(synth.validation_report())
    assert not violations, "cdk-nag findings:\n" + "\n".join(violations)


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_no_nag_annotations(synth_stage, stage):
    for stack in synth_stage(stage).stacks.values():
        annotations = Annotations.from_stack(stack)
        assert annotations.find_error("*", NAG) == []
        assert annotations.find_warning("*", NAG) == []


def test_the_registered_checks_do_report_violations(tmp_path):
    app = build_app(
        {"aws:cdk:bundling-stacks": [], "@aws-cdk/core:failSynthOnValidationErrors": False}, outdir=str(tmp_path)
    )
    data = app.node.find_child("Annolake-dev-Data")
    s3.Bucket(data, "UnloggedBucket")  # no access logs, no SSL-only policy
    app.synth()
    report = (tmp_path / "validation-report.json").read_text()
    assert "AwsSolutions-S1" in report
    assert "AwsSolutions-S10" in report


def test_nag_can_be_switched_off(tmp_path):
    app = build_app(
        {"aws:cdk:bundling-stacks": [], "annolake:nag": "false", "@aws-cdk/core:failSynthOnValidationErrors": False},
        outdir=str(tmp_path),
    )
    s3.Bucket(app.node.find_child("Annolake-dev-Data"), "UnloggedBucket")
    app.synth()
    report = tmp_path / "validation-report.json"
    assert not report.exists() or "AwsSolutions" not in report.read_text()
