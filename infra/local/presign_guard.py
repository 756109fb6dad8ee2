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

log = logging.getLogger("local-runtime.presign_guard")

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

# -- presigned POST (form uploads) --
MAX_POST_BODY_BYTES = 5 * 1024**3  # S3's largest single upload, PUT or POST: 5 GiB
MAX_POST_PRE_DATA_BYTES = 20480  # S3: the form data and boundaries, the file excluded, "cannot exceed 20KB"
_FORM_FIELD_MAX_BYTES = 1024 * 1024  # werkzeug's bound on a text part held in memory (max_form_memory_size)
_FORM_MAX_PARTS = 1000
_SPOOL_MEMORY_BYTES = 1024 * 1024  # a form body up to this size is buffered in memory, a larger one on disk
_READ_CHUNK_BYTES = 64 * 1024
_FORM_BODY_KEY = "annolake.presign_guard.form_body"  # environ key of the buffered body, closed after the response
_SIGV4_POST_FIELDS = ("X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Signature", "Policy")
_SIGV2_POST_FIELDS = ("AWSAccessKeyId", "Signature", "Policy")
# Form fields a POST policy need not name (besides ``x-ignore-*``), by signature version.
_POST_UNCOVERED_FIELDS = {
    4: frozenset({"x-amz-signature", "policy", "file"}),
    2: frozenset({"awsaccesskeyid", "signature", "policy", "file"}),
}
_POLICY_EXPIRATION = re.compile(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?Z")
_CREDENTIAL_FORMAT = 'expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".'


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


_STATUS_TEXT = {400: "400 Bad Request", 403: "403 Forbidden", 411: "411 Length Required"}


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
    """WSGI middleware: 403 for expired, tampered or unknown-key presigned URLs and POST policies; the rest to ``app``.

    ``credentials`` maps access key id to secret access key; it is read on every request, so a mutable
    mapping may gain keys later. ``clock`` returns the current epoch time (tests may replace it).
    ``max_form_body_bytes`` bounds the body of a form upload the guard buffers (S3's 5 GiB by default).
    """

    def __init__(
        self,
        app: WSGIApp,
        credentials: Mapping[str, str],
        *,
        clock: Callable[[], float] = time.time,
        max_clock_skew: float = 900.0,
        max_form_body_bytes: int = MAX_POST_BODY_BYTES,
    ) -> None:
        self.app = app
        self._credentials = credentials
        self._clock = clock
        self._max_clock_skew = max_clock_skew
        self._max_form_body_bytes = max_form_body_bytes

    def __call__(self, environ: WSGIEnviron, start_response: StartResponse) -> Iterable[bytes]:
        try:
            rejection = self.inspect(environ)
        except BaseException:
            _close_form_body(environ)
            raise
        form_body: IO[bytes] | None = environ.pop(_FORM_BODY_KEY, None)
        if rejection is None:
            if form_body is None:
                return self.app(environ, start_response)
            try:
                return ClosingIterator(self.app(environ, start_response), form_body.close)
            except BaseException:
                form_body.close()
                raise
        if form_body is not None:
            form_body.close()
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
        """The reason to refuse this request, or None to pass it to the wrapped app.

        For a form upload (a multipart ``POST`` to a bucket) this buffers the body: ``environ['wsgi.input']``
        becomes the buffer, rewound, with ``CONTENT_LENGTH`` its size, and ``__call__`` closes it after the
        response (a caller of ``inspect`` alone may close ``environ['wsgi.input']``).
        """
        method = environ.get("REQUEST_METHOD", "GET").upper()
        if method == "OPTIONS":
            return None
        query = parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        names = {name for name, _ in query}
        sigv4 = bool(names & {"X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature"})
        # SigV2 S3 query auth; ``SignatureVersion`` marks the (non-S3) SigV2 query APIs, not presigned URLs.
        sigv2 = not sigv4 and {"AWSAccessKeyId", "Signature"} <= names and "SignatureVersion" not in names
        if not (sigv4 or sigv2):
            if method == "POST":
                bucket = _form_upload_bucket(environ)
                if bucket is not None:
                    return self._check_form_upload(environ, bucket)
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

    # -- presigned POST (form uploads) ----------------------------------------------------------------------

    def _check_form_upload(self, environ: WSGIEnviron, bucket: str) -> Rejection | None:
        body = self._buffer_form_body(environ)
        if isinstance(body, Rejection):
            return body
        form = _parse_form(environ.get("CONTENT_TYPE", ""), body, int(environ["CONTENT_LENGTH"]))
        if isinstance(form, Rejection):
            return form
        return self._check_form(form, bucket)

    def _buffer_form_body(self, environ: WSGIEnviron) -> IO[bytes] | Rejection:
        """Read the request body into a spooled temporary file, which then replaces the socket as the app's input."""
        limit = self._max_form_body_bytes
        length_text = str(environ.get("CONTENT_LENGTH") or "").strip()
        until_eof = bool(environ.get("wsgi.input_terminated"))  # chunked: the server ends the stream
        if not until_eof and not length_text.isdigit():
            return Rejection(411, "MissingContentLength", "You must provide the Content-Length HTTP header.")
        expected = None if until_eof else int(length_text)
        if expected is not None and expected > limit:
            return _entity_too_large(expected, limit)
        # It outlives this call: __call__ closes it after the response, or at once on a rejection.
        body: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=_SPOOL_MEMORY_BYTES, mode="w+b")  # noqa: SIM115
        environ[_FORM_BODY_KEY] = body
        stream = environ["wsgi.input"]
        size = 0
        while expected is None or size < expected:
            want = _READ_CHUNK_BYTES if expected is None else min(_READ_CHUNK_BYTES, expected - size)
            chunk = stream.read(want)
            if not chunk:
                break
            size += len(chunk)
            if size > limit:
                return _entity_too_large(size, limit)
            body.write(chunk)
        if expected is not None and size < expected:
            return Rejection(
                400,
                "IncompleteBody",
                "You did not provide the number of bytes specified by the Content-Length HTTP header.",
            )
        body.seek(0)
        environ["wsgi.input"] = body
        environ["CONTENT_LENGTH"] = str(size)
        environ.pop("HTTP_TRANSFER_ENCODING", None)
        environ.pop("wsgi.input_terminated", None)
        return body

    def _check_form(self, form: _Form, bucket: str) -> Rejection | None:
        names = {name.lower() for name, _ in form.fields}
        if names & {"x-amz-algorithm", "x-amz-credential", "x-amz-signature"}:
            version = 4
        elif names & {"awsaccesskeyid", "signature"}:
            version = 2
        elif "policy" in names:
            # A policy without a signature authenticates nobody: S3 takes the upload as anonymous, and the
            # buckets here are not publicly writable.
            return Rejection(403, "AccessDenied", "Access Denied")
        else:
            return None  # an anonymous upload, no policy: moto's to decide
        for name in _SIGV4_POST_FIELDS if version == 4 else _SIGV2_POST_FIELDS:
            if not form.get(name):
                return _missing_form_field(name)
        if not form.get("key"):
            return _missing_form_field("key")
        if form.file_count != 1:
            return Rejection(
                400,
                "InvalidArgument",
                "POST requires exactly one file upload per request.",
                {"ArgumentName": "file", "ArgumentValue": str(form.file_count)},
            )
        policy_text = form.get("policy") or ""
        rejection = (
            self._check_post_sigv4(form, policy_text) if version == 4 else self._check_post_sigv2(form, policy_text)
        )
        if rejection is not None:
            return rejection

        decoded = _decode_policy(policy_text)
        if isinstance(decoded, Rejection):
            return decoded
        expiration, conditions = decoded
        now = self._clock()
        if now > expiration:
            return Rejection(403, "AccessDenied", "Invalid according to Policy: Policy expired.")
        values = form.expanded_values()
        for condition in conditions:
            rejection = condition.check(values, bucket, form.file_size)
            if rejection is not None:
                return rejection
        covered = {condition.field for condition in conditions if condition.field}
        uncovered = _POST_UNCOVERED_FIELDS[version]
        extra: list[str] = []
        for name, _ in form.fields:
            lower = name.lower()
            if lower in covered or lower in uncovered or lower.startswith("x-ignore-") or name in extra:
                continue
            extra.append(name)
        if extra:
            return Rejection(
                403, "AccessDenied", f"Invalid according to Policy: Extra input fields: {', '.join(extra)}"
            )
        return None

    def _check_post_sigv4(self, form: _Form, policy_text: str) -> Rejection | None:
        algorithm = form.get("x-amz-algorithm") or ""
        if algorithm != SIGV4_ALGORITHM:
            return _invalid_form_argument(
                "X-Amz-Algorithm", algorithm, f'X-Amz-Algorithm only supports "{SIGV4_ALGORITHM}"'
            )
        credential = form.get("x-amz-credential") or ""
        scope = credential.split("/")
        problem = None
        if len(scope) != 5 or not scope[2]:
            problem = f"the Credential is mal-formed; {_CREDENTIAL_FORMAT}"
        elif not scope[0]:
            problem = "a non-empty Access Key (AKID) must be provided in the credential."
        elif not re.fullmatch(r"[0-9]{8}", scope[1]):
            problem = (
                f'incorrect date format "{scope[1]}". This date in the credential must be in the format "yyyyMMdd".'
            )
        elif scope[3] != "s3":
            problem = f'incorrect service "{scope[3]}". This endpoint belongs to "s3".'
        elif scope[4] != "aws4_request":
            problem = f'incorrect terminal "{scope[4]}". This endpoint uses "aws4_request".'
        if problem is not None:
            return _invalid_form_argument(
                "X-Amz-Credential", credential, f"Error parsing the X-Amz-Credential parameter; {problem}"
            )
        access_key, day, region, service, _ = scope
        date = form.get("x-amz-date") or ""
        try:
            time.strptime(date, SIGV4_TIMESTAMP)
        except ValueError:
            # S3's wording, typo included.
            return _invalid_form_argument("X-Amz-Date", date, "X-Amz-Date must be formated via ISO8601 Long format")
        secret = self._credentials.get(access_key)
        if secret is None:
            return _unknown_access_key(access_key)
        # botocore's POST presigner signs the base64 policy with the SigV4 key of the credential scope; its
        # ``signature`` reads only the day of ``context['timestamp']`` (for the key), so the scope's day goes there.
        signer = S3SigV4PostAuth(Credentials(access_key, secret), service, region)
        request = AWSRequest(method="POST")
        request.context["timestamp"] = f"{day}T000000Z"
        expected: str = signer.signature(policy_text, request)
        return _post_signature_mismatch(access_key, policy_text, expected, form.get("x-amz-signature") or "")

    def _check_post_sigv2(self, form: _Form, policy_text: str) -> Rejection | None:
        access_key = form.get("awsaccesskeyid") or ""
        secret = self._credentials.get(access_key)
        if secret is None:
            return _unknown_access_key(access_key)
        # botocore's SigV2 POST presigner: base64(HMAC-SHA1(secret, base64 policy)).
        expected: str = HmacV1PostAuth(Credentials(access_key, secret)).sign_string(policy_text)
        return _post_signature_mismatch(access_key, policy_text, expected, form.get("signature") or "")


