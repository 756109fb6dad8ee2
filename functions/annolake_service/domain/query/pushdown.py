"""``plan``: split a query into a DynamoDB filter expression and a residual evaluated in Python.

The filter runs on an item that carries the per-file summary under these attributes (the contract):
``label_counts`` (M of N), ``attribute_values`` (M of L of S/N), ``original_name`` (S), ``media_type``
(S), ``width``/``height`` (N, absent when unknown), ``created_at`` (S, ``%Y-%m-%dT%H:%M:%S.%f+0000``, so
it sorts as it reads) and ``status`` (S). ``filter AND residual`` is equivalent to the query.

What pushes down: every ``labels.*`` comparison and list (a missing label counts 0:
``attribute_not_exists(...) OR ...`` whenever 0 satisfies the predicate); ``attributes.*`` with
``=``/``!=``/``in``/``not in`` (``contains`` on the list); every ``file.*`` built-in (a date is its
UTC day: ``BETWEEN "2026-01-31" AND "2026-01-31T99"``); ``not``/``and``/``or`` of pushable parts.
What stays in Python: ``attributes.*`` orderings (DynamoDB cannot ask "some element is < x"),
``file.metadata.*`` (a JSON string in the store), ``dataset.*`` (decided by which partitions are read),
numbers DynamoDB cannot hold, and whatever would make the expression longer than DynamoDB allows.

The query is first put in negation normal form (De Morgan; ``not`` kept only on comparisons), so the
pushable conjuncts of ``not (a or b)`` push down one by one. DynamoDB conditions are two-valued (a
comparison with a missing attribute is false, and ``NOT`` makes it true), as is ``evaluate``, so
``NOT`` of a pushed comparison keeps its meaning.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from annolake_service.domain.query.evaluator import OPS as _OPS
from annolake_service.domain.query.evaluator import FileView, evaluate
from annolake_service.domain.query.nodes import (
    And,
    AttributeValues,
    Compare,
    CompareOp,
    FileField,
    InList,
    LabelCount,
    Node,
    Not,
    Or,
    Value,
)

LABEL_COUNTS = "label_counts"
ATTRIBUTE_VALUES = "attribute_values"
FILE_ATTRIBUTES: dict[str, str] = {
    "name": "original_name",
    "type": "media_type",
    "width": "width",
    "height": "height",
    "created": "created_at",
    "status": "status",
}
MAX_EXPRESSION_LENGTH = 4096  # DynamoDB's limit on an expression string
MAX_IN_VALUES = 100  # DynamoDB's limit on the operands of IN
_DYNAMO_OPS = {"=": "=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}  # "!=" is rendered as NOT (... = ...)
_MAX_DIGITS = 38
_MAX_MAGNITUDE = Decimal("9.9999999999999999999999999999999999999E+125")
_MIN_MAGNITUDE = Decimal("1E-130")
_DAY_END = "T99"  # sorts after every time of a day in created_at, and before the next day


@dataclass(frozen=True)
class DynamoFilter:
    """A DynamoDB filter: the expression and its ``#name`` / ``:value`` placeholders (typed JSON values)."""

    expression: str
    names: dict[str, str]
    values: dict[str, dict[str, str]]

    def as_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for a low-level ``scan``/``query`` (merge with the key condition's own placeholders)."""
        kwargs: dict[str, Any] = {"FilterExpression": self.expression, "ExpressionAttributeNames": dict(self.names)}
        if self.values:
            kwargs["ExpressionAttributeValues"] = dict(self.values)
        return kwargs


@dataclass(frozen=True)
class Plan:
    """``filter`` for the store (None: read everything) and ``residual`` for ``evaluate`` (None: nothing left)."""

    filter: DynamoFilter | None
    residual: Node | None

    def matches(self, view: FileView) -> bool:
        """Whether a file the store returned through ``filter`` matches the whole query."""
        return self.residual is None or evaluate(self.residual, view)


def plan(node: Node) -> Plan:
    """Push down what DynamoDB can evaluate; the rest is the residual."""
    builder = _Builder()
    pushed: list[str] = []
    residual: list[Node] = []
    for conjunct in _conjuncts(_negation_normal_form(node)):
        if _pushable(conjunct):
            trial = builder.copy()
            expression = _render(conjunct, trial)
            if len(" AND ".join([*pushed, expression])) <= MAX_EXPRESSION_LENGTH:
                builder = trial
                pushed.append(expression)
                continue
        residual.append(conjunct)
    if not pushed:
        return Plan(None, node)
    rest = None if not residual else residual[0] if len(residual) == 1 else And(tuple(residual))
    return Plan(DynamoFilter(" AND ".join(pushed), builder.names, builder.values), rest)


def _negation_normal_form(node: Node, negate: bool = False) -> Node:
    if isinstance(node, Not):
        return _negation_normal_form(node.operand, not negate)
    if isinstance(node, And | Or):
        operands = tuple(_negation_normal_form(op, negate) for op in node.operands)
        return (Or if isinstance(node, And) else And)(operands) if negate else type(node)(operands)
    if isinstance(node, InList):
        return InList(node.field, node.values, node.negated != negate)
    return Not(node) if negate else node


def _conjuncts(node: Node) -> list[Node]:
    if isinstance(node, And):
        return [c for operand in node.operands for c in _conjuncts(operand)]
    return [node]


# --- what DynamoDB can evaluate -----------------------------------------------------------------------------------


def dynamo_number(value: int | float) -> str | None:
    """The DynamoDB ``N`` string of a number, or None if DynamoDB cannot hold it exactly enough."""
    number = Decimal(value) if isinstance(value, int) else Decimal(repr(value))
    if not number.is_finite():
        return None
    if number == 0:
        return "0"
    significant = "".join(map(str, number.as_tuple().digits)).strip("0")
    if len(significant) > _MAX_DIGITS or not _MIN_MAGNITUDE <= abs(number) <= _MAX_MAGNITUDE:
        return None
    text = format(number, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def created_at_string(value: datetime) -> str:
    """A UTC instant in the stored ``created_at`` format (PynamoDB's ``UTCDateTimeAttribute``)."""
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "+0000"


def _typed(value: Value) -> dict[str, str] | None:
    """A literal as a DynamoDB-typed value, the way the summary stores it (booleans and dates as strings)."""
    if isinstance(value, bool):
        return {"S": "true" if value else "false"}
    if isinstance(value, int | float):
        number = dynamo_number(value)
        return None if number is None else {"N": number}
    if isinstance(value, datetime):
        return {"S": created_at_string(value)}
    if isinstance(value, date):
        return {"S": value.isoformat()}
    return {"S": value}


def _values_of(node: Compare | InList) -> tuple[Value, ...]:
    return node.values if isinstance(node, InList) else (node.value,)


def _pushable(node: Node) -> bool:
    if isinstance(node, And | Or):
        return all(_pushable(op) for op in node.operands)
    if isinstance(node, Not):
        return _pushable(node.operand)
    f = node.field
    if isinstance(f, AttributeValues):
        if isinstance(node, Compare) and node.op not in ("=", "!="):
            return False
    elif not isinstance(f, LabelCount | FileField):
        return False
    return all(_typed(v) is not None for v in _values_of(node))


# --- rendering ----------------------------------------------------------------------------------------------------


@dataclass
class _Builder:
    names: dict[str, str] = field(default_factory=dict)
    values: dict[str, dict[str, str]] = field(default_factory=dict)

    def copy(self) -> _Builder:
        return _Builder(dict(self.names), dict(self.values))

    def path(self, *parts: str) -> str:
        placeholders = []
        for part in parts:
            existing = next((k for k, v in self.names.items() if v == part), None)
            if existing is None:
                existing = f"#n{len(self.names)}"
                self.names[existing] = part
            placeholders.append(existing)
        return ".".join(placeholders)

    def value(self, literal: Value) -> str:
        typed = _typed(literal)
        assert typed is not None, "only pushable values are rendered"
        existing = next((k for k, v in self.values.items() if v == typed), None)
        if existing is None:
            existing = f":v{len(self.values)}"
            self.values[existing] = typed
        return existing


def _render(node: Node, b: _Builder) -> str:
    if isinstance(node, And | Or):
        joiner = " AND " if isinstance(node, And) else " OR "
        return "(" + joiner.join(_render(op, b) for op in node.operands) + ")"
    if isinstance(node, Not):
        return _negate(_render(node.operand, b))
    if isinstance(node, InList):
        rendered = _render_in(node, b)
        return _negate(rendered) if node.negated else rendered
    if node.op == "!=":
        return _negate(_render_compare(node.field, "=", node.value, b))
    return _render_compare(node.field, node.op, node.value, b)


def _negate(expression: str) -> str:
    """``NOT`` of an expression, parenthesised so that precedence cannot change what it applies to."""
    depth = 0
    for i, ch in enumerate(expression):
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if depth == 0 and i < len(expression) - 1:
            return f"(NOT ({expression}))"
    return f"(NOT {expression})"


def _render_compare(f: Any, op: CompareOp, value: Value, b: _Builder) -> str:
    if isinstance(f, LabelCount):
        path = b.path(LABEL_COUNTS, f.name)
        expression = f"{path} {_DYNAMO_OPS[op]} {b.value(value)}"
        if _holds_for_zero(op, value):
            return f"(attribute_not_exists({path}) OR {expression})"
        return expression
    if isinstance(f, AttributeValues):
        return f"contains({b.path(ATTRIBUTE_VALUES, f.group)}, {b.value(value)})"
    path = b.path(FILE_ATTRIBUTES[f.name])
    if f.name == "created" and not isinstance(value, datetime):
        assert isinstance(value, date)
        day = value.isoformat()
        if op == "=":
            return f"({path} BETWEEN {b.value(day)} AND {b.value(day + _DAY_END)})"
        return f"{path} {op} {b.value(day if op in ('<', '>=') else day + _DAY_END)}"
    return f"{path} {_DYNAMO_OPS[op]} {b.value(value)}"


def _holds_for_zero(op: CompareOp, value: Value) -> bool:
    """Whether a file without the label (count 0) satisfies ``count <op> value``."""
    return _OPS[op](0, value)


def _render_in(node: InList, b: _Builder) -> str:
    """``field in [...]`` without its negation: IN for scalars (in chunks DynamoDB accepts), else an OR of ``=``."""
    f = node.field
    values = list({(type(v), v): v for v in node.values}.values())
    direct = isinstance(f, LabelCount) or (isinstance(f, FileField) and f.name != "created")
    direct_values: list[Value]
    if isinstance(f, FileField) and f.name == "created":
        direct_values = [v for v in values if isinstance(v, datetime)]
        parts = [_render_compare(f, "=", v, b) for v in values if not isinstance(v, datetime)]
    elif direct:
        direct_values, parts = values, []
    else:
        direct_values, parts = [], [_render_compare(f, "=", v, b) for v in values]
    if direct_values:
        if isinstance(f, LabelCount):
            path = b.path(LABEL_COUNTS, f.name)
        else:
            assert isinstance(f, FileField)  # only file fields and label counts collect direct values
            path = b.path(FILE_ATTRIBUTES[f.name])
        for start in range(0, len(direct_values), MAX_IN_VALUES):
            chunk = direct_values[start : start + MAX_IN_VALUES]
            parts.append(f"{path} IN ({', '.join(b.value(v) for v in chunk)})")
        if isinstance(f, LabelCount) and any(v == 0 for v in direct_values):
            parts.insert(0, f"attribute_not_exists({path})")
    return parts[0] if len(parts) == 1 else "(" + " OR ".join(parts) + ")"
