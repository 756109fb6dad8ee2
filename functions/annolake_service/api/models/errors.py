"""The one error shape of every 4xx/5xx answer, and the ``responses=`` entries that document it."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class ErrorBody(BaseModel):
    code: str = Field(description="machine-readable, e.g. not_found, conflict, invalid_request")
    message: str = Field(description="what went wrong and what to do about it")
    details: dict[str, Any] = Field(description="structured context, e.g. the allowed roles or the invalid fields")


class ErrorPublic(BaseModel):
    error: ErrorBody


#: What each status means on this API.
_MEANINGS = {
    400: "The request cannot be carried out as asked (a bad query, cursor, limit or value)",
    401: "No valid API key or user token",
    403: "The caller's role (or API key) may not do this",
    404: "The project (or a resource in it) does not exist, or the caller is not a member",
    409: "The resource changed meanwhile, already exists or is in a state that forbids this",
    422: "The request does not match the API schema",
    503: "A service this request needs cannot be reached; retry",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for routes that can answer these statuses, each with the one error shape."""
    return {status: {"model": ErrorPublic, "description": _MEANINGS[status]} for status in statuses}


#: Every route that authenticates can answer these.
AUTH_ERRORS = error_responses(401, 503)
#: Every route under ``/projects/{project_string_id}`` can answer these too (role, membership, schema).
PROJECT_ERRORS = error_responses(401, 403, 404, 422, 503)