# -- presigned POST: the form and the policy ----------------------------------------------------------------


@dataclass
class _Form:
    """A parsed upload form: its fields (the ``file`` part excepted) and the ``file`` part's size and name."""

    fields: list[tuple[str, str]]  # (name as sent, value), in the form's order
    file_count: int
    file_size: int
    filename: str | None  # the file part's file name without its path; None when the part gave none

    def get(self, name: str) -> str | None:
        """The field's value (names are case-insensitive; repeated fields' values joined by commas, as S3 does)."""
        values = [value for field_name, value in self.fields if field_name.lower() == name.lower()]
        return ",".join(values) if values else None

    def expanded_values(self) -> dict[str, str]:
        """Lowercase field name to value, ``${filename}`` replaced by the file's name: what conditions see."""
        values: dict[str, str] = {}
        for name, _ in self.fields:
            value = self.get(name) or ""
            if self.filename is not None:
                value = value.replace("${filename}", self.filename)
            values[name.lower()] = value
        return values


@dataclass(frozen=True)
class _PolicyCondition:
    """One condition of a POST policy, checked against the form."""

    operation: str  # "eq", "starts-with" or "content-length-range"
    text: str  # the condition as S3 quotes it in errors
    field: str | None = None  # lowercase field name of eq/starts-with; None when the policy's name lacks "$"
    value: str = ""
    low: int | None = None  # content-length-range bounds; None when not a number (never met)
    high: int | None = None

    def check(self, values: Mapping[str, str], bucket: str, file_size: int) -> Rejection | None:
        if self.operation == "content-length-range":
            if self.low is None or self.high is None:
                return self._failed()
            if file_size > self.high:
                return Rejection(
                    400,
                    "EntityTooLarge",
                    "Your proposed upload exceeds the maximum allowed size",
                    {"ProposedSize": str(file_size), "MaxSizeAllowed": str(self.high)},
                )
            if file_size < self.low:
                return Rejection(
                    400,
                    "EntityTooSmall",
                    "Your proposed upload is smaller than the minimum allowed size",
                    {"ProposedSize": str(file_size), "MinSizeAllowed": str(self.low)},
                )
            return None
        if self.field is None:
            return self._failed()
        if self.field == "bucket":
            # The bucket the form is posted to; a ``bucket`` field, when sent, must agree too.
            actual = [bucket] + ([values["bucket"]] if "bucket" in values else [])
        elif self.field in values:
            actual = [values[self.field]]
        else:
            return self._failed()  # a condition on a field the form lacks fails, even starts-with ""
        if all(self._matches(value) for value in actual):
            return None
        return self._failed()

    def _matches(self, actual: str) -> bool:
        if self.operation == "eq":
            return actual == self.value
        if self.field == "content-type":  # a Content-Type list passes when every item does
            return all(item.strip().startswith(self.value) for item in actual.split(","))
        return actual.startswith(self.value)

    def _failed(self) -> Rejection:
        return Rejection(403, "AccessDenied", f"Invalid according to Policy: Policy Condition failed: {self.text}")


