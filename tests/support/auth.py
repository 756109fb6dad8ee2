"""Fixtures for the auth tests: the single table and a Cognito pool on moto, the service configured for them.

``auth_world`` (module scope) creates, on the session's moto server, the table as infra declares it (PK/SK,
GSI1, GSI2), a user pool with a public web client (and a second client, for "issued to another client"),
and users; it sets the service's environment variables before its settings are read and clears the
service's caches on the way in and out, so the settings of other modules do not leak in or out.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import jwt
import pytest
from annolake_service.adapters import aws_clients, jwks, models
from annolake_service.shared.settings import get_settings
from moto.utilities.utils import load_resource

PASSWORD = "Correct-Horse-Battery-9!"  # noqa: S105
AUTH_FLOWS = ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]


def reset_service_caches() -> None:
    """Forget settings, table binding, AWS clients and key sets, so the next call reads the environment again."""
    get_settings.cache_clear()
    models.bind.cache_clear()
    aws_clients.client.cache_clear()
    aws_clients.session.cache_clear()  # its credentials too
    jwks.clear_cache()
    for model in models.MODELS:
        model._connection = None  # pynamodb keeps one connection per model, bound to the old endpoint


def create_single_table(dynamodb: Any, name: str) -> None:
    """The table as ``infra/constructs/tables.py`` declares it."""
    strings = ["PK", "SK", "GSI1PK", "GSI1SK", "GSI2PK", "GSI2SK"]
    dynamodb.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": a, "AttributeType": "S"} for a in strings],
        KeySchema=[{"AttributeName": "PK", "KeyType": "HASH"}, {"AttributeName": "SK", "KeyType": "RANGE"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": index,
                "KeySchema": [
                    {"AttributeName": f"{index}PK", "KeyType": "HASH"},
                    {"AttributeName": f"{index}SK", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
            for index in ("GSI1", "GSI2")
        ],
    )
    dynamodb.get_waiter("table_exists").wait(TableName=name)


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
def auth_world(moto_endpoint: str) -> Iterator[AuthWorld]:
    session = boto3.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1")
    suffix = uuid.uuid4().hex[:8]
    table_name = f"annolake-auth-{suffix}"
    create_single_table(session.client("dynamodb", endpoint_url=moto_endpoint), table_name)
    cognito = session.client("cognito-idp", endpoint_url=moto_endpoint)
    pool_id, client_id = _pool_with_client(cognito, f"annolake-{suffix}")
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
        for name, value in {
            "TABLE_NAME": table_name,
            "USER_POOL_ID": pool_id,
            "USER_POOL_CLIENT_ID": client_id,
            "AWS_ENDPOINT_URL": moto_endpoint,
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
        }.items():
            env.setenv(name, value)
        env.delenv("AWS_SESSION_TOKEN", raising=False)
        env.delenv("AWS_PROFILE", raising=False)
        reset_service_caches()
        try:
            yield world
        finally:
            reset_service_caches()


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
