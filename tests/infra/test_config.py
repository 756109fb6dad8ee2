from __future__ import annotations

import pytest
from aws_cdk import RemovalPolicy
from aws_cdk import aws_logs as logs

from infra.app import build_app
from infra.config import LOCAL_ORIGINS, UnknownStageError, get_stage_config


@pytest.mark.parametrize("stage", ["dev", "local"])
def test_disposable_stages(stage):
    config = get_stage_config(stage)
    assert config.removal_policy == RemovalPolicy.DESTROY
    assert not config.point_in_time_recovery
    assert not config.deletion_protection
    assert config.cors_allowed_origins == ("http://127.0.0.1:8000", "http://localhost:8000")


def test_prod_keeps_data():
    config = get_stage_config("prod", domain_name="annolake.example.com", alarm_email="ops@example.com")
    assert config.removal_policy == RemovalPolicy.RETAIN
    assert config.point_in_time_recovery
    assert config.deletion_protection
    assert config.log_retention == logs.RetentionDays.ONE_YEAR
    assert config.cors_allowed_origins == ("https://annolake.example.com",)
    assert config.alarm_email == "ops@example.com"


def test_prod_without_domain_allows_cloudfront_origins():
    assert get_stage_config("prod").cors_allowed_origins == ("https://*.cloudfront.net",)


def test_domain_adds_its_origin_to_dev():
    config = get_stage_config("dev", domain_name="dev.annolake.example.com")
    assert config.cors_allowed_origins == (*LOCAL_ORIGINS, "https://dev.annolake.example.com")


def test_unknown_stage_names_the_valid_ones():
    with pytest.raises(UnknownStageError, match=r"'qa'.*dev, local, prod"):
        get_stage_config("qa")


def test_unknown_stage_context_fails_the_app():
    with pytest.raises(UnknownStageError):
        build_app({"stage": "staging", "aws:cdk:bundling-stacks": []})


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"alarm_email": "ops.example.com"}, "not an e-mail"),
        ({"domain_name": "https://annolake.example.com"}, "bare host name"),
    ],
)
def test_bad_settings_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        get_stage_config("prod", **kwargs)
