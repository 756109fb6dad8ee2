"""Who is calling and what they may do in a project: API keys, Cognito user tokens, the role matrix.

API keys act only in their own project with the role they were issued with; users act with their membership
role (``domain/permissions.py`` holds the matrix). A user who is not a member gets 404, as if the project did
not exist.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import jwt

from annolake_service.adapters import jwks
from annolake_service.domain.api_keys import secret_matches
from annolake_service.domain.object_keys import SLUG
from annolake_service.domain.permissions import Action, can, roles_allowed
from annolake_service.domain.roles import Role
from annolake_service.services import projects
from annolake_service.shared.errors import AnnolakeError, Forbidden, NotFound, Unauthorized
from annolake_service.shared.observability import logger
from annolake_service.shared.settings import Settings, get_settings

#: Clock skew tolerated on ``exp``/``iat``/``nbf`` between Cognito and this function.
LEEWAY_SECONDS = 10
#: ``last_used_at`` of an API key is written at most this often (not one write per request).
LAST_USED_RESOLUTION = timedelta(minutes=1)
_MAX_CLIENT_ID_LENGTH = 128
#: Where each kind of Cognito token (its ``token_use``) names the user.
_USERNAME_CLAIM = {"id": "cognito:username", "access": "username"}
HOW_TO_AUTHENTICATE = (
    "send 'Authorization: Basic <base64 of client_id:client_secret>' with an API key, "
    "or 'Authorization: Bearer <token>' with a Cognito ID or access token"
)


class AuthenticationFailed(Unauthorized):
    """401 with the challenge of RFC 9110 §11.6.1, for a handler that renders ``headers``."""

    headers = {"WWW-Authenticate": 'Basic realm="annolake", Bearer realm="annolake"'}


class IdentityProviderUnavailable(AnnolakeError):
    """The user pool's signing keys cannot be fetched: not the caller's fault, worth a retry."""

    status_code = 503
    code = "identity_provider_unavailable"


@dataclass(frozen=True)
class Principal:
    """Who is calling: ``user:<username>`` or ``key:<client_id>`` (the ids members are stored under)."""

    principal_id: str
    kind: Literal["user", "key"]
    project_id: str | None = None  # API keys: the one project the key acts in
    role: Role | None = None  # API keys: the role the key was issued with

    @property
    def name(self) -> str:
        """The username or the client id."""
        return self.principal_id.split(":", 1)[1]

    @property
    def is_api_key(self) -> bool:
        return self.kind == "key"


@dataclass(frozen=True)
class ProjectAccess:
    """A principal's access to one project, as established by ``require``."""

    principal: Principal
    project_id: str
    role: Role

    def can(self, action: Action) -> bool:
        return can(self.role, action)

    def ensure(self, action: Action) -> None:
        """Raise 403 unless the role allows ``action`` (for checks inside a route)."""
        if not can(self.role, action):
            raise _forbidden(self.project_id, self.role, action)


def principal_from_credentials(scheme: str, credentials: str) -> Principal:
    """Check an ``Authorization`` header's scheme and credentials; raise 401 (or 503) if they do not hold."""
    match scheme.lower():
        case "basic":
            return _api_key_principal(credentials.strip())
        case "bearer":
            return _user_principal(credentials.strip(), get_settings())
        case _:
            raise AuthenticationFailed(f"unsupported authorization scheme {scheme!r}: {HOW_TO_AUTHENTICATE}")


def _api_key_principal(credentials: str) -> Principal:
    try:
        decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
    except ValueError:  # binascii.Error, UnicodeDecodeError, non-ASCII input
        decoded = ""
    client_id, _, secret = decoded.partition(":")
    if not client_id or not secret:
        raise AuthenticationFailed("malformed Basic credentials: expected base64 of 'client_id:client_secret'")
    key = projects.api_key(client_id) if len(client_id) <= _MAX_CLIENT_ID_LENGTH else None
    if key is None or not secret_matches(secret, key.secret_hash):
        raise AuthenticationFailed("invalid API key: check the client_id and client_secret")
    if key.revoked_at is not None:
        raise AuthenticationFailed(
            f"API key {client_id} was revoked on {key.revoked_at:%Y-%m-%d %H:%M} UTC; ask a project admin for a new one"
        )
    _record_use(client_id, key.last_used_at)
    return Principal(principal_id=f"key:{client_id}", kind="key", project_id=key.project_id, role=key.role)


