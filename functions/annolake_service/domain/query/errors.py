"""Errors of the query language: all are 400s (``BadRequest``) whose ``details`` carry the position."""

from __future__ import annotations

from typing import Any

from annolake_service.shared.errors import BadRequest


class QueryError(BadRequest):
    """A query the service cannot run; ``line``/``column`` (1-based) locate the problem when known."""

    code = "invalid_query"

    def __init__(
        self, message: str, *, line: int | None = None, column: int | None = None, details: dict[str, Any] | None = None
    ) -> None:
        self.line = line
        self.column = column
        where = {"line": line, "column": column} if line is not None else {}
        super().__init__(message, details={**where, **(details or {})})


class QuerySyntaxError(QueryError):
    """The text is not a query: ``token`` is what was found, ``expected`` what could have come instead (in words)."""

    def __init__(
        self, message: str, *, line: int, column: int, token: str | None, expected: tuple[str, ...] = ()
    ) -> None:
        self.token = token
        self.expected = expected
        super().__init__(message, line=line, column=column, details={"token": token, "expected": list(expected)})


class QueryTypeError(QueryError):
    """A field compared with a value of the wrong kind, or with an operator it does not support."""


class QueryNameError(QueryError):
    """An unknown label, attribute group or field; ``suggestion`` is the closest known name, if any."""

    def __init__(
        self,
        message: str,
        *,
        name: str,
        kind: str,
        suggestion: str | None = None,
        line: int | None = None,
        column: int | None = None,
    ) -> None:
        self.name = name
        self.kind = kind
        self.suggestion = suggestion
        super().__init__(
            message, line=line, column=column, details={"name": name, "kind": kind, "suggestion": suggestion}
        )
