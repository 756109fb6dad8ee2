"""``evaluate``: the reference semantics of a query on one file (brute force, no store involved)."""

from __future__ import annotations

import operator
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from annolake_service.domain.entities import FileRecord
from annolake_service.domain.query.nodes import (
    And,
    AttributeValues,
    CompareOp,
    DatasetRef,
    Evaluated,
    Field,
    FileField,
    FrameCount,
    InList,
    LabelCount,
    Metadata,
    Node,
    Not,
    Or,
    Predicted,
    Value,
    format_datetime,
)

OPS: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_MISSING = object()


@dataclass(frozen=True)
class FileView:
    """What a query can see of one file. ``created`` is timezone-aware (naive values are taken as UTC)."""

    name: str
    type: str
    width: int | None
    height: int | None
    created: datetime
    status: str
    metadata: Mapping[str, Any] = field(default_factory=dict)
    label_counts: Mapping[str, int] = field(default_factory=dict)
    frame_counts: Mapping[str, int] = field(default_factory=dict)  # a video's frames per label
    attribute_values: Mapping[str, list[Any]] = field(default_factory=dict)
    dataset_names: frozenset[str] = frozenset()
    dataset_ids: frozenset[str] = frozenset()
    #: ``predictions.<ref>``: ref (a model name or run id) → label → {"count": n, "min_score": s}
    predictions: Mapping[str, Mapping[str, Mapping[str, float]]] = field(default_factory=dict)
    #: ``eval.<ref>``: ref (a run id or model name) → metric → value, for the files its evaluation holds
    evaluations: Mapping[str, Mapping[str, float]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.created.tzinfo is None:
            object.__setattr__(self, "created", self.created.replace(tzinfo=UTC))

    @classmethod
    def from_record(
        cls,
        record: FileRecord,
        dataset_names: Iterable[str] = (),
        dataset_ids: Iterable[str] = (),
        predictions: Mapping[str, Mapping[str, Mapping[str, float]]] | None = None,
        evaluations: Mapping[str, Mapping[str, float]] | None = None,
    ) -> FileView:
        """The view of a stored file, given the names and ids of the datasets it belongs to."""
        return cls(
            name=record.original_name,
            type=record.media_type,
            width=record.width,
            height=record.height,
            created=record.created_at,
            status=record.status,
            metadata=record.metadata,
            label_counts=record.label_counts,
            frame_counts=record.frame_counts,
            attribute_values=record.attribute_values,
            dataset_names=frozenset(dataset_names),
            dataset_ids=frozenset(dataset_ids),
            predictions=predictions or {},
            evaluations=evaluations or {},
        )


def evaluate(node: Node, view: FileView) -> bool:
    """Whether the file matches the query."""
    if isinstance(node, And):
        return all(evaluate(operand, view) for operand in node.operands)
    if isinstance(node, Or):
        return any(evaluate(operand, view) for operand in node.operands)
    if isinstance(node, Not):
        return not evaluate(node.operand, view)
    if isinstance(node, InList):
        found = any(_compare(node.field, "=", value, view) for value in node.values)
        return found != node.negated
    return _compare(node.field, node.op, node.value, view)


def _compare(field: Field, op: CompareOp, value: Value, view: FileView) -> bool:
    if isinstance(field, LabelCount):
        return OPS[op](view.label_counts.get(field.name, 0), value)
    if isinstance(field, FrameCount):
        return OPS[op](view.frame_counts.get(field.name, 0), value)
    if isinstance(field, AttributeValues):
        values = [_as_attribute_literal(v) for v in view.attribute_values.get(field.group, ())]
        return _any_of(values, op, _as_attribute_literal(value))
    if isinstance(field, Metadata):
        found = _lookup(view.metadata, field.path)
        literal = _as_metadata_literal(value)
        if isinstance(found, list):
            return _any_of(found, op, literal)
        return _scalar(found, op, literal)
    if isinstance(field, Predicted):
        entry = view.predictions.get(field.model, {}).get(field.label)
        if field.score:
            return _scalar(entry["min_score"] if entry else _MISSING, op, value)
        return OPS[op](int(entry["count"]) if entry else 0, value)
    if isinstance(field, Evaluated):
        return _scalar(view.evaluations.get(field.run, {}).get(field.metric, _MISSING), op, value)
    if isinstance(field, DatasetRef):
        names = view.dataset_names if field.by == "name" else view.dataset_ids
        return (value in names) == (op == "=")
    assert isinstance(field, FileField)
    if field.name == "created":
        return _compare_created(view.created, op, value)
    actual = {"name": view.name, "type": view.type, "width": view.width, "height": view.height, "status": view.status}
    return _scalar(actual[field.name], op, value)


def _kind(value: Any) -> str | None:
    """Values compare only within a kind: numbers with numbers, strings with strings, booleans with booleans."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "str"
    return None


def _scalar(actual: Any, op: CompareOp, literal: Value) -> bool:
    """``!=`` is the negation of ``=``; an ordering holds only between values of one kind (never for a missing one)."""
    comparable = actual is not _MISSING and actual is not None and _kind(actual) == _kind(literal)
    if op == "!=":
        return not (comparable and actual == literal)
    return comparable and OPS[op](actual, literal)


def _any_of(values: Collection[Any], op: CompareOp, literal: Value) -> bool:
    """Set semantics: ``=`` contains, ``!=`` does not contain, an ordering holds for some element."""
    if op == "!=":
        return not _any_of(values, "=", literal)
    return any(_scalar(v, op, literal) for v in values)


def _as_attribute_literal(value: Any) -> Any:
    """Attribute summaries keep booleans as ``"true"``/``"false"`` and dates as ISO strings; literals follow."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return format_datetime(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def _as_metadata_literal(value: Value) -> Value:
    """Metadata is JSON: dates and date-times compare with the strings that hold them (ISO 8601)."""
    if isinstance(value, datetime):
        return format_datetime(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def _lookup(metadata: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    current: Any = metadata
    for key in path:
        if not isinstance(current, Mapping) or key not in current:
            return _MISSING
        current = current[key]
    return current


def _compare_created(created: datetime, op: CompareOp, value: Value) -> bool:
    """A date literal stands for its whole UTC day; a date-time literal for that instant."""
    if isinstance(value, datetime):
        return OPS[op](created, value)
    assert isinstance(value, date)
    return OPS[op](created.astimezone(UTC).date(), value)
