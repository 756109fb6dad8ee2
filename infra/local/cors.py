"""CORS for the emulator's Cognito API, so the web UI on 127.0.0.1:8000 can sign in at 127.0.0.1:4566.

In the cloud the browser calls ``cognito-idp.<region>.amazonaws.com``, which answers CORS itself. moto serves
every service on one port and routes a request by its headers, which a CORS preflight (``OPTIONS``) does not
carry, so a preflight for Cognito would reach another service. This WSGI wrapper answers the preflights of
Cognito's JSON API (they ask for ``X-Amz-Target``) for the web UI's origins only, and marks Cognito's answers
to those origins as readable. Everything else (S3 presigned uploads answer with the bucket's CORS rules) passes
through untouched.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from typing import Any

COGNITO_TARGET = "AWSCognitoIdentityProviderService."
PREFLIGHT_MAX_AGE = "600"
_EXPOSED = "x-amzn-requestid, x-amzn-errortype, x-amzn-errormessage, date"

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class CognitoCors:
    def __init__(self, app: WsgiApp, origins: Collection[str]) -> None:
        self.app = app
        self.origins = frozenset(origins)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        origin = environ.get("HTTP_ORIGIN")
        if origin not in self.origins:
            return self.app(environ, start_response)
        if environ["REQUEST_METHOD"] == "OPTIONS" and _asks_for_cognito(environ):
            start_response(
                "204 No Content",
                [
                    ("Access-Control-Allow-Origin", origin),
                    ("Access-Control-Allow-Methods", "POST"),
                    ("Access-Control-Allow-Headers", environ.get("HTTP_ACCESS_CONTROL_REQUEST_HEADERS", "")),
                    ("Access-Control-Max-Age", PREFLIGHT_MAX_AGE),
                    ("Vary", "Origin"),
                    ("Content-Length", "0"),
                ],
            )
            return [b""]
        if not environ.get("HTTP_X_AMZ_TARGET", "").startswith(COGNITO_TARGET):
            return self.app(environ, start_response)

        def cognito_answer(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            kept = [(k, v) for k, v in headers if not k.lower().startswith("access-control-") and k.lower() != "vary"]
            cors = [
                ("Access-Control-Allow-Origin", origin),
                ("Access-Control-Expose-Headers", _EXPOSED),
                ("Vary", "Origin"),
            ]
            return start_response(status, kept + cors, exc_info)

        return self.app(environ, cognito_answer)


def _asks_for_cognito(environ: dict[str, Any]) -> bool:
    requested = {h.strip().lower() for h in environ.get("HTTP_ACCESS_CONTROL_REQUEST_HEADERS", "").split(",")}
    return "x-amz-target" in requested and environ.get("HTTP_ACCESS_CONTROL_REQUEST_METHOD") == "POST"
