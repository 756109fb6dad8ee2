"""Fault injection on the local emulator: chosen AWS calls fail the way AWS fails them, on request.

A failure path (a throttled step retried, a quarantine once retries run out, a re-drive) is then something to
try against ``make up`` rather than to take on trust. ``POST /_annolake/faults`` on the emulator adds a rule,
``GET`` lists the rules with how often each fired and the calls each Lambda function made, ``DELETE`` clears
both; no S3 bucket can be named ``_annolake`` (bucket names have no ``_``), so the path is free. A rule::

    {"method": "POST", "path_contains": "IngestProcess", "status": 429,
     "code": "TooManyRequestsException", "message": "Rate exceeded", "times": 1}

    {"operation": "dynamodb:TransactWriteItems", "function": "IngestRegister", "status": 500,
     "code": "InternalServerError"}

matches every field it has: the method, a substring of the request's decoded path, the operation (the
service as signed and the operation's name, as IAM names actions: ``s3:PutObject``, ``s3:CopyObject``,
``dynamodb:UpdateItem``, ``events:PutEvents``, ``states:SendTaskSuccess``, ``lambda:Invoke``) and a substring
of the name of the Lambda function making the call (a handler's calls, in-process or from a function worker,
whose calls carry its name). It applies to clients over the socket and to the platform's own in-process calls
alike (the Step Functions engine invoking a step, a handler writing to S3). ``times`` left out: every match
fails until the rules are cleared. The error is written as the service writes it: S3's XML ``<Error>``, or the JSON
``__type`` and ``x-amzn-ErrorType`` of the JSON services.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any
from xml.sax.saxutils import escape

from infra.local.function_workers import FUNCTION_HEADER
from infra.local.lambda_runtime import running_function

FAULTS_PATH = "/_annolake/faults"
WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
_RULE_FIELDS = {"method", "path_contains", "operation", "function", "status", "code", "message", "times"}
_MATCHED_FIELDS = ("method", "path_contains", "operation", "function")
FUNCTION_HEADER_ENVIRON = "HTTP_" + FUNCTION_HEADER.upper().replace("-", "_")  # set by function workers
_LAMBDA_INVOKE = re.compile(r"^/[0-9-]+/functions/[^/]+/invocations$")


class FaultInjection:
    def __init__(self, app: WsgiApp) -> None:
        self.app = app
        self._rules: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self.calls: Counter[tuple[str, str]] = Counter()  # (function, operation) -> calls made by handlers

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == FAULTS_PATH:
            return self._manage(environ, start_response)
        function = running_function.get() or environ.get(FUNCTION_HEADER_ENVIRON)
        operation = request_operation(environ) if function is not None or self._rules else None
        if function is not None and operation is not None:
            with self._lock:
                self.calls[(function, operation)] += 1
        rule = self._firing(environ, operation, function) if self._rules else None
        if rule is None:
            return self.app(environ, start_response)
        return _error_answer(rule, _is_s3(environ), start_response)

    def has_rules(self) -> bool:
        """Whether any rule is set (calls that skip the request path check this to take it while one is)."""
        return bool(self._rules)

    def _firing(self, environ: dict[str, Any], operation: str | None, function: str | None) -> dict[str, Any] | None:
        seen = {
            "method": environ["REQUEST_METHOD"],
            "path_contains": environ["PATH_INFO"],
            "operation": operation,
            "function": function,
        }
        with self._lock:
            for rule in self._rules:
                if not all(_matches(field, rule[field], seen[field]) for field in _MATCHED_FIELDS):
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
                self.calls.clear()
            return _json(start_response, 200, {"rules": []})
        with self._lock:
            calls = [{"function": f, "operation": o, "count": n} for (f, o), n in sorted(self.calls.items())]
            return _json(start_response, 200, {"rules": [dict(rule) for rule in self._rules], "calls": calls})


def _matches(field: str, wanted: str | None, seen: str | None) -> bool:
    if wanted is None:
        return True  # the rule does not restrict this field
    if seen is None:
        return False
    return wanted in seen if field in ("path_contains", "function") else wanted == seen


def request_operation(environ: dict[str, Any]) -> str | None:
    """``service:Operation`` of a signed AWS request (the service as in the signature's scope), or None."""
    signed = environ.get("HTTP_AUTHORIZATION", "") + "&" + environ.get("QUERY_STRING", "")
    scope = re.search(r"/([a-z0-9-]+)(?:/|%2F)aws4_request", signed)
    if scope is None:
        return None
    service = scope.group(1)
    if target := environ.get("HTTP_X_AMZ_TARGET"):
        return f"{service}:{target.rsplit('.', 1)[-1]}"
    path, method = environ.get("PATH_INFO", ""), environ["REQUEST_METHOD"]
    if service == "s3":
        return f"s3:{_s3_operation(method, path, environ)}"
    if service == "lambda" and method == "POST" and _LAMBDA_INVOKE.match(path):
        return "lambda:Invoke"
    if action := re.search(r"(?:^|&)Action=([A-Za-z]+)", environ.get("QUERY_STRING", "")):
        return f"{service}:{action.group(1)}"
    return None


def _s3_operation(method: str, path: str, environ: dict[str, Any]) -> str:
    has_key = len(path.lstrip("/").split("/", 1)) == 2 and not path.endswith("/")
    query = environ.get("QUERY_STRING", "")
    if method == "PUT":
        if not has_key:
            return "CreateBucket"
        return "CopyObject" if environ.get("HTTP_X_AMZ_COPY_SOURCE") else "PutObject"
    if method == "GET":
        return "GetObject" if has_key else "ListBucket"
    if method == "HEAD":
        return "HeadObject" if has_key else "HeadBucket"
    if method == "DELETE":
        return "DeleteObject" if has_key else "DeleteBucket"
    return "DeleteObjects" if "delete" in query.split("&") else "PostObject"


def _parsed_rule(body: bytes) -> dict[str, Any]:
    try:
        given = json.loads(body or b"{}")
    except json.JSONDecodeError as exc:
        raise ValueError(f"the rule is not JSON: {exc}") from None
    if not isinstance(given, dict):
        raise ValueError("a rule is a JSON object")
    if unknown := set(given) - _RULE_FIELDS:
        raise ValueError(f"unknown rule fields {sorted(unknown)}; a rule has {sorted(_RULE_FIELDS)}")
    if not given.get("code") or not any(given.get(field) for field in _MATCHED_FIELDS):
        raise ValueError(
            "a rule needs a code (e.g. SlowDown) and what it matches: method, path_contains, operation "
            "(e.g. s3:PutObject) or function"
        )
    if (operation := given.get("operation")) is not None and ":" not in str(operation):
        raise ValueError(f"operation {operation!r} is service:Operation, e.g. s3:PutObject or dynamodb:PutItem")
    status = int(given.get("status", 503))
    if not 400 <= status <= 599:
        raise ValueError(f"status {status} is not an error status (400-599)")
    times = given.get("times")

    def text(field: str) -> str | None:
        return None if given.get(field) is None else str(given[field])

    return {
        "method": None if given.get("method") is None else str(given["method"]).upper(),
        "path_contains": text("path_contains"),
        "operation": text("operation"),
        "function": text("function"),
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
    """The error as the service writes it, with the request id every AWS answer carries (clients read it)."""
    request_id = uuid.uuid4().hex.upper()
    if s3:
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{escape(rule['code'])}</Code><Message>{escape(rule['message'])}</Message>"
            f"<RequestId>{request_id}</RequestId></Error>"
        ).encode()
        return _answer(start_response, rule["status"], body, "application/xml", [("x-amz-request-id", request_id)])
    body = json.dumps({"__type": rule["code"], "message": rule["message"]}).encode()
    headers = [("x-amzn-ErrorType", rule["code"]), ("x-amzn-RequestId", request_id)]
    return _answer(start_response, rule["status"], body, "application/json", headers)


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
