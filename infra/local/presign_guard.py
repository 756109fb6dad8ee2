"""Refuse expired or tampered presigned URLs in front of moto, the way S3 does.

moto's S3 serves any presigned URL: expired, tampered, or signed with a key nobody has. ``PresignGuard`` is a
WSGI middleware placed in front of moto's WSGI app that checks *query-string* authentication and answers 403
with an S3-style XML error body when the check fails. Everything else passes through untouched, the request
body included (the guard never reads it: presigned requests sign ``UNSIGNED-PAYLOAD``).

What is checked
  SigV4 query auth (``X-Amz-Algorithm=AWS4-HMAC-SHA256`` and the other ``X-Amz-*`` parameters):
    - the parameters are complete and well formed (else 400 ``AuthorizationQueryParametersError``);
    - ``X-Amz-Expires`` is at most 604800 s (one week);
    - the access key is one of ``credentials`` (else 403 ``InvalidAccessKeyId``);
    - the signature matches (else 403 ``SignatureDoesNotMatch``, with the canonical request and string to sign
      in the body, as S3 does, to help debugging);
    - the URL has not expired: ``X-Amz-Date + X-Amz-Expires >= now`` (else 403 ``AccessDenied``,
      "Request has expired"), and ``X-Amz-Date`` is not more than ``max_clock_skew`` in the future.
  SigV2 query auth (``AWSAccessKeyId``, ``Expires``, ``Signature``): expiry, access key and signature.

The signature is recomputed by botocore's own signers, not by hand: the request is rebuilt as an
``AWSRequest`` (same method, host, path and query minus the auth parameters, plus the signed headers' values
from the incoming request) and signed with ``S3SigV4QueryAuth`` (``SigV4QueryAuth`` for a non-S3 credential
scope) or ``HmacV1QueryAuth``. botocore's ``add_auth`` stamps ``request.context['timestamp']`` with the
current time and then calls ``_modify_request_before_signing``, which is the first step that reads it; the
subclasses below override that hook to put ``X-Amz-Date`` back first, so the signature is computed for the
URL's own timestamp without patching any module-level clock (the emulator serves requests on many threads,
and in-process Lambda handlers sign their own boto3 calls concurrently). The SigV2 signer takes its
``Expires`` value from ``_get_date``, overridden the same way.

Presigned POST (browser form uploads, ``generate_presigned_post``)
  A ``POST`` to a bucket (``/<bucket>`` path style, or ``/`` on a virtual-hosted bucket host) with a
  ``multipart/form-data`` body and no ``Authorization`` header. moto stores such uploads without looking at the
  policy, so the guard buffers the body (to a spooled temporary file, at most ``max_form_body_bytes``), parses
  a copy with werkzeug's form parser (``parse_form_data``; no multipart parsing here) and, for a form that
  carries authentication (SigV4 ``x-amz-algorithm``/``-credential``/``-date``/``-signature``, or SigV2
  ``AWSAccessKeyId``/``signature``) or a ``policy``, checks what S3 checks:
    - the form: exactly one ``file`` part (else 400 ``InvalidArgument``), a ``key`` field and the auth fields
      (else 400 ``InvalidArgument``, "Bucket POST must contain a field named ..."), at most 20 KiB of fields
      besides the file (else 400 ``MaxPostPreDataLengthExceeded``), a well-formed body (else 400
      ``MalformedPOSTRequest``); field names are case-insensitive, as on S3;
    - the credential (SigV4 scope ``<key>/<yyyymmdd>/<region>/s3/aws4_request``, else 400 ``InvalidArgument``),
      the access key (403 ``InvalidAccessKeyId``), and the signature over the base64 policy as sent (403
      ``SignatureDoesNotMatch``), computed by botocore's POST presigners: ``S3SigV4PostAuth.signature`` with
      the signing key of the credential scope's day, region and service; ``HmacV1PostAuth.sign_string`` for
      SigV2;
    - the policy document: base64 JSON with ``expiration`` and a ``conditions`` list of well-formed
      conditions (else 400 ``InvalidPolicyDocument``); ``expiration`` not past (else 403 ``AccessDenied``,
      "Invalid according to Policy: Policy expired.");
    - every condition, in the policy's order: ``{"field": value}`` and ``["eq", "$field", value]`` (exact),
      ``["starts-with", "$field", prefix]`` (each item of a comma-separated ``Content-Type``), on the form's
      fields after ``${filename}`` is replaced by the file part's name (as S3 does; a missing field fails the
      condition), and ``bucket`` on the URL's bucket: 403 ``AccessDenied`` "Invalid according to Policy: Policy
      Condition failed: [...]"; ``["content-length-range", min, max]`` on the size of the ``file`` part: 400
      ``EntityTooSmall`` / ``EntityTooLarge``;
    - every form field is named by a condition, except ``policy``, ``file``, ``x-ignore-*`` and the signature
      fields (SigV4 ``x-amz-signature``; SigV2 ``AWSAccessKeyId`` and ``signature``): else 403
      ``AccessDenied`` "Invalid according to Policy: Extra input fields: ...". (S3 requires the policy to name
      ``x-amz-algorithm``, ``x-amz-credential`` and ``x-amz-date``; botocore's presigner always does.)
  A form that passes reaches moto with the same bytes (the buffer, rewound, and its ``CONTENT_LENGTH``), so moto
  stores the object and sends its ``s3:ObjectCreated:Post`` notifications. A body over ``max_form_body_bytes``
  (5 GiB, S3's largest single upload) is refused with 400 ``EntityTooLarge`` before it is read; one without
  a length (nor chunked framing) with 411 ``MissingContentLength``. Known differences from S3: S3 ignores
  fields after the ``file`` part, while the guard (and moto) see them, so they are checked too; the region of
  the credential is not compared with the bucket's.

Not checked (passed through): requests carrying an ``Authorization`` header (moto handles those), form POSTs
with neither a policy nor auth fields (anonymous uploads), CORS preflight ``OPTIONS`` requests (S3 does not
authenticate them either). A request carrying both an ``Authorization`` header and query-string auth is
refused with 400 ``InvalidArgument``, as S3 does ("Only one auth mechanism allowed").
"""

