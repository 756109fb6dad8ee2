"""Presigned URLs: SigV4 and SigV2 query-string authentication, checked as S3 checks it.

The signature is recomputed by botocore's own signers (``signers``): the request is rebuilt as an
``AWSRequest`` (same method, host, path and query minus the auth parameters, plus the signed headers' values
from the incoming request) and signed for the URL's own timestamp.
"""

from __future__ import annotations

import calendar
import hmac
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from botocore.auth import SIGV4_TIMESTAMP
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from infra.local.presign import environ as request
from infra.local.presign.environ import WSGIEnviron
from infra.local.presign.rejection import SIGNATURE_MISMATCH, Rejection, query_error, unknown_access_key
from infra.local.presign.signers import (
    FixedExpiresHmacV1QueryAuth,
    FixedTimeS3SigV4QueryAuth,
    FixedTimeSigV4QueryAuth,
)

MAX_EXPIRES_SECONDS = 604800  # S3's limit for SigV4 presigned URLs: 7 days
SIGV4_ALGORITHM = "AWS4-HMAC-SHA256"
SIGV4_REQUIRED = (
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Date",
    "X-Amz-Expires",
    "X-Amz-SignedHeaders",
    "X-Amz-Signature",
)
# Parameters the SigV4 query signer adds itself; everything else in the query string is an operation parameter.
SIGV4_AUTH_PARAMS = frozenset({*SIGV4_REQUIRED, "X-Amz-Security-Token"})
SIGV2_AUTH_PARAMS = frozenset({"AWSAccessKeyId", "Expires", "Signature"})

Query = list[tuple[str, str]]