def _form_upload_bucket(environ: WSGIEnviron) -> str | None:
    """The bucket of a browser form upload (a multipart POST to the bucket, no Authorization header), or None."""
    if environ.get("HTTP_AUTHORIZATION"):
        return None
    mimetype, _ = parse_options_header(environ.get("CONTENT_TYPE", ""))
    if mimetype != "multipart/form-data":
        return None
    path = (environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")).encode("latin-1").decode("utf-8", "replace")
    virtual = _virtual_host_bucket(_host(environ))
    if virtual is not None:
        return virtual if path in ("", "/") else None
    bucket = path.removeprefix("/").removesuffix("/")  # path style: /<bucket> or /<bucket>/
    return bucket if bucket and "/" not in bucket else None


def _parse_form(content_type: str, body: IO[bytes], size: int) -> _Form | Rejection:
    """Parse the buffered body with werkzeug's form parser (and rewind it for the app)."""
    environ = {"REQUEST_METHOD": "POST", "CONTENT_TYPE": content_type, "CONTENT_LENGTH": str(size), "wsgi.input": body}
    try:
        _, form, files = parse_form_data(
            environ, silent=False, max_form_memory_size=_FORM_FIELD_MAX_BYTES, max_form_parts=_FORM_MAX_PARTS
        )
    except RequestEntityTooLarge:
        return _pre_data_too_large()
    except ValueError:
        return Rejection(
            400, "MalformedPOSTRequest", "The body of your POST request is not well-formed multipart/form-data."
        )
    finally:
        body.seek(0)
    try:
        fields: list[tuple[str, str]] = []
        file_sizes: list[int] = []
        filename: str | None = None
        other_files: list[tuple[str, FileStorage]] = []
        for name, value in form.items(multi=True):
            if name.lower() == "file":  # a file part without a file name: a text part
                file_sizes.append(len(value.encode("utf-8")))
            else:
                fields.append((name, value))
        for name, storage in files.items(multi=True):
            if name.lower() == "file":
                file_sizes.append(_stream_size(storage.stream))
                if storage.filename is not None:
                    # S3 keeps the text after the last slash or backslash of the name the client gave.
                    filename = re.split(r"[/\\]", storage.filename)[-1]
            else:
                other_files.append((name, storage))  # any other part is a field, file name or not
        if size - sum(file_sizes) > MAX_POST_PRE_DATA_BYTES:
            return _pre_data_too_large()
        for name, storage in other_files:
            fields.append((name, storage.stream.read().decode("utf-8", "replace")))
        return _Form(fields, len(file_sizes), file_sizes[0] if len(file_sizes) == 1 else 0, filename)
    finally:
        for _, storage in files.items(multi=True):
            storage.close()


def _decode_policy(text: str) -> tuple[float, list[_PolicyCondition]] | Rejection:
    """The policy's expiration (epoch seconds) and conditions, or 400 ``InvalidPolicyDocument``."""
    try:
        raw = base64.b64decode("".join(text.split()), validate=True)
        document = json.loads(raw.decode("utf-8"), parse_constant=_reject_json_constant)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return _invalid_policy("Invalid JSON.")
    if not isinstance(document, dict):
        return _invalid_policy("Invalid JSON.")
    for key in document:
        if key not in ("expiration", "conditions"):  # keys are case-sensitive
            return _invalid_policy(f"Unexpected: '{key.lower()}'")
    if "expiration" not in document:
        return _invalid_policy("Policy missing expiration.")
    if "conditions" not in document:
        return _invalid_policy("Policy missing conditions.")
    expiration = _policy_expiration(document["expiration"])
    if expiration is None:
        return _invalid_policy(f"Invalid 'expiration' value: '{document['expiration']}'")
    if not isinstance(document["conditions"], list):
        return _invalid_policy("Invalid 'conditions' value: must be a List.")
    conditions: list[_PolicyCondition] = []
    for item in document["conditions"]:
        condition = _policy_condition(item)
        if isinstance(condition, str):
            return _invalid_policy(condition)
        conditions.append(condition)
    return expiration, conditions


def _policy_condition(item: object) -> _PolicyCondition | str:
    """A condition of the policy, or what is wrong with it."""
    if isinstance(item, dict):
        if len(item) != 1:
            return "Invalid Simple-Condition: Simple-Conditions must have exactly one property specified."
        ((name, value),) = item.items()
        if not isinstance(value, str):
            return "Invalid Simple-Condition: value must be a string."
        return _PolicyCondition("eq", _quote_condition(["eq", f"${name}", value]), name.lower(), value)
    if not isinstance(item, list):
        return "Invalid condition test: must be a List or Object."
    if not item:
        return "Invalid Condition: missing operation identifier."
    operation = item[0]
    if not isinstance(operation, str):
        return "Invalid JSON."
    kind = operation.lower()  # operators are case-insensitive
    if kind not in ("eq", "starts-with", "content-length-range"):
        return f"Invalid Condition: unknown operation '{operation}'."
    if len(item) != 3:
        return f"Invalid {operation}: wrong number of arguments."
    text = _quote_condition(item)
    if kind == "content-length-range":
        bounds: list[int | None] = []
        for bound in item[1:]:
            if isinstance(bound, int) and not isinstance(bound, bool):
                if bound < 0:
                    return f"Invalid {operation}: the bounds must not be negative."
                bounds.append(bound)
            elif isinstance(bound, str):
                bounds.append(int(bound) if re.fullmatch(r"[0-9]+", bound) else None)
            else:
                return "Invalid JSON."
        return _PolicyCondition(kind, text, low=bounds[0], high=bounds[1])
    name, value = item[1], item[2]
    if not isinstance(name, str) or not isinstance(value, str):
        return "Invalid JSON."
    return _PolicyCondition(kind, text, name[1:].lower() if name.startswith("$") else None, value)


def _policy_expiration(value: object) -> float | None:
    """An ISO 8601 UTC time (``2030-01-01T12:00:00Z``, optionally with fractional seconds) as epoch seconds."""
    match = _POLICY_EXPIRATION.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        return None
    try:
        moment = datetime(*(int(part) for part in match.groups()[:6]), tzinfo=UTC)  # type: ignore[misc]
    except ValueError:
        return None
    return moment.timestamp() + float(match.group(7) or 0)


def _quote_condition(condition: list[Any]) -> str:
    return json.dumps(condition, ensure_ascii=False)


def _reject_json_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _stream_size(stream: IO[bytes]) -> int:
    stream.seek(0, 2)
    size = stream.tell()
    stream.seek(0)
    return size


def _close_form_body(environ: WSGIEnviron) -> None:
    body = environ.pop(_FORM_BODY_KEY, None)
    if body is not None:
        body.close()


def _missing_form_field(name: str) -> Rejection:
    return _invalid_form_argument(
        name,
        "",
        f"Bucket POST must contain a field named '{name}'.  If it is specified, please check the order of the fields.",
    )


def _invalid_form_argument(name: str, value: str, message: str) -> Rejection:
    return Rejection(400, "InvalidArgument", message, {"ArgumentName": name, "ArgumentValue": value})


def _invalid_policy(message: str) -> Rejection:
    return Rejection(400, "InvalidPolicyDocument", f"Invalid Policy: {message}")


def _unknown_access_key(access_key: str) -> Rejection:
    return Rejection(
        403,
        "InvalidAccessKeyId",
        "The AWS Access Key Id you provided does not exist in our records.",
        {"AWSAccessKeyId": access_key},
    )


def _post_signature_mismatch(access_key: str, policy_text: str, expected: str, provided: str) -> Rejection | None:
    if hmac.compare_digest(expected.encode(), provided.encode("utf-8", "replace")):
        return None
    return Rejection(
        403,
        "SignatureDoesNotMatch",
        _SIGNATURE_MISMATCH,
        {
            "AWSAccessKeyId": access_key,
            "StringToSign": policy_text,
            "SignatureProvided": provided,
            "StringToSignBytes": " ".join(f"{byte:02x}" for byte in policy_text.encode()),
        },
    )


def _entity_too_large(size: int, limit: int) -> Rejection:
    return Rejection(
        400,
        "EntityTooLarge",
        "Your proposed upload exceeds the maximum allowed size",
        {"ProposedSize": str(size), "MaxSizeAllowed": str(limit)},
    )


def _pre_data_too_large() -> Rejection:
    # S3's code and wording (sic).
    return Rejection(
        400,
        "MaxPostPreDataLengthExceeded",
        "Your POST request fields preceeding the upload file was too large.",
        {"MaxPostPreDataLengthBytes": str(MAX_POST_PRE_DATA_BYTES)},
    )


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