from __future__ import annotations

import base64
import binascii
import calendar
import hmac
import json
import logging
import re
import tempfile
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import IO, Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from botocore.auth import (
    SIGV4_TIMESTAMP,
    HmacV1PostAuth,
    HmacV1QueryAuth,
    S3SigV4PostAuth,
    S3SigV4QueryAuth,
    SigV4QueryAuth,
)
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from werkzeug.datastructures import FileStorage
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.formparser import parse_form_data
from werkzeug.http import parse_options_header
from werkzeug.wsgi import ClosingIterator

log = logging.getLogger("annolake.local.presign_guard")

WSGIEnviron = dict[str, Any]
StartResponse = Callable[..., Any]
WSGIApp = Callable[[WSGIEnviron, StartResponse], Iterable[bytes]]

MAX_EXPIRES_SECONDS = 604800  # S3's limit for SigV4 presigned URLs: 7 days
SIGV4_ALGORITHM = "AWS4-HMAC-SHA256"
_SIGV4_REQUIRED = (
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Date",
    "X-Amz-Expires",
    "X-Amz-SignedHeaders",
    "X-Amz-Signature",
)
# Parameters the SigV4 query signer adds itself; everything else in the query string is an operation parameter.
_SIGV4_AUTH_PARAMS = frozenset({*_SIGV4_REQUIRED, "X-Amz-Security-Token"})
_SIGV2_AUTH_PARAMS = frozenset({"AWSAccessKeyId", "Expires", "Signature"})

_SIGNATURE_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. Check your key and signing method."
)


