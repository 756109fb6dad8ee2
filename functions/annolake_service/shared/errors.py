"""Errors a caller can act on. The API maps them to ``{"error": {"code", "message", "details"}}``."""

from __future__ import annotations

from typing import Any


class AnnolakeError(Exception):
    status_code = 400
    code = "bad_request"

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}

    def to_body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


class BadRequest(AnnolakeError):
    status_code = 400
    code = "bad_request"


class Unauthorized(AnnolakeError):
    status_code = 401
    code = "unauthorized"


class Forbidden(AnnolakeError):
    status_code = 403
    code = "forbidden"


class NotFound(AnnolakeError):
    status_code = 404
    code = "not_found"


class StoredRecordInvalid(AnnolakeError):
    """A stored record no longer passes the checks its writes pass (written before a rule existed)."""

    status_code = 409
    code = "stored_record_invalid"


class Conflict(AnnolakeError):
    status_code = 409
    code = "conflict"


class ServiceUnavailable(AnnolakeError):
    """Something this request needs is not set up or not answering; the message says what."""

    status_code = 503
    code = "unavailable"