def _record_use(client_id: str, last_used_at: datetime | None) -> None:
    """Best effort: a failed bookkeeping write must not fail the request."""
    now = datetime.now(UTC)
    if last_used_at is not None and now - last_used_at < LAST_USED_RESOLUTION:
        return
    try:
        projects.record_api_key_use(client_id, now)
    except Exception:  # noqa: BLE001 - bookkeeping only
        logger.warning("could not record the use of an API key", extra={"client_id": client_id}, exc_info=True)


def _user_principal(token: str, settings: Settings) -> Principal:
    claims = verify_user_token(token, settings)
    username = claims.get(_USERNAME_CLAIM[claims["token_use"]])
    if not isinstance(username, str) or not username:
        raise AuthenticationFailed("the token names no user (no 'cognito:username' or 'username' claim)")
    return Principal(principal_id=f"user:{username}", kind="user")


def verify_user_token(token: str, settings: Settings) -> dict[str, Any]:
    """The claims of a Cognito ID or access token issued by the configured pool to the configured client.

    Checks the RS256 signature against the pool's JWKS, ``exp``/``iat`` (with ``LEEWAY_SECONDS``), ``iss``,
    ``token_use``, and the client: ``aud`` of an ID token, ``client_id`` of an access token.
    """
    if not settings.user_pool_id or not settings.user_pool_client_id:
        raise AuthenticationFailed(
            "this deployment accepts no user tokens (USER_POOL_ID/USER_POOL_CLIENT_ID unset); use an API key"
        )
    try:
        key = jwks.signing_key(token, settings.cognito_jwks_url)
    except jwks.JwksUnavailable as exc:
        logger.error("cannot get the user pool's signing keys", extra={"reason": str(exc)})
        raise IdentityProviderUnavailable("the sign-in service cannot be reached to verify the token; retry") from exc
    except jwks.UnknownSigningKey as exc:
        raise AuthenticationFailed(f"invalid token: {exc}") from exc
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key=key.key,
            algorithms=["RS256"],
            issuer=settings.cognito_issuer,
            leeway=LEEWAY_SECONDS,
            options={"require": ["exp", "iat", "iss", "sub", "token_use"], "verify_aud": False},
        )
    except jwt.ExpiredSignatureError as exc:
        raise AuthenticationFailed("the token has expired: sign in again or refresh it") from exc
    except jwt.InvalidSignatureError as exc:
        raise AuthenticationFailed("invalid token: the signature does not verify") from exc
    except jwt.InvalidIssuerError as exc:
        raise AuthenticationFailed("invalid token: it was not issued by this deployment's user pool") from exc
    except jwt.InvalidTokenError as exc:
        raise AuthenticationFailed(f"invalid token: {exc}") from exc
    match claims["token_use"]:
        case "id":
            client = claims.get("aud")
        case "access":
            client = claims.get("client_id")
        case other:
            raise AuthenticationFailed(f"invalid token: token_use {other!r}, expected 'id' or 'access'")
    if client != settings.user_pool_client_id:
        raise AuthenticationFailed("invalid token: it was issued to another app client of the user pool")
    return claims


# --- authorization ------------------------------------------------------------------------


def _forbidden(project_id: str, role: Role, action: Action) -> Forbidden:
    allowed = roles_allowed(action)
    return Forbidden(
        f"role {role.value!r} in project {project_id!r} may not {action.value}; "
        f"that needs one of: {', '.join(r.value for r in allowed)}",
        details={"role": role.value, "action": action.value, "allowed_roles": [r.value for r in allowed]},
    )


def authorize(principal: Principal, project_id: str, action: Action) -> ProjectAccess:
    """The principal's access to ``project_id`` if its role allows ``action``; 403/404 otherwise."""
    if principal.is_api_key:
        if principal.project_id != project_id or principal.role is None:
            raise Forbidden(
                f"this API key belongs to project {principal.project_id!r}; it cannot act in {project_id!r}",
                details={"key_project": principal.project_id},
            )
        role: Role | None = principal.role
    else:
        role = projects.member_role(project_id, principal.principal_id) if SLUG.fullmatch(project_id) else None
    if role is None:
        raise NotFound(f"project {project_id!r} not found")
    if not can(role, action):
        raise _forbidden(project_id, role, action)
    return ProjectAccess(principal=principal, project_id=project_id, role=role)