@dataclass(frozen=True)
class Rejection:
    """Why a presigned request was refused; rendered as an S3 XML error document."""

    status: int
    code: str
    message: str
    details: dict[str, str] = field(default_factory=dict)

    def body(self, request_id: str) -> bytes:
        root = ET.Element("Error")
        ET.SubElement(root, "Code").text = self.code
        ET.SubElement(root, "Message").text = self.message
        for name, value in self.details.items():
            ET.SubElement(root, name).text = value
        ET.SubElement(root, "RequestId").text = request_id
        ET.SubElement(root, "HostId").text = request_id
        return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="utf-8", xml_declaration=False)


_STATUS_TEXT = {400: "400 Bad Request", 403: "403 Forbidden"}


class _FixedTimestamp:
    """Mixin for botocore's SigV4 query signers: sign for a given ``X-Amz-Date`` instead of now.

    ``SigV4Auth.add_auth`` sets ``request.context['timestamp']`` to the current time and then calls
    ``_modify_request_before_signing``, the first step that reads it (for ``X-Amz-Date`` and the credential
    scope); the canonical request, string to sign and signing key all read it afterwards. Putting the URL's
    timestamp back at that point signs for it, without touching any clock shared with other threads.
    """

    _fixed_timestamp: str

    def _modify_request_before_signing(self, request: AWSRequest) -> None:
        request.context["timestamp"] = self._fixed_timestamp
        super()._modify_request_before_signing(request)  # type: ignore[misc]

    def string_to_sign(self, request: AWSRequest, canonical_request: str) -> str:
        result: str = super().string_to_sign(request, canonical_request)  # type: ignore[misc]
        # Kept for the SignatureDoesNotMatch error body, as S3 gives them.
        request.context["canonical_request"] = canonical_request
        request.context["string_to_sign"] = result
        return result


class _FixedTimeS3SigV4QueryAuth(_FixedTimestamp, S3SigV4QueryAuth):
    """botocore's S3 presigner (unnormalized path, ``UNSIGNED-PAYLOAD``) for a given ``X-Amz-Date``."""

    def __init__(self, credentials: Credentials, service_name: str, region_name: str, expires: int, timestamp: str):
        super().__init__(credentials, service_name, region_name, expires=expires)
        self._fixed_timestamp = timestamp


class _FixedTimeSigV4QueryAuth(_FixedTimestamp, SigV4QueryAuth):
    """botocore's generic presigner (non-S3 credential scope) for a given ``X-Amz-Date``."""

    def __init__(self, credentials: Credentials, service_name: str, region_name: str, expires: int, timestamp: str):
        super().__init__(credentials, service_name, region_name, expires=expires)
        self._fixed_timestamp = timestamp


class _FixedExpiresHmacV1QueryAuth(HmacV1QueryAuth):
    """botocore's SigV2 presigner with the URL's own ``Expires`` (epoch seconds) instead of now + expires."""

    def __init__(self, credentials: Credentials, expires_epoch: str):
        super().__init__(credentials)
        self._expires_epoch = expires_epoch

    def _get_date(self) -> str:
        return self._expires_epoch


