"""Every error the SDK raises, in one place (all exported by ``annolake``).

``AnnolakeError`` is the base of them all. API answers of 4xx/5xx are ``AnnolakeAPIError`` subclasses chosen by
status; media downloads fail with ``FetchError``. Each class also keeps the built-in base it had before
(``RuntimeError``, ``LookupError``), so existing ``except`` clauses still catch it.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit


class AnnolakeError(Exception):
    """Base class of every error raised by the SDK."""


class CredentialsNotFound(AnnolakeError, RuntimeError):
    """No host, project or API key was given, and none was found in the environment or a credentials.json."""


class AnnolakeAPIError(AnnolakeError, RuntimeError):
    """An error answer from the API, with its ``status``, ``code``, ``message`` and ``details``."""

    def __init__(self, status: int, code: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.details = details or {}


class InvalidRequest(AnnolakeAPIError):
    """400/422: the request is wrong; the message says what to change."""


class AuthenticationError(AnnolakeAPIError):
    """401: missing, wrong or revoked credentials."""


class PermissionDenied(AnnolakeAPIError):
    """403: authenticated, but the role does not allow this action."""


class NotFound(AnnolakeAPIError):
    """404: no such project, dataset, file, job, task or slice."""


class VersionConflict(AnnolakeAPIError):
    """409: someone saved first. ``current_version`` is the version now stored; refresh, reapply, save again."""

    @property
    def current_version(self) -> int | None:
        return self.details.get("current_version")


STATUS_ERRORS: dict[int, type[AnnolakeAPIError]] = {
    400: InvalidRequest,
    401: AuthenticationError,
    403: PermissionDenied,
    404: NotFound,
    409: VersionConflict,
    422: InvalidRequest,
}


class FetchError(AnnolakeAPIError):
    """A media download failed: a non-2xx answer after retries (``status``), or no answer (``status`` 0).

    The message names the URL without its query string, which carries the signature.
    """

    def __init__(self, url: str, status: int, reason: str, *, code: str = "fetch_failed") -> None:
        super().__init__(status, code, reason)
        self.url = url
        self.args = (f"GET {redact_url(url)} failed: {reason}",)


class UrlExpired(FetchError):
    """403 from storage: the presigned URL expired or was refused. Ask the API for a new one and retry."""

    def __init__(self, url: str) -> None:
        super().__init__(url, 403, "HTTP 403: the presigned URL expired or was refused", code="url_expired")


class IngestFailed(AnnolakeError, RuntimeError):
    """The upload arrived but was quarantined; the message is the reason."""


class ImportFailed(AnnolakeError, RuntimeError):
    """The import job failed as a whole (bad manifest, unknown labels); ``job`` has the details."""

    def __init__(self, job: dict[str, Any]) -> None:
        super().__init__(f"import {job['import_id']} failed: {job.get('status_reason')}")
        self.job = job


class ExportFailed(AnnolakeError, RuntimeError):
    """The export's run failed; ``export`` has the details (``status_reason``). Asking again re-drives it."""

    def __init__(self, export: dict[str, Any]) -> None:
        super().__init__(f"export {export['export_id']} failed: {export.get('status_reason')}")
        self.export = export


class SnapshotFailed(AnnolakeError, RuntimeError):
    """Building the snapshot failed; ``snapshot`` has the details (``status_reason``). Taking it again retries."""

    def __init__(self, snapshot: dict[str, Any]) -> None:
        super().__init__(f"snapshot {snapshot['name']} failed: {snapshot.get('status_reason')}")
        self.snapshot = snapshot


class RunFailed(AnnolakeError, RuntimeError):
    """A prediction run failed as a whole or was cancelled; ``run`` has the details."""

    def __init__(self, run: dict[str, Any]) -> None:
        super().__init__(f"prediction run {run['run_id']} {run['status']}: {run.get('status_reason')}")
        self.run = run


class FileUnavailable(AnnolakeError, LookupError):
    """The slice lists a file that was deleted after the slice was frozen."""


class MediaMismatch(AnnolakeError, ValueError):
    """Downloaded media whose sha256 is not the one pinned (a snapshot's manifest, or the file's record)."""

    def __init__(self, file_id: str, name: str, expected: str, actual: str) -> None:
        super().__init__(
            f"file {file_id} ({name}): the media's sha256 is {actual}, not the pinned {expected}; "
            "the stored object was changed or corrupted: restore it or take a new snapshot"
        )
        self.file_id = file_id
        self.expected = expected
        self.actual = actual


def redact_url(url: str) -> str:
    """The URL without query or fragment: a presigned URL's signature is a credential."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}" if parts.scheme else parts.path
