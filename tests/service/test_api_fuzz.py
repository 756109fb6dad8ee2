"""Generated requests to every operation of the OpenAPI document (schemathesis), as an admin of a scratch
project: no server error, every answer matches its declared schema and status codes.

Each operation alone (examples, coverage, fuzzing), then sequences that follow the document's links
(schemathesis's stateful phase): the id a create answers goes into the reads, updates and deletes it links
to, so generated requests reach records that exist.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import uuid
from collections import Counter
from typing import Any

import boto3
import pytest
import schemathesis
from annolake_service.api.app import create_app
from annolake_service.domain.roles import Role
from annolake_service.services import projects
from hypothesis import HealthCheck, Phase, settings
from hypothesis.errors import Flaky
from schemathesis.checks import positive_data_acceptance
from schemathesis.core.failures import FailureGroup

from tests.support.auth import AuthWorld, auth_world, reset_service_caches

__all__ = ["auth_world"]  # the fixture, used by name

pytestmark = pytest.mark.slow  # a minute at 10 examples per operation; `make fuzz` runs 100

PROJECT = "fuzz"
APP = create_app()
SCHEMA = schemathesis.openapi.from_asgi("/api/v1/openapi.json", APP)
# What is checked is the answer, not its speed: on a loaded machine an in-process call can take over
# schemathesis's default 10 s, which is not a server error.
REQUEST_TIMEOUT_S = 120
EXAMPLES = int(os.environ.get("ANNOLAKE_FUZZ_EXAMPLES", "10"))
SEQUENCES = int(os.environ.get("ANNOLAKE_FUZZ_SEQUENCES", "20"))  # stateful scenarios; `make fuzz`: 200


@pytest.fixture(scope="module")
def admin(auth_world: AuthWorld) -> dict[str, str]:
    s3 = boto3.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1").client(
        "s3", endpoint_url=auth_world.endpoint
    )
    buckets = {"MEDIA_BUCKET": "fuzz-media", "DROP_BUCKET": "fuzz-drop"}
    # Exports answer 503 on a deployment without their state machine; here they start a machine that does nothing.
    noop = boto3.client(
        "stepfunctions",
        endpoint_url=auth_world.endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",  # noqa: S106
    ).create_state_machine(
        name=f"fuzz-noop-{uuid.uuid4().hex[:8]}",
        definition=json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}),
        roleArn="arn:aws:iam::123456789012:role/fuzz",
    )["stateMachineArn"]
    with pytest.MonkeyPatch.context() as env:
        for name, bucket in buckets.items():
            s3.create_bucket(Bucket=bucket)
            env.setenv(name, bucket)
        env.setenv("EXPORT_STATE_MACHINE_ARN", noop)
        reset_service_caches()
        projects.create_project(PROJECT, "Fuzz", creator="user:owner")
        key = projects.issue_api_key(PROJECT, role=Role.ADMIN, name="fuzz")
        token = base64.b64encode(f"{key.client_id}:{key.client_secret}".encode()).decode()
        yield {"Authorization": f"Basic {token}"}
        reset_service_caches()


def _in_scratch_project(case: Any) -> None:
    if "project_string_id" in (case.path_parameters or {}):
        case.path_parameters["project_string_id"] = PROJECT


@SCHEMA.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_generated_requests(case: Any, admin: dict[str, str]):
    _in_scratch_project(case)
    # Positive-data acceptance is left out: a schema-valid request may still be refused with a 400 for what
    # JSON Schema cannot say (a query's grammar, a member who does not exist yet, a label name in use).
    case.call_and_validate(headers=admin, excluded_checks=[positive_data_acceptance], timeout=REQUEST_TIMEOUT_S)


def test_linked_sequences(admin: dict[str, str]):
    """The stateful phase: scenarios of up to 8 calls, each next call one the last answer links to.

    The server's state outlives a scenario, so Hypothesis may find a scenario's draws no longer replay as they
    did (``Flaky``): as schemathesis's own runner does, that run ends and a new one carries on. Check failures
    are collected rather than raised, so no replay is needed to report them.
    """
    requests, links, statuses = Counter[str](), Counter[str](), Counter[int]()
    failures: list[str] = []
    scenarios = Counter[str]()

    class Scenarios(SCHEMA.as_state_machine()):  # type: ignore[misc]
        def setup(self) -> None:
            scenarios["started"] += 1

        def step(self, input: Any) -> Any:
            if input.transition is not None and not input.transition.is_inferred and input.is_applied:
                links[input.transition.id.split(" -> ")[1]] += 1  # "<source> -> [201] GetJob -> <target>"
            return super().step(input)

        def before_call(self, case: Any) -> None:
            _in_scratch_project(case)

        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"headers": admin, "timeout": REQUEST_TIMEOUT_S}

        def after_call(self, response: Any, case: Any) -> None:
            super().after_call(response, case)
            requests[f"{case.method} {case.path}"] += 1
            statuses[response.status_code] += 1

        def validate_response(self, response: Any, case: Any, additional_checks: Any = None, **kwargs: Any) -> None:
            try:
                case.validate_response(response, excluded_checks=[positive_data_acceptance], transport_kwargs=kwargs)
            except FailureGroup as group:
                failures.extend(f"{case.method} {case.formatted_path}: {failure}" for failure in group.exceptions)

    for _ in range(10):  # each run ends at its budget or at the first scenario that cannot replay
        with contextlib.suppress(Flaky):
            Scenarios.run(
                settings=settings(
                    max_examples=max(SEQUENCES - scenarios["started"], 5),
                    stateful_step_count=8,
                    phases=[Phase.generate],
                    database=None,
                    deadline=None,
                    suppress_health_check=list(HealthCheck),
                )
            )
        if scenarios["started"] >= SEQUENCES and links:  # a short budget may draw no link: more scenarios then
            break
    print(
        f"\nstateful: {scenarios['started']} scenarios, {sum(requests.values())} requests over {len(requests)} "
        f"operations, {sum(links.values())} links followed, {len(links)} kinds ({', '.join(sorted(links))}); "
        f"statuses {dict(sorted(statuses.items()))}"
    )
    assert not failures, "\n\n".join(failures)
    assert statuses[500] == 0
    assert links, "no link was followed: the document's links (api/openapi.py LINKS) are not reaching schemathesis"
