"""``PresignGuard``: the WSGI middleware in front of moto that refuses what S3 would refuse."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import IO
from urllib.parse import parse_qsl

from werkzeug.wsgi import ClosingIterator

from infra.local.presign.environ import StartResponse, WSGIApp, WSGIEnviron
from infra.local.presign.form import (
    FORM_BODY_KEY,
    MAX_POST_BODY_BYTES,
    buffer_form_body,
    close_form_body,
    form_upload_bucket,
    parse_form,
)
from infra.local.presign.form_auth import check_form
from infra.local.presign.query_auth import check_sigv2, check_sigv4
from infra.local.presign.rejection import ANONYMOUS_REFUSED, Rejection

log = logging.getLogger("local-runtime.presign_guard")


class PresignGuard:
    """WSGI middleware: 403 for expired, tampered or unknown-key presigned URLs and POST policies; the rest to ``app``.

    ``credentials`` maps access key id to secret access key; it is read on every request, so a mutable
    mapping may gain keys later. ``clock`` returns the current epoch time (tests may replace it).
    ``max_form_body_bytes`` bounds the body of a form upload the guard buffers (S3's 5 GiB by default).
    ``is_s3``, when given, tells which requests the wrapped app answers as S3: those that carry no credentials
    at all (no Authorization header, no query or form authentication) are refused with 403 ``AccessDenied``,
    as S3 refuses them on buckets that block public access (moto would list, write and delete for them).
    """

    def __init__(
        self,
        app: WSGIApp,
        credentials: Mapping[str, str],
        *,
        clock: Callable[[], float] = time.time,
        max_clock_skew: float = 900.0,
        max_form_body_bytes: int = MAX_POST_BODY_BYTES,
        is_s3: Callable[[WSGIEnviron], bool] | None = None,
    ) -> None:
        self.app = app
        self._is_s3 = is_s3
        self._credentials = credentials
        self._clock = clock
        self._max_clock_skew = max_clock_skew
        self._max_form_body_bytes = max_form_body_bytes

    def __call__(self, environ: WSGIEnviron, start_response: StartResponse) -> Iterable[bytes]:
        try:
            rejection = self.inspect(environ)
        except BaseException:
            close_form_body(environ)
            raise
        form_body: IO[bytes] | None = environ.pop(FORM_BODY_KEY, None)
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
            rejection.status_line,
            [
                ("Content-Type", "application/xml"),
                ("Content-Length", str(len(body) if send_body else 0)),
                ("x-amz-request-id", request_id),
            ],
        )
        return [body] if send_body else [b""]

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
                bucket = form_upload_bucket(environ)
                if bucket is not None:
                    return self._check_form_upload(environ, bucket)
            if not environ.get("HTTP_AUTHORIZATION") and self._anonymous_s3(environ):
                return ANONYMOUS_REFUSED
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
            return check_sigv4(environ, method, query, self._credentials, self._clock, self._max_clock_skew)
        return check_sigv2(environ, method, query, self._credentials, self._clock)

    def _check_form_upload(self, environ: WSGIEnviron, bucket: str) -> Rejection | None:
        body = buffer_form_body(environ, self._max_form_body_bytes)
        if isinstance(body, Rejection):
            return body
        form = parse_form(environ.get("CONTENT_TYPE", ""), body, int(environ["CONTENT_LENGTH"]))
        if isinstance(form, Rejection):
            return form
        return check_form(form, bucket, self._credentials, self._clock, refuse_anonymous=self._anonymous_s3(environ))

    def _anonymous_s3(self, environ: WSGIEnviron) -> bool:
        return self._is_s3 is not None and self._is_s3(environ)
