"""The user pool's public signing keys (JWKS), fetched over HTTP and cached per process.

One ``PyJWKClient`` per JWKS URL lives as long as the Lambda container: the key set is refetched
after ``JWKS_LIFESPAN_SECONDS``, or at once when a token names a key id the cached set lacks (Cognito
rotated its keys), at most once per ``cooldown_duration`` so made-up key ids cannot make us hammer it.
"""

from __future__ import annotations

from functools import cache

import jwt

JWKS_LIFESPAN_SECONDS = 3600
JWKS_TIMEOUT_SECONDS = 5


class JwksUnavailable(Exception):
    """The key set could not be fetched (network error, non-200, not JSON)."""


class UnknownSigningKey(Exception):
    """The token is not signed by any key of the set, or names no usable key."""


@cache
def _client(jwks_url: str) -> jwt.PyJWKClient:
    return jwt.PyJWKClient(jwks_url, cache_keys=True, lifespan=JWKS_LIFESPAN_SECONDS, timeout=JWKS_TIMEOUT_SECONDS)


def signing_key(token: str, jwks_url: str) -> jwt.PyJWK:
    """The key of ``jwks_url`` named by the token's ``kid`` header (the token itself is not verified here)."""
    try:
        kid = jwt.get_unverified_header(token).get("kid")
    except jwt.DecodeError as exc:
        raise UnknownSigningKey(f"not a JWT: {exc}") from exc
    if not isinstance(kid, str) or not kid:
        raise UnknownSigningKey("the token names no signing key (no 'kid' header)")
    client = _client(jwks_url)
    try:
        client.get_signing_keys()  # the cached set, or a fetch: failures here are the endpoint's, not the token's
    except (jwt.PyJWTError, ValueError) as exc:
        raise JwksUnavailable(f"cannot get the signing keys from {jwks_url}: {exc}") from exc
    try:
        return client.get_signing_key(kid)
    except (jwt.PyJWKClientConnectionError, jwt.PyJWKSetError, ValueError) as exc:
        raise JwksUnavailable(f"cannot refresh the signing keys from {jwks_url}: {exc}") from exc
    except jwt.PyJWKClientError as exc:
        raise UnknownSigningKey(f"the token is signed with key {kid!r}, which the user pool does not publish") from exc


def clear_cache() -> None:
    """Forget every key set (tests, or a process whose configuration changed)."""
    _client.cache_clear()
