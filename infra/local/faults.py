"""Fault injection on the local emulator: chosen AWS calls fail the way AWS fails them, on request.

A failure path (a throttled step retried, a quarantine once retries run out, a re-drive) is then something to
try against ``make up`` rather than to take on trust. ``POST /_annolake/faults`` on the emulator adds a rule,
``GET`` lists the rules with how often each fired, ``DELETE`` clears them; no S3 bucket can be named
``_annolake`` (bucket names have no ``_``), so the path is free. A rule::

    {"method": "POST", "path_contains": "IngestProcess", "status": 429,
     "code": "TooManyRequestsException", "message": "Rate exceeded", "times": 1}

matches the method and a substring of the request's decoded path, for clients over the socket and for the
platform's own in-process calls alike (the Step Functions engine invoking a step, a handler writing to S3).
``times`` left out: every match fails until the rules are cleared. The error is written as the service writes
it: S3's XML ``<Error>``, or the JSON ``__type`` and ``x-amzn-ErrorType`` of the JSON services.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any
from xml.sax.saxutils import escape

FAULTS_PATH = "/_annolake/faults"
WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
_RULE_FIELDS = {"method", "path_contains", "status", "code", "message", "times"}


class FaultInjection:
    def __init__(self, app: WsgiApp) -> None:
        self.app = app
        self._rules: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == FAULTS_PATH:
            return self._manage(environ, start_response)
        rule = self._firing(environ) if self._rules else None
        if rule is None:
            return self.app(environ, start_response)
        return _error_answer(rule, _is_s3(environ), start_response)

    def _firing(self, environ: dict[str, Any]) -> dict[str, Any] | None:
        with self._lock:
            for rule in self._rules:
                if rule["method"] != environ["REQUEST_METHOD"] or rule["path_contains"] not in environ["PATH_INFO"]:
                    continue
                if rule["times"] is not None and rule["fired"] >= rule["times"]:
                    continue
                rule["fired"] += 1
                return rule
        return None

    def _manage(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        method = environ["REQUEST_METHOD"]
        if method == "POST":
            try:
                rule = _parsed_rule(environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0)))
            except ValueError as exc:
                return _json(start_response, 400, {"error": str(exc)})
            with self._lock:
                self._rules.append(rule)
            return _json(start_response, 201, rule)
        if method == "DELETE":
            with self._lock:
                self._rules.clear()
            return _json(start_response, 200, {"rules": []})
        with self._lock:
            return _json(start_response, 200, {"rules": [dict(rule) for rule in self._rules]})


def _parsed_rule(body: bytes) -> dict[str, Any]:
    try:
        given = json.loads(body or b"{}")
    except json.JSONDecodeError as exc:
        raise ValueError(f"the rule is not JSON: {exc}") from None
    if not isinstance(given, dict):
        raise ValueError("a rule is a JSON object")
    if unknown := set(given) - _RULE_FIELDS:
        raise ValueError(f"unknown rule fields {sorted(unknown)}; a rule has {sorted(_RULE_FIELDS)}")
    if not given.get("method") or not given.get("path_contains") or not given.get("code"):
        raise ValueError("a rule needs method, path_contains and code (e.g. POST, a function name, SlowDown)")
    status = int(given.get("status", 503))
    if not 400 <= status <= 599:
        raise ValueError(f"status {status} is not an error status (400-599)")
    times = given.get("times")
    return {
        "method": str(given["method"]).upper(),
        "path_contains": str(given["path_contains"]),
        "status": status,
        "code": str(given["code"]),
        "message": str(given.get("message", "injected by the local emulator's fault rules")),
        "times": None if times is None else int(times),
        "fired": 0,
    }


def _is_s3(environ: dict[str, Any]) -> bool:
    signed = environ.get("HTTP_AUTHORIZATION", "") + environ.get("QUERY_STRING", "")
    return re.search(r"/s3(/|%2F)aws4_request", signed) is not None


def _error_answer(rule: dict[str, Any], s3: bool, start_response: Callable[..., Any]) -> Iterable[bytes]:
    if s3:
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{escape(rule['code'])}</Code><Message>{escape(rule['message'])}</Message></Error>"
        ).encode()
        return _answer(start_response, rule["status"], body, "application/xml")
    body = json.dumps({"__type": rule["code"], "message": rule["message"]}).encode()
    return _answer(start_response, rule["status"], body, "application/json", [("x-amzn-ErrorType", rule["code"])])


def _json(start_response: Callable[..., Any], status: int, payload: dict[str, Any]) -> Iterable[bytes]:
    return _answer(start_response, status, json.dumps(payload).encode(), "application/json")


def _answer(
    start_response: Callable[..., Any],
    status: int,
    body: bytes,
    content_type: str,
    headers: list[tuple[str, str]] | None = None,
) -> Iterable[bytes]:
    start_response(
        f"{status} {HTTPStatus(status).phrase}",
        [("Content-Type", content_type), *(headers or []), ("Content-Length", str(len(body)))],
    )
    return [body]
