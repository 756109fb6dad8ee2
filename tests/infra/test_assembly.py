"""What other parts of the project read from the cloud assembly: stack names, order, resource types."""

from __future__ import annotations

import json

import pytest

# The local runtime's provisioner creates or deliberately skips each of these; a new type must be
# taught to infra/local/provisioner.py first.
DATA_TYPES = {
    "AWS::DynamoDB::Table",
    "AWS::S3::Bucket",
    "AWS::S3::BucketPolicy",
    "AWS::Cognito::UserPool",
    "AWS::Cognito::UserPoolClient",
}
APP_TYPES = {
    "AWS::Lambda::LayerVersion",
    "AWS::Lambda::Function",
    "AWS::Lambda::Permission",
    "AWS::IAM::Role",
    "AWS::IAM::Policy",
    "AWS::Logs::LogGroup",
    "AWS::StepFunctions::StateMachine",
    "AWS::SQS::Queue",
    "AWS::SQS::QueuePolicy",
    "Custom::S3BucketNotifications",
    "AWS::ApiGatewayV2::Api",
    "AWS::ApiGatewayV2::Integration",
    "AWS::ApiGatewayV2::Route",
    "AWS::ApiGatewayV2::Stage",
    "AWS::SNS::Topic",
    "AWS::SNS::TopicPolicy",
    "AWS::CloudWatch::Alarm",
    "AWS::Events::EventBus",
    "AWS::Events::Rule",
    "AWS::Lambda::EventSourceMapping",
    "AWS::Lambda::Version",  # the API function's SnapStart version, called through its alias
    "AWS::Lambda::Alias",
    "AWS::Glue::Database",  # the query index as a Glue table, for Athena past one Lambda
    "AWS::Glue::Table",
    "AWS::Athena::WorkGroup",
}
WEB_TYPES = {
    "AWS::S3::Bucket",
    "AWS::S3::BucketPolicy",
    "AWS::CloudFront::Distribution",
    "AWS::CloudFront::OriginAccessControl",
    "AWS::CloudFront::ResponseHeadersPolicy",
    "AWS::CloudFront::Function",
    "Custom::CDKBucketDeployment",
    "AWS::Lambda::Function",
    "AWS::Lambda::LayerVersion",
    "AWS::IAM::Role",
    "AWS::IAM::Policy",
    "AWS::Logs::LogGroup",
}
# Intrinsics the local runtime's resolver does not implement.
UNSUPPORTED_INTRINSICS = ("Fn::If", "Fn::GetStackOutput", "Fn::FindInMap", "Fn::GetAZs", "Fn::Cidr", "Fn::Transform")


@pytest.mark.parametrize("stage", ["dev", "local", "prod"])
def test_stacks_are_named_for_the_stage_and_app_follows_data(synth_stage, stage):
    synth = synth_stage(stage)
    manifest = json.loads((synth.outdir / "manifest.json").read_text())
    stacks = {k: v for k, v in manifest["artifacts"].items() if v["type"] == "aws:cloudformation:stack"}
    assert set(stacks) == {f"Annolake-{stage}-Data", f"Annolake-{stage}-App", f"Annolake-{stage}-Web"}

    def stack_dependencies(name: str) -> set[str]:
        return set(stacks[name].get("dependencies", [])) & set(stacks)

    assert stack_dependencies(f"Annolake-{stage}-App") == {f"Annolake-{stage}-Data"}
    assert stack_dependencies(f"Annolake-{stage}-Data") == set()
    assert stack_dependencies(f"Annolake-{stage}-Web") == {f"Annolake-{stage}-Data", f"Annolake-{stage}-App"}


@pytest.mark.parametrize("stage", ["dev", "local", "prod"])
def test_resource_types(synth_stage, stage):
    synth = synth_stage(stage)
    subscription = {"AWS::SNS::Subscription"} if stage == "prod" else set()
    assert {r["Type"] for r in synth.data["Resources"].values()} == DATA_TYPES
    assert {r["Type"] for r in synth.app_template["Resources"].values()} == APP_TYPES | subscription
    assert {r["Type"] for r in synth.web["Resources"].values()} == WEB_TYPES


@pytest.mark.parametrize("stage", ["dev", "local", "prod"])
def test_templates_use_only_intrinsics_the_local_runtime_resolves(synth_stage, stage):
    synth = synth_stage(stage)
    for kind in ("data", "app", "web"):
        text = synth.template_file(kind).read_text()
        assert not [fn for fn in UNSUPPORTED_INTRINSICS if f'"{fn}"' in text], kind
        assert "Conditions" not in json.loads(text), kind
