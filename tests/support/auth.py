"""Fixtures for the auth tests: the single table and a Cognito pool on moto, the service configured for them.

``auth_world`` (module scope) uses the user pool and web client of the session's provisioned template
(``local_stack``), adds a second client to the pool (for "issued to another client") and a second pool, and
creates a table of its own for the module's data, defined as the synthesized template defines the single
table (``create_single_table``). It sets the service's environment variables before its settings are read
and clears the service's caches on the way in and out, so the settings of other modules do not leak in or out.
"""

from __future__ import annotations

import functools
import json
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import boto3
import jwt
import pytest
from annolake_service.adapters import aws_clients, jwks
from annolake_service.adapters.dynamo import items, table
from annolake_service.services import jobs, projects, tasks
from annolake_service.shared.settings import get_settings
from moto.utilities.utils import load_resource

from infra.local.assembly import REPO_ROOT, CloudAssembly, synthesize
from infra.local.provisioner import create_table

if TYPE_CHECKING:
    from tests.conftest import LocalStack

PASSWORD = "Correct-Horse-Battery-9!"  # noqa: S105
AUTH_FLOWS = ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]


def reset_service_caches() -> None:
    """Forget settings, table binding, AWS clients, key sets, API keys, jobs and queue windows read, so the next
    call reads the environment again."""
    get_settings.cache_clear()
    table.bind.cache_clear()
    aws_clients.client.cache_clear()
    aws_clients.session.cache_clear()  # its credentials too
    jwks.clear_cache()
    projects.forget_api_keys()
    jobs.forget_jobs()
    tasks.forget_windows()
    for model in items.MODELS:
        model._connection = None  # pynamodb keeps one connection per model, bound to the old endpoint