class PresignGuard:
    """WSGI middleware: 403 for expired, tampered or unknown-key presigned URLs; everything else to ``app``.

    ``credentials`` maps access key id to secret access key; it is read on every request, so a mutable
    mapping may gain keys later. ``clock`` returns the current epoch time (tests may replace it).
    """

    def __init__(
        self,
        app: WSGIApp,
        credentials: Mapping[str, str],
        *,
        clock: Callable[[], float] = time.time,
        max_clock_skew: float = 900.0,
    ) -> None:
        self.app = app
        self._credentials = credentials
        self._clock = clock
        self._max_clock_skew = max_clock_skew

    def __call__(self, environ: WSGIEnviron, start_response: StartResponse) -> Iterable[bytes]:
        rejection = self.inspect(environ)
        if rejection is None:
            return self.app(environ, start_response)
        log.info(
            "refused presigned %s %s: %s (%s)",
            environ.get("REQUEST_METHOD"),
            environ.get("PATH_INFO"),
            rejection.code,
            rejection.message,
        )
        request_id = uuid.uuid4().hex[:16].upper()
        body = rejection.body(request_id)
        send_body = environ.get("REQUEST_METHOD", "GET").upper() != "HEAD"
        start_response(
            _STATUS_TEXT.get(rejection.status, f"{rejection.status} Error"),
            [
                ("Content-Type", "application/xml"),
                ("Content-Length", str(len(body) if send_body else 0)),
                ("x-amz-request-id", request_id),
            ],
        )
        return [body] if send_body else [b""]

    # -- checks ---------------------------------------------------------------------------------------------

    def inspect(self, environ: WSGIEnviron) -> Rejection | None:
        """The reason to refuse this request, or None to pass it to the wrapped app."""
        method = environ.get("REQUEST_METHOD", "GET").upper()
        if method == "OPTIONS":
            return None
        query = parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        names = {name for name, _ in query}
        sigv4 = bool(names & {"X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature"})
        # SigV2 S3 query auth; ``SignatureVersion`` marks the (non-S3) SigV2 query APIs, not presigned URLs.
        sigv2 = not sigv4 and {"AWSAccessKeyId", "Signature"} <= names and "SignatureVersion" not in names
        if not (sigv4 or sigv2):
            return None
        if environ.get("HTTP_AUTHORIZATION"):
            return Rejection(
                400,
                "InvalidArgument",
                "Only one auth mechanism allowed; only the X-Amz-Algorithm "
                "query parameter, Signature query string parameter or the Authorization header "
                "should be specified",
            )
        if sigv4:
            return self._check_sigv4(environ, method, query)
        return self._check_sigv2(environ, method, query)

    def _check_sigv4(self, environ: WSGIEnviron, method: str, query: list[tuple[str, str]]) -> Rejection | None:
        params: dict[str, str] = {}
        for name, value in query:
            if name in _SIGV4_AUTH_PARAMS and name in params:
                return _query_error(f"{name} must be given only once.")
            params[name] = value
        missing = [name for name in _SIGV4_REQUIRED if not params.get(name)]
        if missing:
            return _query_error(
                f"Query-string authentication version 4 requires the {', '.join(_SIGV4_REQUIRED)} "
                f"parameters; missing: {', '.join(missing)}."
            )
        if params["X-Amz-Algorithm"] != SIGV4_ALGORITHM:
            return _query_error(f'X-Amz-Algorithm only supports "{SIGV4_ALGORITHM}"')
        try:
            signed_at = calendar.timegm(time.strptime(params["X-Amz-Date"], SIGV4_TIMESTAMP))
        except ValueError:
            return _query_error("X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"")
        expires_text = params["X-Amz-Expires"]
        if not expires_text.isdigit():
            return _query_error("X-Amz-Expires should be a number")
        expires = int(expires_text)
        if expires > MAX_EXPIRES_SECONDS:
            return Rejection(
                403,
                "AuthorizationQueryParametersError",
                "X-Amz-Expires must be less than a week (in seconds) that is; 604800 seconds",
            )
        scope = params["X-Amz-Credential"].split("/")
        if len(scope) != 5 or scope[4] != "aws4_request" or not all(scope):
            return _query_error(
                "Error parsing the X-Amz-Credential parameter; the Credential is mal-formed; "
                'expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".'
            )
        access_key, _day, region, service, _ = scope
        secret = self._credentials.get(access_key)
        if secret is None:
            return Rejection(
                403,
                "InvalidAccessKeyId",
                "The AWS Access Key Id you provided does not exist in our records.",
                {"AWSAccessKeyId": access_key},
            )

        provided = params["X-Amz-Signature"]
        expected, context = self._sigv4_signature(environ, method, query, params, secret, region, service, expires)
        if not hmac.compare_digest(expected.encode(), provided.encode("utf-8", "replace")):
            return Rejection(
                403,
                "SignatureDoesNotMatch",
                _SIGNATURE_MISMATCH,
                {
                    "AWSAccessKeyId": access_key,
                    "StringToSign": context.get("string_to_sign", ""),
                    "SignatureProvided": provided,
                    "CanonicalRequest": context.get("canonical_request", ""),
                },
            )

        now = self._clock()
        if now > signed_at + expires:
            return Rejection(
                403,
                "AccessDenied",
                "Request has expired",
                {
                    "X-Amz-Expires": str(expires),
                    "Expires": _iso(signed_at + expires),
                    "ServerTime": _iso(now),
                },
            )
        if signed_at > now + self._max_clock_skew:
            return Rejection(
                403,
                "AccessDenied",
                "Request is not yet valid",
                {"X-Amz-Date": params["X-Amz-Date"], "ServerTime": _iso(now)},
            )
        return None

    def _sigv4_signature(
        self,
        environ: WSGIEnviron,
        method: str,
        query: list[tuple[str, str]],
        params: Mapping[str, str],
        secret: str,
        region: str,
        service: str,
        expires: int,
    ) -> tuple[str, dict[str, Any]]:
        """botocore's signature for this request as it arrived; tries the raw and the re-encoded path."""
        host = _host(environ)
        headers: dict[str, str] = {}
        for name in params["X-Amz-SignedHeaders"].split(";"):
            name = name.strip().lower()
            if not name:
                continue
            if name == "host":
                headers["host"] = host
                continue
            value = _header(environ, name)
            if value is not None:
                headers[name] = value
        operation_params = [(name, value) for name, value in query if name not in _SIGV4_AUTH_PARAMS]
        credentials = Credentials(params["X-Amz-Credential"].split("/")[0], secret, params.get("X-Amz-Security-Token"))
        signer_class = _FixedTimeS3SigV4QueryAuth if service == "s3" else _FixedTimeSigV4QueryAuth
        expected = ""
        context: dict[str, Any] = {}
        for path in _path_candidates(environ):
            signer = signer_class(credentials, service, region, expires, params["X-Amz-Date"])
            url = f"{environ.get('wsgi.url_scheme', 'http')}://{host}{path}"
            request = AWSRequest(method=method, url=url, headers=dict(headers), params=dict(operation_params))
            signer.add_auth(request)
            signed = dict(parse_qsl(urlsplit(request.url).query, keep_blank_values=True))
            expected, context = signed["X-Amz-Signature"], request.context
            if hmac.compare_digest(expected.encode(), params["X-Amz-Signature"].encode("utf-8", "replace")):
                break
        return expected, context

    def _check_sigv2(self, environ: WSGIEnviron, method: str, query: list[tuple[str, str]]) -> Rejection | None:
        params = dict(query)
        expires_text = params.get("Expires", "")
        if not expires_text.isdigit():
            return _query_error(
                "Query-string authentication requires the Signature, Expires and AWSAccessKeyId "
                "parameters; Expires must be a number of seconds since the epoch."
            )
        access_key = params["AWSAccessKeyId"]
        secret = self._credentials.get(access_key)
        if secret is None:
            return Rejection(
                403,
                "InvalidAccessKeyId",
                "The AWS Access Key Id you provided does not exist in our records.",
                {"AWSAccessKeyId": access_key},
            )
        provided = params["Signature"]
        if not self._sigv2_matches(environ, method, query, access_key, secret, expires_text, provided):
            return Rejection(
                403,
                "SignatureDoesNotMatch",
                _SIGNATURE_MISMATCH,
                {"AWSAccessKeyId": access_key, "SignatureProvided": provided},
            )
        now = self._clock()
        if now > int(expires_text):
            return Rejection(
                403,
                "AccessDenied",
                "Request has expired",
                {"Expires": _iso(int(expires_text)), "ServerTime": _iso(now)},
            )
        return None

    def _sigv2_matches(
        self,
        environ: WSGIEnviron,
        method: str,
        query: list[tuple[str, str]],
        access_key: str,
        secret: str,
        expires: str,
        provided: str,
    ) -> bool:
        """botocore's SigV2 string to sign for this request: Content-MD5, Content-Type, x-amz-* and resource."""
        headers: dict[str, str] = {}
        for name in ("content-md5", "content-type"):
            value = _header(environ, name)
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
            if pair and unquote(pair.split("=", 1)[0]) not in _SIGV2_AUTH_PARAMS
        )
        host = _host(environ)
        bucket = _virtual_host_bucket(host)
        for path in _path_candidates(environ):
            auth_paths: list[str | None] = [None]
            if bucket:
                auth_paths.append(f"/{bucket}{path}")
            for auth_path in auth_paths:
                signer = _FixedExpiresHmacV1QueryAuth(Credentials(access_key, secret), expires)
                url = f"{environ.get('wsgi.url_scheme', 'http')}://{host}{path}" + (
                    f"?{remaining}" if remaining else ""
                )
                request = AWSRequest(method=method, url=url, headers=dict(headers))
                signature = signer.get_signature(method, urlsplit(url), request.headers, auth_path=auth_path)
                if hmac.compare_digest(signature.encode(), provided.encode("utf-8", "replace")):
                    return True
        return False


