"""Presigned POST: which requests are browser form uploads, buffering their body, and parsing the form.

The body is buffered to a spooled temporary file (at most the guard's ``max_form_body_bytes``) and a copy is
parsed with werkzeug's form parser; the buffer, rewound, then replaces the socket as the app's input, so moto
stores the same bytes.
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass
from typing import IO

from werkzeug.datastructures import FileStorage
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.formparser import parse_form_data
from werkzeug.http import parse_options_header

from infra.local.presign import environ as request
from infra.local.presign.environ import WSGIEnviron
from infra.local.presign.rejection import Rejection, entity_too_large, pre_data_too_large

MAX_POST_BODY_BYTES = 5 * 1024**3  # S3's largest single upload, PUT or POST: 5 GiB
MAX_POST_PRE_DATA_BYTES = 20480  # S3: the form data and boundaries, the file excluded, "cannot exceed 20KB"
_FORM_FIELD_MAX_BYTES = 1024 * 1024  # werkzeug's bound on a text part held in memory (max_form_memory_size)
_FORM_MAX_PARTS = 1000
_SPOOL_MEMORY_BYTES = 1024 * 1024  # a form body up to this size is buffered in memory, a larger one on disk
_READ_CHUNK_BYTES = 64 * 1024
FORM_BODY_KEY = "annolake.presign_guard.form_body"  # environ key of the buffered body, closed after the response


@dataclass
class Form:
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


def form_upload_bucket(environ: WSGIEnviron) -> str | None:
    """The bucket of a browser form upload (a multipart POST to the bucket, no Authorization header), or None."""
    if environ.get("HTTP_AUTHORIZATION"):
        return None
    mimetype, _ = parse_options_header(environ.get("CONTENT_TYPE", ""))
    if mimetype != "multipart/form-data":
        return None
    path = request.decoded_path(environ)
    virtual = request.virtual_host_bucket(request.host(environ))
    if virtual is not None:
        return virtual if path in ("", "/") else None
    bucket = path.removeprefix("/").removesuffix("/")  # path style: /<bucket> or /<bucket>/
    return bucket if bucket and "/" not in bucket else None


def buffer_form_body(environ: WSGIEnviron, limit: int) -> IO[bytes] | Rejection:
    """Read the request body into a spooled temporary file, which then replaces the socket as the app's input.

    The buffer is left in ``environ[FORM_BODY_KEY]`` even on a rejection: whoever handles the request closes
    it (``close_form_body``), after the response when it was passed on.
    """
    length_text = str(environ.get("CONTENT_LENGTH") or "").strip()
    until_eof = bool(environ.get("wsgi.input_terminated"))  # chunked: the server ends the stream
    if not until_eof and not length_text.isdigit():
        return Rejection(411, "MissingContentLength", "You must provide the Content-Length HTTP header.")
    expected = None if until_eof else int(length_text)
    if expected is not None and expected > limit:
        return entity_too_large(expected, limit)
    body: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=_SPOOL_MEMORY_BYTES, mode="w+b")  # noqa: SIM115
    environ[FORM_BODY_KEY] = body
    stream = environ["wsgi.input"]
    size = 0
    while expected is None or size < expected:
        want = _READ_CHUNK_BYTES if expected is None else min(_READ_CHUNK_BYTES, expected - size)
        chunk = stream.read(want)
        if not chunk:
            break
        size += len(chunk)
        if size > limit:
            return entity_too_large(size, limit)
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


def close_form_body(environ: WSGIEnviron) -> None:
    body = environ.pop(FORM_BODY_KEY, None)
    if body is not None:
        body.close()


def parse_form(content_type: str, body: IO[bytes], size: int) -> Form | Rejection:
    """Parse the buffered body with werkzeug's form parser (and rewind it for the app)."""
    environ = {"REQUEST_METHOD": "POST", "CONTENT_TYPE": content_type, "CONTENT_LENGTH": str(size), "wsgi.input": body}
    try:
        _, form, files = parse_form_data(
            environ, silent=False, max_form_memory_size=_FORM_FIELD_MAX_BYTES, max_form_parts=_FORM_MAX_PARTS
        )
    except RequestEntityTooLarge:
        return pre_data_too_large(MAX_POST_PRE_DATA_BYTES)
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
            return pre_data_too_large(MAX_POST_PRE_DATA_BYTES)
        for name, storage in other_files:
            fields.append((name, storage.stream.read().decode("utf-8", "replace")))
        return Form(fields, len(file_sizes), file_sizes[0] if len(file_sizes) == 1 else 0, filename)
    finally:
        for _, storage in files.items(multi=True):
            storage.close()


def _stream_size(stream: IO[bytes]) -> int:
    stream.seek(0, 2)
    size = stream.tell()
    stream.seek(0)
    return size
