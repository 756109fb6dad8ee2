"""Authentication and project authorization end to end: API keys and Cognito tokens against moto.

A probe app is the real ``create_app()`` (its error handlers) plus routes guarded by ``require``; the
store is the single table on moto, and user tokens come from moto's Cognito via ``USER_PASSWORD_AUTH``
and are verified against the JWKS the emulator serves.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Annotated, Any

import jwt
import pytest
from annolake_service.adapters.dynamo import projects as project_repo
from annolake_service.api import deps
from annolake_service.api.app import API_PREFIX, create_app
from annolake_service.api.deps import Principal, ProjectAccess, authenticate, require
from annolake_service.domain.permissions import Action
from annolake_service.domain.roles import Role
from annolake_service.services import access, projects
from annolake_service.shared.kept import Kept
from annolake_service.shared.settings import Settings, get_settings
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import Depends, FastAPI
from starlette.testclient import TestClient

from tests.support.auth import AuthWorld, auth_world, emulator_signing_key, now, resign

__all__ = ["auth_world", "emulator_signing_key"]  # fixtures used by name below

ALPHA, BETA = "alpha", "beta"
PROBE = API_PREFIX + "/auth-probe"  # routes of their own: the real app's routes may change beside these tests
ALL_ROLES = set(Role)
# Which roles each probe route lets through, written out from the product rules.
ROUTES: dict[str, tuple[str, set[Role]]] = {
    "datasets": ("GET", ALL_ROLES),  # dataset.read
    "members": ("GET", {Role.ADMIN, Role.EDITOR, Role.REVIEWER}),  # member.read
    "files": ("POST", {Role.ADMIN, Role.EDITOR}),  # file.upload
    "annotations": ("PUT", {Role.ADMIN, Role.EDITOR, Role.REVIEWER, Role.ANNOTATOR}),  # annotation.write
    "api-keys": ("POST", {Role.ADMIN}),  # api_key.manage
}


def _probe_app() -> FastAPI:
    app = create_app()
    base = PROBE + "/{project_string_id}"

    def body(access: ProjectAccess) -> dict[str, Any]:
        return {"principal": access.principal.principal_id, "project": access.project_id, "role": access.role}

    @app.get(PROBE + "/whoami")
    def whoami(principal: Annotated[Principal, Depends(authenticate)]) -> dict[str, Any]:
        return {"principal": principal.principal_id, "project": principal.project_id}

    @app.get(base + "/datasets")
    def datasets(access: Annotated[ProjectAccess, Depends(require(Action.DATASET_READ))]) -> dict[str, Any]:
        return body(access)

    @app.get(base + "/members")
    def members(access: Annotated[ProjectAccess, Depends(require(Action.MEMBER_READ))]) -> dict[str, Any]:
        return body(access)

    @app.post(base + "/files")
    def files(access: Annotated[ProjectAccess, Depends(require(Action.FILE_UPLOAD))]) -> dict[str, Any]:
        return body(access)

    @app.put(base + "/annotations")
    def annotations(access: Annotated[ProjectAccess, Depends(require(Action.ANNOTATION_WRITE))]) -> dict[str, Any]:
        return body(access)

    @app.post(base + "/api-keys")
    def api_keys(access: Annotated[ProjectAccess, Depends(require(Action.API_KEY_MANAGE))]) -> dict[str, Any]:
        return body(access)

    return app


def basic(client_id: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def call(client: TestClient, route: str, headers: dict[str, str], project: str = ALPHA) -> Any:
    method, _ = ROUTES[route]
    return client.request(method, f"{PROBE}/{project}/{route}", headers=headers)


def assert_error(response: Any, status: int, code: str, *fragments: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code and set(error) == {"code", "message", "details"}
    for fragment in fragments:
        assert fragment in error["message"], (fragment, error["message"])
    return error


@pytest.fixture(scope="module")
def world(auth_world: AuthWorld) -> dict[str, Any]:
    """Projects alpha (admin alice, annotator bob) and beta (owned by zed); one alpha key per role, one beta key."""
    projects.create_project(ALPHA, "Alpha", creator="user:alice")
    projects.create_project(BETA, "Beta", creator="user:zed")
    projects.set_member_role(ALPHA, "user:bob", Role.ANNOTATOR)
    for username in ("alice", "bob"):
        auth_world.add_user(username)
    auth_world.add_user("alice", pool_id=auth_world.other_pool_id)
    keys = {role: projects.issue_api_key(ALPHA, role=role, name=f"{role} key") for role in Role}
    return {"keys": keys, "beta_key": projects.issue_api_key(BETA, role=Role.ADMIN, name="beta admin")}


@pytest.fixture(scope="module")
def client(world: dict[str, Any]) -> TestClient:
    return TestClient(_probe_app())


@pytest.fixture(scope="module")
def alice(auth_world: AuthWorld, world: dict[str, Any]) -> dict[str, str]:
    return auth_world.sign_in("alice")


def test_settings_point_at_the_emulator_and_the_issuer_is_cognitos(auth_world: AuthWorld):
    settings = get_settings()
    assert settings.cognito_issuer == f"https://cognito-idp.us-east-1.amazonaws.com/{auth_world.pool_id}"
    assert settings.cognito_jwks_url == f"{auth_world.endpoint}/{auth_world.pool_id}/.well-known/jwks.json"
    cloud = Settings(user_pool_id="eu-west-1_AbC", aws_region="us-east-1")
    assert cloud.cognito_issuer == "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC"
    assert cloud.cognito_jwks_url == cloud.cognito_issuer + "/.well-known/jwks.json"


# --- API keys -----------------------------------------------------------------------------


@pytest.mark.parametrize("route", list(ROUTES))
@pytest.mark.parametrize("role", list(Role), ids=str)
def test_api_key_of_each_role_is_allowed_or_denied_per_matrix(
    client: TestClient, world: dict[str, Any], role: Role, route: str
):
    key = world["keys"][role]
    response = call(client, route, basic(key.client_id, key.client_secret))
    if role in ROUTES[route][1]:
        assert response.status_code == 200, response.text
        assert response.json() == {"principal": f"key:{key.client_id}", "project": ALPHA, "role": role.value}
    else:
        error = assert_error(response, 403, "forbidden", f"role '{role.value}'", "may not")
        assert error["details"]["role"] == role.value and role.value not in error["details"]["allowed_roles"]


def test_api_key_use_is_recorded(client: TestClient, world: dict[str, Any]):
    key = world["keys"][Role.VIEWER]
    assert call(client, "datasets", basic(key.client_id, key.client_secret)).status_code == 200
    assert project_repo.get_api_key(key.client_id).last_used_at is not None


def test_wrong_secret_and_unknown_key_are_401(client: TestClient, world: dict[str, Any]):
    key = world["keys"][Role.ADMIN]
    for headers in (basic(key.client_id, key.client_secret + "x"), basic("ak_nosuchkey", key.client_secret)):
        assert_error(call(client, "datasets", headers), 401, "unauthorized", "invalid API key")


@pytest.mark.parametrize(
    "authorization",
    [
        "Basic not-base64!",
        "Basic " + base64.b64encode(b"no-colon").decode(),
        "Basic ",
        "Basic caf\u00e9".encode("latin-1"),
        "Token abc",
    ],
)
def test_malformed_credentials_are_401(client: TestClient, authorization: str | bytes):
    response = client.get(f"{PROBE}/whoami", headers={"Authorization": authorization})
    assert_error(response, 401, "unauthorized")


def test_a_revoked_key_is_401_at_once_where_it_was_revoked_and_within_seconds_elsewhere(
    client: TestClient, world: dict[str, Any], monkeypatch: pytest.MonkeyPatch
):
    issued = projects.issue_api_key(ALPHA, role=Role.EDITOR, name="short-lived")
    headers = basic(issued.client_id, issued.client_secret)
    assert call(client, "files", headers).status_code == 200
    projects.revoke_api_key(ALPHA, issued.client_id)
    assert_error(call(client, "files", headers), 401, "unauthorized", f"API key {issued.client_id} was revoked")

    # Revoked by another process: this one keeps the key it read for API_KEY_TTL_SECONDS at most.
    clock = [0.0]
    monkeypatch.setattr(projects, "_api_keys", Kept(projects.API_KEY_TTL_SECONDS, timer=lambda: clock[0]))
    other = projects.issue_api_key(ALPHA, role=Role.EDITOR, name="revoked elsewhere")
    headers = basic(other.client_id, other.client_secret)
    assert call(client, "files", headers).status_code == 200
    assert project_repo.revoke_api_key(ALPHA, other.client_id, datetime.now(UTC))
    assert call(client, "files", headers).status_code == 200
    clock[0] += projects.API_KEY_TTL_SECONDS
    assert_error(call(client, "files", headers), 401, "unauthorized", f"API key {other.client_id} was revoked")


def test_api_key_cannot_act_in_another_project(client: TestClient, world: dict[str, Any]):
    alpha_admin, beta_admin = world["keys"][Role.ADMIN], world["beta_key"]
    error = assert_error(
        call(client, "datasets", basic(alpha_admin.client_id, alpha_admin.client_secret), project=BETA),
        403,
        "forbidden",
        "this API key belongs to project 'alpha'",
    )
    assert error["details"] == {"key_project": ALPHA}
    response = call(client, "datasets", basic(beta_admin.client_id, beta_admin.client_secret), project=BETA)
    assert response.status_code == 200 and response.json()["project"] == BETA


# --- Cognito users ------------------------------------------------------------------------


@pytest.mark.parametrize("token_kind", ["IdToken", "AccessToken"])
def test_cognito_tokens_of_a_member_are_accepted(client: TestClient, alice: dict[str, str], token_kind: str):
    response = call(client, "api-keys", bearer(alice[token_kind]))
    assert response.status_code == 200, response.text
    assert response.json() == {"principal": "user:alice", "project": ALPHA, "role": "admin"}


def test_a_users_role_comes_from_membership(client: TestClient, auth_world: AuthWorld, world: dict[str, Any]):
    bob = bearer(auth_world.sign_in("bob")["AccessToken"])
    assert call(client, "annotations", bob).json()["role"] == "annotator"
    assert_error(call(client, "members", bob), 403, "forbidden", "role 'annotator'", "member.read")


@pytest.mark.parametrize("project", [BETA, "gamma", "Not_A_Slug"])
def test_non_member_gets_404_whether_or_not_the_project_exists(client: TestClient, alice: dict[str, str], project):
    error = assert_error(call(client, "datasets", bearer(alice["IdToken"]), project=project), 404, "not_found")
    assert error["message"] == f"project {project!r} not found"


def test_tampered_token_is_401(client: TestClient, alice: dict[str, str]):
    header, payload, signature = alice["IdToken"].split(".")
    middle = len(signature) // 2
    flipped = signature[:middle] + ("A" if signature[middle] != "A" else "B") + signature[middle + 1 :]
    assert_error(call(client, "datasets", bearer(f"{header}.{payload}.{flipped}")), 401, "unauthorized", "signature")
    # Same signature, claims rewritten to another user: the signature no longer covers them.
    claims = jwt.decode(alice["IdToken"], options={"verify_signature": False}) | {"cognito:username": "zed"}
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    assert_error(call(client, "datasets", bearer(f"{header}.{forged}.{signature}")), 401, "unauthorized")
    assert_error(call(client, "datasets", bearer("not.a.jwt")), 401, "unauthorized", "invalid token")


def test_token_signed_with_a_key_outside_the_jwks_is_401(client: TestClient, alice: dict[str, str]):
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    same_kid = resign(alice["IdToken"], stranger)  # claims the pool's key id
    assert_error(call(client, "datasets", bearer(same_kid)), 401, "unauthorized", "signature does not verify")
    other_kid = resign(alice["IdToken"], stranger, kid="rotated-away")
    assert_error(call(client, "datasets", bearer(other_kid)), 401, "unauthorized", "'rotated-away'")
    expired = resign(alice["IdToken"], stranger, exp=now() - 3600)
    assert_error(call(client, "datasets", bearer(expired)), 401, "unauthorized")


def test_expiry_is_enforced_with_a_small_leeway(client: TestClient, alice: dict[str, str], emulator_signing_key):
    key = emulator_signing_key.key
    expired = resign(alice["IdToken"], key, iat=now() - 3600, exp=now() - access.LEEWAY_SECONDS - 30)
    assert_error(call(client, "datasets", bearer(expired)), 401, "unauthorized", "expired")
    just_expired = resign(alice["AccessToken"], key, exp=now() - access.LEEWAY_SECONDS // 2)
    assert call(client, "datasets", bearer(just_expired)).status_code == 200
    still_valid = resign(alice["IdToken"], key, exp=now() + 600)  # the emulator's key: the resigning itself is fine
    assert call(client, "datasets", bearer(still_valid)).status_code == 200


@pytest.mark.parametrize(
    ("token_kind", "changes", "fragment"),
    [
        ("IdToken", {"token_use": "refresh"}, "token_use 'refresh'"),
        ("IdToken", {"aud": "some-other-client"}, "another app client"),
        ("AccessToken", {"client_id": "some-other-client"}, "another app client"),
        ("IdToken", {"iss": "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Elsewhere"}, "user pool"),
        ("IdToken", {"exp": None}, "exp"),
        ("IdToken", {"cognito:username": None}, "names no user"),
        ("AccessToken", {"username": None}, "names no user"),
    ],
)
def test_claims_are_checked(
    client: TestClient, alice: dict[str, str], emulator_signing_key, token_kind: str, changes, fragment: str
):
    token = resign(alice[token_kind], emulator_signing_key.key, **changes)
    assert_error(call(client, "datasets", bearer(token)), 401, "unauthorized", fragment)


def test_tokens_of_another_client_or_pool_are_401(client: TestClient, auth_world: AuthWorld, world):
    other_client = auth_world.sign_in("alice", client_id=auth_world.other_client_id)
    for kind in ("IdToken", "AccessToken"):
        assert_error(call(client, "datasets", bearer(other_client[kind])), 401, "unauthorized", "another app client")
    # moto signs every pool's tokens with one key: only the issuer tells them apart, as it must.
    other_pool = auth_world.sign_in("alice", client_id=auth_world.other_pool_client_id)
    assert_error(call(client, "datasets", bearer(other_pool["IdToken"])), 401, "unauthorized", "user pool")


def test_unreachable_jwks_is_503_not_401(alice: dict[str, str]):
    settings = get_settings().model_copy(update={"aws_endpoint_url": "http://127.0.0.1:9"})
    with pytest.raises(access.IdentityProviderUnavailable) as raised:
        access.verify_user_token(alice["IdToken"], settings)
    assert raised.value.status_code == 503


# --- no credentials -----------------------------------------------------------------------


def test_missing_header_is_401_saying_how_to_authenticate(client: TestClient):
    for path in (f"{PROBE}/whoami", f"{PROBE}/{ALPHA}/datasets"):
        response = client.get(path)
        assert response.json() == {
            "error": {
                "code": "unauthorized",
                "message": "authentication required: send 'Authorization: Basic <base64 of client_id:client_secret>' "
                "with an API key, or 'Authorization: Bearer <token>' with a Cognito ID or access token",
                "details": {},
            }
        }
        assert response.status_code == 401


def test_openapi_documents_both_schemes(client: TestClient):
    spec = client.get(f"{API_PREFIX}/openapi.json").json()
    assert spec["components"]["securitySchemes"] == {
        "ApiKey": {"type": "http", "scheme": "basic", "description": deps.API_KEY_SCHEME.model.description},
        "CognitoToken": {"type": "http", "scheme": "bearer", "description": deps.USER_TOKEN_SCHEME.model.description},
    }
    assert spec["paths"][f"{PROBE}/{{project_string_id}}/datasets"]["get"]["security"] == [
        {"ApiKey": []},
        {"CognitoToken": []},
    ]
