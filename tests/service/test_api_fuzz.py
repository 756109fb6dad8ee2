"""Generated requests to every operation of the OpenAPI document (schemathesis), as an admin of a scratch
project: no server error, every answer matches its declared schema and status codes."""

from __future__ import annotations

import base64
import os
from typing import Any

import boto3
import pytest
import schemathesis
from annolake_service.api.app import create_app
from annolake_service.domain.roles import Role
from annolake_service.services import projects
from hypothesis import HealthCheck, settings
from schemathesis.checks import positive_data_acceptance

from tests.support.auth import AuthWorld, auth_world, reset_service_caches

__all__ = ["auth_world"]  # the fixture, used by name

pytestmark = pytest.mark.slow  # a minute at 10 examples per operation; `make fuzz` runs 100

PROJECT = "fuzz"
APP = create_app()
SCHEMA = schemathesis.openapi.from_asgi("/api/v1/openapi.json", APP)
EXAMPLES = int(os.environ.get("ANNOLAKE_FUZZ_EXAMPLES", "10"))


@pytest.fixture(scope="module")
def admin(auth_world: AuthWorld) -> dict[str, str]:
    s3 = boto3.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1").client(
        "s3", endpoint_url=auth_world.endpoint
    )
    buckets = {"MEDIA_BUCKET": "fuzz-media", "DROP_BUCKET": "fuzz-drop"}
    with pytest.MonkeyPatch.context() as env:
        for name, bucket in buckets.items():
            s3.create_bucket(Bucket=bucket)
            env.setenv(name, bucket)
        reset_service_caches()
        projects.create_project(PROJECT, "Fuzz", creator="user:owner")
        key = projects.issue_api_key(PROJECT, role=Role.ADMIN, name="fuzz")
        token = base64.b64encode(f"{key.client_id}:{key.client_secret}".encode()).decode()
        yield {"Authorization": f"Basic {token}"}
        reset_service_caches()


@SCHEMA.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_generated_requests(case: Any, admin: dict[str, str]):
    if "project_string_id" in (case.path_parameters or {}):
        case.path_parameters["project_string_id"] = PROJECT
    # Positive-data acceptance is left out: a schema-valid request may still be refused with a 400 for what
    # JSON Schema cannot say (a query's grammar, a member who does not exist yet, a label name in use).
    case.call_and_validate(headers=admin, excluded_checks=[positive_data_acceptance])