def point_service_at(
    env: pytest.MonkeyPatch, endpoint: str, variables: Mapping[str, str], *, unset: Iterable[str] = ()
) -> None:
    """Set, in ``env``, the service's ``variables`` for the emulator at ``endpoint``, its test credentials and
    region, and remove the caller's session token, profile and ``unset`` (the caches are the caller's to reset)."""
    for name, value in {
        **variables,
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        env.setenv(name, value)
    for name in ("AWS_SESSION_TOKEN", "AWS_PROFILE", *unset):
        env.delenv(name, raising=False)


SYNTH_HOME = REPO_ROOT / ".annolake" / "tests"  # the tests' own synth cache, apart from `make up`'s


@functools.cache
def local_assembly() -> CloudAssembly:
    """The local stage's cloud assembly, synthesized when infra/ or functions/ changed since the last run."""
    return synthesize(SYNTH_HOME)


def create_single_table(dynamodb: Any, name: str) -> None:
    """A table named ``name`` defined as the synthesized template defines the single table (keys, GSIs, TTL),
    created by the provisioner ``make up`` runs."""
    (properties,) = [
        resource["Properties"]
        for stack in local_assembly().stacks
        for resource in stack.resources.values()
        if resource["Type"] == "AWS::DynamoDB::Table"
    ]
    create_table(dynamodb, name, properties)
    dynamodb.get_waiter("table_exists").wait(TableName=name)


WAITING_MACHINE = json.dumps({"StartAt": "Wait", "States": {"Wait": {"Type": "Pass", "End": True}}})


def workflow_resources(endpoint: str, name: str) -> tuple[dict[str, str], Any]:
    """A table, a media bucket and review and launch state machines that end at once, on the moto at
    ``endpoint``, named after ``name`` and a fresh suffix: the service's variables for them, and a Step
    Functions client there."""
    session = boto3.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1")
    suffix = uuid.uuid4().hex[:8]
    table, media = f"annolake-{name}-{suffix}", f"media-{name}-{suffix}"
    create_single_table(session.client("dynamodb", endpoint_url=endpoint), table)
    session.client("s3", endpoint_url=endpoint).create_bucket(Bucket=media)
    sfn = session.client("stepfunctions", endpoint_url=endpoint)
    role = f"arn:aws:iam::123456789012:role/annolake-{name}"
    machines = {
        kind: sfn.create_state_machine(name=f"{kind}-{suffix}", definition=WAITING_MACHINE, roleArn=role)[
            "stateMachineArn"
        ]
        for kind in ("review", "launch")
    }
    variables = {
        "TABLE_NAME": table,
        "MEDIA_BUCKET": media,
        "REVIEW_STATE_MACHINE_ARN": machines["review"],
        "LAUNCH_STATE_MACHINE_ARN": machines["launch"],
        "SECRET_PREFIX": f"annolake/{name}-{suffix}",
    }
    return variables, sfn


@dataclass
class AuthWorld:
    endpoint: str
    table_name: str
    pool_id: str
    client_id: str
    other_client_id: str
    other_pool_id: str
    other_pool_client_id: str
    cognito: Any

    def sign_in(self, username: str, *, client_id: str | None = None) -> dict[str, str]:
        """``USER_PASSWORD_AUTH`` on the emulator: the ``AuthenticationResult`` (IdToken, AccessToken, …)."""
        result = self.cognito.initiate_auth(
            ClientId=client_id or self.client_id,
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": username, "PASSWORD": PASSWORD},
        )
        return result["AuthenticationResult"]

    def add_user(self, username: str, *, pool_id: str | None = None) -> None:
        pool = pool_id or self.pool_id
        self.cognito.admin_create_user(
            UserPoolId=pool, Username=username, TemporaryPassword="Temporary-Pass-1!", MessageAction="SUPPRESS"
        )
        self.cognito.admin_set_user_password(UserPoolId=pool, Username=username, Password=PASSWORD, Permanent=True)


def _pool_with_client(cognito: Any, name: str) -> tuple[str, str]:
    pool_id = cognito.create_user_pool(PoolName=name)["UserPool"]["Id"]
    client_id = cognito.create_user_pool_client(
        UserPoolId=pool_id, ClientName="web", ExplicitAuthFlows=AUTH_FLOWS, GenerateSecret=False
    )["UserPoolClient"]["ClientId"]
    return pool_id, client_id


@pytest.fixture(scope="module")
def auth_world(moto_endpoint: str, local_stack: LocalStack) -> Iterator[AuthWorld]:
    session = boto3.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1")
    suffix = uuid.uuid4().hex[:8]
    table_name = f"annolake-auth-{suffix}"
    create_single_table(session.client("dynamodb", endpoint_url=moto_endpoint), table_name)
    cognito = session.client("cognito-idp", endpoint_url=moto_endpoint)
    pool_id, client_id = local_stack.user_pool_id, local_stack.web_client_id
    other_client_id = cognito.create_user_pool_client(
        UserPoolId=pool_id, ClientName="other", ExplicitAuthFlows=AUTH_FLOWS, GenerateSecret=False
    )["UserPoolClient"]["ClientId"]
    other_pool_id, other_pool_client_id = _pool_with_client(cognito, f"elsewhere-{suffix}")
    world = AuthWorld(
        endpoint=moto_endpoint,
        table_name=table_name,
        pool_id=pool_id,
        client_id=client_id,
        other_client_id=other_client_id,
        other_pool_id=other_pool_id,
        other_pool_client_id=other_pool_client_id,
        cognito=cognito,
    )
    with pytest.MonkeyPatch.context() as env:
        variables = {"TABLE_NAME": table_name, "USER_POOL_ID": pool_id, "USER_POOL_CLIENT_ID": client_id}
        point_service_at(env, moto_endpoint, variables)
        reset_service_caches()
        try:
            yield world
        finally:
            reset_service_caches()
            _forget_the_modules_users(cognito, pool_id, other_client_id)


def _forget_the_modules_users(cognito: Any, pool_id: str, other_client_id: str) -> None:
    """The session's pool as the module found it: no users (the modules' usernames may repeat), one client."""
    for page in cognito.get_paginator("list_users").paginate(UserPoolId=pool_id):
        for user in page["Users"]:
            cognito.admin_delete_user(UserPoolId=pool_id, Username=user["Username"])
    cognito.delete_user_pool_client(UserPoolId=pool_id, ClientId=other_client_id)


@pytest.fixture(scope="session")
def emulator_signing_key() -> jwt.PyJWK:
    """The private key moto signs every pool's tokens with (shipped in moto; its public half is the JWKS)."""
    return jwt.PyJWK(load_resource("cognitoidp/resources/jwks-private.json"), algorithm="RS256")


def resign(token: str, key: Any, *, kid: str = "dummy", **changes: Any) -> str:
    """The token's claims with ``changes`` applied (``None`` removes a claim), signed RS256 with ``key``."""
    claims = jwt.decode(token, options={"verify_signature": False})
    for name, value in changes.items():
        if value is None:
            claims.pop(name, None)
        else:
            claims[name] = value
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid})


def now() -> int:
    return int(time.time())