def check_sigv4(
    environ: WSGIEnviron,
    method: str,
    query: Query,
    credentials: Mapping[str, str],
    clock: Callable[[], float],
    max_clock_skew: float,
) -> Rejection | None:
    params: dict[str, str] = {}
    for name, value in query:
        if name in SIGV4_AUTH_PARAMS and name in params:
            return query_error(f"{name} must be given only once.")
        params[name] = value
    missing = [name for name in SIGV4_REQUIRED if not params.get(name)]
    if missing:
        return query_error(
            f"Query-string authentication version 4 requires the {', '.join(SIGV4_REQUIRED)} "
            f"parameters; missing: {', '.join(missing)}."
        )
    if params["X-Amz-Algorithm"] != SIGV4_ALGORITHM:
        return query_error(f'X-Amz-Algorithm only supports "{SIGV4_ALGORITHM}"')
    try:
        signed_at = calendar.timegm(time.strptime(params["X-Amz-Date"], SIGV4_TIMESTAMP))
    except ValueError:
        return query_error("X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"")
    expires_text = params["X-Amz-Expires"]
    if not expires_text.isdigit():
        return query_error("X-Amz-Expires should be a number")
    expires = int(expires_text)
    if expires > MAX_EXPIRES_SECONDS:
        return Rejection(
            403,
            "AuthorizationQueryParametersError",
            "X-Amz-Expires must be less than a week (in seconds) that is; 604800 seconds",
        )
    scope = params["X-Amz-Credential"].split("/")
    if len(scope) != 5 or scope[4] != "aws4_request" or not all(scope):
        return query_error(
            "Error parsing the X-Amz-Credential parameter; the Credential is mal-formed; "
            'expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".'
        )
    access_key, _day, region, service, _ = scope
    secret = credentials.get(access_key)
    if secret is None:
        return unknown_access_key(access_key)

    provided = params["X-Amz-Signature"]
    unsigned = _signed_headers_problem(environ, params["X-Amz-SignedHeaders"])
    if unsigned:
        return Rejection(
            403,
            "SignatureDoesNotMatch",
            f"{SIGNATURE_MISMATCH} ({unsigned})",
            {"AWSAccessKeyId": access_key, "SignatureProvided": provided},
        )
    expected, context = _sigv4_signature(environ, method, query, params, secret, region, service, expires)
    if not hmac.compare_digest(expected.encode(), provided.encode("utf-8", "replace")):
        return Rejection(
            403,
            "SignatureDoesNotMatch",
            SIGNATURE_MISMATCH,
            {
                "AWSAccessKeyId": access_key,
                "StringToSign": context.get("string_to_sign", ""),
                "SignatureProvided": provided,
                "CanonicalRequest": context.get("canonical_request", ""),
            },
        )

    now = clock()
    if now > signed_at + expires:
        return Rejection(
            403,
            "AccessDenied",
            "Request has expired",
            {
                "X-Amz-Expires": str(expires),
                "Expires": request.iso(signed_at + expires),
                "ServerTime": request.iso(now),
            },
        )
    if signed_at > now + max_clock_skew:
        return Rejection(
            403,
            "AccessDenied",
            "Request is not yet valid",
            {"X-Amz-Date": params["X-Amz-Date"], "ServerTime": request.iso(now)},
        )
    return None


def _signed_headers_problem(environ: WSGIEnviron, signed_headers: str) -> str | None:
    """What is wrong with ``X-Amz-SignedHeaders``, or None: S3 signs exactly the headers it lists, so each must
    be sent, ``host`` among them, and the list is canonical (lower case, sorted, each once)."""
    names = signed_headers.split(";")
    if names != sorted(set(names)) or any(name != name.strip().lower() or not name for name in names):
        return f"X-Amz-SignedHeaders {signed_headers!r} is not a sorted list of lower-case header names"
    if "host" not in names:
        return "X-Amz-SignedHeaders must include host"
    missing = [name for name in names if name != "host" and request.header(environ, name) is None]
    return f"signed headers not sent: {', '.join(missing)}" if missing else None


def _sigv4_signature(
    environ: WSGIEnviron,
    method: str,
    query: Query,
    params: Mapping[str, str],
    secret: str,
    region: str,
    service: str,
    expires: int,
) -> tuple[str, dict[str, Any]]:
    """botocore's signature for this request as it arrived; tries the raw and the re-encoded path."""
    host = request.host(environ)
    headers: dict[str, str] = {}
    for name in params["X-Amz-SignedHeaders"].split(";"):
        name = name.strip().lower()
        if not name:
            continue
        if name == "host":
            headers["host"] = host
            continue
        value = request.header(environ, name)
        if value is not None:
            headers[name] = value
    operation_params = [(name, value) for name, value in query if name not in SIGV4_AUTH_PARAMS]
    credentials = Credentials(params["X-Amz-Credential"].split("/")[0], secret, params.get("X-Amz-Security-Token"))
    signer_class = FixedTimeS3SigV4QueryAuth if service == "s3" else FixedTimeSigV4QueryAuth
    expected = ""
    context: dict[str, Any] = {}
    for path in request.path_candidates(environ):
        signer = signer_class(credentials, service, region, expires, params["X-Amz-Date"])
        url = f"{environ.get('wsgi.url_scheme', 'http')}://{host}{path}"
        rebuilt = AWSRequest(method=method, url=url, headers=dict(headers), params=dict(operation_params))
        signer.add_auth(rebuilt)
        signed = dict(parse_qsl(urlsplit(rebuilt.url).query, keep_blank_values=True))
        expected, context = signed["X-Amz-Signature"], rebuilt.context
        if hmac.compare_digest(expected.encode(), params["X-Amz-Signature"].encode("utf-8", "replace")):
            break
    return expected, context


def check_sigv2(
    environ: WSGIEnviron, method: str, query: Query, credentials: Mapping[str, str], clock: Callable[[], float]
) -> Rejection | None:
    params = dict(query)
    expires_text = params.get("Expires", "")
    if not expires_text.isdigit():
        return query_error(
            "Query-string authentication requires the Signature, Expires and AWSAccessKeyId "
            "parameters; Expires must be a number of seconds since the epoch."
        )
    access_key = params["AWSAccessKeyId"]
    secret = credentials.get(access_key)
    if secret is None:
        return unknown_access_key(access_key)
    provided = params["Signature"]
    if not _sigv2_matches(environ, method, query, access_key, secret, expires_text, provided):
        return Rejection(
            403,
            "SignatureDoesNotMatch",
            SIGNATURE_MISMATCH,
            {"AWSAccessKeyId": access_key, "SignatureProvided": provided},
        )
    now = clock()
    if now > int(expires_text):
        return Rejection(
            403,
            "AccessDenied",
            "Request has expired",
            {"Expires": request.iso(int(expires_text)), "ServerTime": request.iso(now)},
        )
    return None


def _sigv2_matches(
    environ: WSGIEnviron,
    method: str,
    query: Query,
    access_key: str,
    secret: str,
    expires: str,
    provided: str,
) -> bool:
    """botocore's SigV2 string to sign for this request: Content-MD5, Content-Type, x-amz-* and resource."""
    headers: dict[str, str] = {}
    for name in ("content-md5", "content-type"):
        value = request.header(environ, name)
        if value is not None:
            headers[name] = value
    for name, value in query:
        if name.lower().startswith("x-amz-"):
            headers[name.lower()] = value
    for key, value in environ.items():
        if key.startswith("HTTP_X_AMZ_"):
            headers[key[5:].replace("_", "-").lower()] = value
    # The query string as sent, minus the auth parameters: the signer picks the sub-resources out of it.
    remaining = "&".join(
        pair
        for pair in environ.get("QUERY_STRING", "").split("&")
        if pair and unquote(pair.split("=", 1)[0]) not in SIGV2_AUTH_PARAMS
    )
    host = request.host(environ)
    bucket = request.virtual_host_bucket(host)
    for path in request.path_candidates(environ):
        auth_paths: list[str | None] = [None]
        if bucket:
            auth_paths.append(f"/{bucket}{path}")
        for auth_path in auth_paths:
            signer = FixedExpiresHmacV1QueryAuth(Credentials(access_key, secret), expires)
            url = f"{environ.get('wsgi.url_scheme', 'http')}://{host}{path}" + (f"?{remaining}" if remaining else "")
            rebuilt = AWSRequest(method=method, url=url, headers=dict(headers))
            signature = signer.get_signature(method, urlsplit(url), rebuilt.headers, auth_path=auth_path)
            if hmac.compare_digest(signature.encode(), provided.encode("utf-8", "replace")):
                return True
    return False
