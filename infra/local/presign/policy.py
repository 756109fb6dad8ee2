"""Presigned POST: the policy document (base64 JSON) and its conditions, checked against the form."""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from infra.local.presign.rejection import Rejection, entity_too_large, entity_too_small, invalid_policy

_POLICY_EXPIRATION = re.compile(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?Z")


@dataclass(frozen=True)
class PolicyCondition:
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
                return entity_too_large(file_size, self.high)
            if file_size < self.low:
                return entity_too_small(file_size, self.low)
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


def decode_policy(text: str) -> tuple[float, list[PolicyCondition]] | Rejection:
    """The policy's expiration (epoch seconds) and conditions, or 400 ``InvalidPolicyDocument``."""
    try:
        raw = base64.b64decode("".join(text.split()), validate=True)
        document = json.loads(raw.decode("utf-8"), parse_constant=_reject_json_constant)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return invalid_policy("Invalid JSON.")
    if not isinstance(document, dict):
        return invalid_policy("Invalid JSON.")
    for key in document:
        if key not in ("expiration", "conditions"):  # keys are case-sensitive
            return invalid_policy(f"Unexpected: '{key.lower()}'")
    if "expiration" not in document:
        return invalid_policy("Policy missing expiration.")
    if "conditions" not in document:
        return invalid_policy("Policy missing conditions.")
    expiration = _policy_expiration(document["expiration"])
    if expiration is None:
        return invalid_policy(f"Invalid 'expiration' value: '{document['expiration']}'")
    if not isinstance(document["conditions"], list):
        return invalid_policy("Invalid 'conditions' value: must be a List.")
    conditions: list[PolicyCondition] = []
    for item in document["conditions"]:
        condition = _policy_condition(item)
        if isinstance(condition, str):
            return invalid_policy(condition)
        conditions.append(condition)
    return expiration, conditions


def _policy_condition(item: object) -> PolicyCondition | str:
    """A condition of the policy, or what is wrong with it."""
    if isinstance(item, dict):
        if len(item) != 1:
            return "Invalid Simple-Condition: Simple-Conditions must have exactly one property specified."
        ((name, value),) = item.items()
        if not isinstance(value, str):
            return "Invalid Simple-Condition: value must be a string."
        return PolicyCondition("eq", _quote_condition(["eq", f"${name}", value]), name.lower(), value)
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
        return PolicyCondition(kind, text, low=bounds[0], high=bounds[1])
    name, value = item[1], item[2]
    if not isinstance(name, str) or not isinstance(value, str):
        return "Invalid JSON."
    return PolicyCondition(kind, text, name[1:].lower() if name.startswith("$") else None, value)


def _policy_expiration(value: object) -> float | None:
    """An ISO 8601 UTC time (``2030-01-01T12:00:00Z``, optionally with fractional seconds) as epoch seconds."""
    match = _POLICY_EXPIRATION.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        return None
    try:
        year, month, day, hour, minute, second = (int(part) for part in match.groups()[:6])
        moment = datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except ValueError:
        return None
    return moment.timestamp() + float(match.group(7) or 0)


def _quote_condition(condition: list[Any]) -> str:
    return json.dumps(condition, ensure_ascii=False)


def _reject_json_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")