# -- helpers ------------------------------------------------------------------------------------------------


def _query_error(message: str) -> Rejection:
    return Rejection(400, "AuthorizationQueryParametersError", message)


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _host(environ: WSGIEnviron) -> str:
    host = environ.get("HTTP_HOST")
    if host:
        return host
    name, port, scheme = (
        environ.get("SERVER_NAME", ""),
        str(environ.get("SERVER_PORT", "")),
        environ.get("wsgi.url_scheme"),
    )
    default = (scheme == "http" and port == "80") or (scheme == "https" and port == "443")
    return name if default or not port else f"{name}:{port}"


def _header(environ: WSGIEnviron, name: str) -> str | None:
    key = name.upper().replace("-", "_")
    if key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        value = environ.get(key)
        return value if value else None
    return environ.get(f"HTTP_{key}")


def _path_candidates(environ: WSGIEnviron) -> list[str]:
    """The path as the client sent it (what the signer saw), and its canonical re-encoding as a fallback.

    Both name the same resource; clients differ in which characters they escape (botocore: all but ``/~``).
    """
    raw_uri = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    candidates: list[str] = []
    if raw_uri:
        raw_path = raw_uri.split("?", 1)[0]
        if "://" in raw_path:  # absolute-form request target
            raw_path = urlsplit(raw_path).path
        # The server hands the request line over as latin-1 decoded bytes (PEP 3333).
        candidates.append(raw_path.encode("latin-1").decode("utf-8", "replace"))
    decoded = (
        (environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")).encode("latin-1").decode("utf-8", "replace")
    )
    if not candidates:
        candidates.append(quote(decoded, safe="/~"))
    canonical = quote(unquote(candidates[0]), safe="/~")
    if canonical not in candidates:
        candidates.append(canonical)
    return candidates


def _virtual_host_bucket(host: str) -> str | None:
    """The bucket of a virtual-hosted-style S3 host (``b.s3.amazonaws.com``, ``b.s3.eu-west-1.amazonaws.com``,
    ``b.localhost``), or None for a path-style host."""
    if host.startswith("["):
        return None
    labels = host.split(":", 1)[0].split(".")
    for index, label in enumerate(labels):
        if index > 0 and (label == "s3" or label.startswith("s3-")):
            return ".".join(labels[:index])
    if len(labels) >= 2 and labels[-1] == "localhost":
        return ".".join(labels[:-1])
    return None
