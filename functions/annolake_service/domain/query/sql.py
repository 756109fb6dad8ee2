"""``to_sql``: a query AST as a SQL predicate over a dataset's columnar index (one row per file).

The predicate means exactly what ``evaluate`` means (a property test holds the two together), and reads
the columns that ``domain/query/index_rows.py`` writes:

====================================  ==================================================================
column                                holds
====================================  ==================================================================
``name``, ``type``, ``status``        the file's original name, media type and status (text)
``width``, ``height``                 pixels (integer, NULL when unknown)
``created``                           creation time, UTC, microseconds (timestamp without a zone)
``metadata``                          the user's metadata (JSON)
``dataset_names``, ``dataset_ids``    the datasets the file is in (lists of text)
``label:<name>``                      live instances of the label (integer; 0 explicit, or the column
                                      absent from an older file of the index)
``frames:<name>``                     a video's frames on which the label shows (integer; absent: 0)
``attr_str:<group>`` /                the group's text values (booleans as "true"/"false", dates as ISO
``attr_num:<group>``                  text) and its numeric values (double), as lists
====================================  ==================================================================

``eval.<run>.<metric>`` fields read the table ``eval_files`` (``ref``, ``file_id``, ``tp``, ``fp``, ``fn``,
``disagreement``) that the index is given beside its files (``ColumnarIndex.attach_evaluations``): one row
per file an evaluation holds; a file without one has no value.

Every leaf is two-valued (``COALESCE(..., FALSE)``), so ``NOT`` negates it exactly, as in ``evaluate``.
A label or attribute column the index does not have yet reads as 0 / the empty set, so a label added to
the schema needs no rewrite of old index files. Values are bound as parameters; only column names and
JSON pointers (escaped) are written into the text. Integers beyond 64 bits and attribute or metadata
numbers compare as doubles.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from annolake_service.domain.query.evaluator import _as_attribute_literal, _as_metadata_literal, _kind
from annolake_service.domain.query.nodes import (
    And,
    AttributeValues,
    Compare,
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
    Value,
    walk,
)

LABEL_PREFIX = "label:"
FRAMES_PREFIX = "frames:"
ATTRIBUTE_TEXT_PREFIX = "attr_str:"
ATTRIBUTE_NUMBER_PREFIX = "attr_num:"
_JSON_NUMBER_TYPES = "('UBIGINT', 'BIGINT', 'HUGEINT', 'DOUBLE')"
_INT64 = range(-(2**63), 2**63)
_FALSE = "FALSE"
_TRUE = "TRUE"


def label_column(name: str) -> str:
    return LABEL_PREFIX + name


def frames_column(name: str) -> str:
    """A video's frames per label (``frames.<name>``); absent from a file without the label, which reads 0."""
    return FRAMES_PREFIX + name


def attribute_columns(group: str) -> tuple[str, str]:
    """The text-values and number-values columns of an attribute group."""
    return ATTRIBUTE_TEXT_PREFIX + group, ATTRIBUTE_NUMBER_PREFIX + group


def quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def quote_text(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def json_pointer(path: tuple[str, ...]) -> str:
    """RFC 6901: ``~`` is written ``~0`` and ``/`` is written ``~1`` inside a key."""
    return "".join("/" + key.replace("~", "~0").replace("/", "~1") for key in path)


@dataclass(frozen=True)
class SqlPredicate:
    """A boolean SQL expression and its positional parameters (``?``), in order."""

    text: str
    params: list[Any] = field(default_factory=list)


_INDEXED_FIELDS = (LabelCount, FrameCount, AttributeValues, FileField, Metadata, DatasetRef, Evaluated)
EVAL_TABLE = "eval_files"


def indexed(node: Node | None) -> bool:
    """Whether every field the query names is in the index (predictions are not; evaluations are attached)."""
    return node is None or all(
        isinstance(part.field, _INDEXED_FIELDS) for part in walk(node) if isinstance(part, Compare | InList)
    )


def to_sql(node: Node, columns: Collection[str]) -> SqlPredicate:
    """The predicate of ``node`` over an index that has ``columns`` (label and attribute columns may be absent)."""
    compiler = _Compiler(frozenset(columns))
    text = compiler.node(node)
    return SqlPredicate(text, compiler.params)


class _Compiler:
    def __init__(self, columns: frozenset[str]) -> None:
        self.columns = columns
        self.params: list[Any] = []

    def bind(self, value: Any) -> str:
        self.params.append(value)
        return "?"

    def node(self, node: Node) -> str:
        if isinstance(node, And):
            return "(" + " AND ".join(self.node(operand) for operand in node.operands) + ")"
        if isinstance(node, Or):
            return "(" + " OR ".join(self.node(operand) for operand in node.operands) + ")"
        if isinstance(node, Not):
            return f"(NOT {self.node(node.operand)})"
        if isinstance(node, InList):
            if not node.values:
                found = _FALSE
            else:
                found = "(" + " OR ".join(self.compare(node.field, "=", value) for value in node.values) + ")"
            return f"(NOT {found})" if node.negated else found
        return self.compare(node.field, node.op, node.value)

    def compare(self, field: Field, op: CompareOp, value: Value) -> str:
        if op == "!=":
            return f"(NOT {self.compare(field, '=', value)})"
        if isinstance(field, LabelCount):
            return self.count(label_column(field.name), op, value)
        if isinstance(field, FrameCount):
            return self.count(frames_column(field.name), op, value)
        if isinstance(field, AttributeValues):
            return self.attribute(field.group, op, _as_attribute_literal(value))
        if isinstance(field, Metadata):
            return self.metadata(field.path, op, _as_metadata_literal(value))
        if isinstance(field, Evaluated):
            if isinstance(value, bool) or not isinstance(value, int | float):
                return _FALSE
            found = (  # the metric is one of EVAL_METRICS, quoted; the run and the value are bound
                f"(SELECT e.{quote_identifier(field.metric)} FROM {EVAL_TABLE} e "  # noqa: S608
                f"WHERE e.ref = {self.bind(field.run)} AND e.file_id = live.file_id)"
            )
            return f"COALESCE({found} {op} {self.bind(_number(value))}, FALSE)"
        if isinstance(field, DatasetRef):
            if not isinstance(value, str):
                return _FALSE
            column = "dataset_names" if field.by == "name" else "dataset_ids"
            return f"COALESCE(list_contains({column}, {self.bind(value)}), FALSE)"
        if not isinstance(field, FileField):
            raise ValueError(f"{type(field).__name__} is not in the index (see ``indexed``)")
        return self.file_field(field, op, value)

    def count(self, column: str, op: CompareOp, value: Value) -> str:
        """A count column (0 when the column or the value is missing) compared with a number."""
        if isinstance(value, bool):
            value = int(value)  # as ``evaluate`` compares a count with it: True == 1
        if not isinstance(value, int | float):
            return _FALSE
        count = f"COALESCE({quote_identifier(column)}, 0)" if column in self.columns else "0"
        return f"({count} {op} {self.bind(_number(value))})"

    def attribute(self, group: str, op: CompareOp, literal: Any) -> str:
        text_column, number_column = attribute_columns(group)
        kind = _kind(literal)
        if kind == "str":
            column, bound = text_column, literal
        elif kind == "number":
            column, bound = number_column, float(literal)
        else:
            return _FALSE
        if column not in self.columns:
            return _FALSE
        quoted = quote_identifier(column)
        if op == "=":
            return f"COALESCE(list_contains({quoted}, {self.bind(bound)}), FALSE)"
        return f"COALESCE(len(list_filter({quoted}, lambda x: x {op} {self.bind(bound)})) > 0, FALSE)"

    def metadata(self, path: tuple[str, ...], op: CompareOp, literal: Any) -> str:
        found = f"json_extract(metadata, {quote_text(json_pointer(path))})"
        kind = _kind(literal)
        if kind is None:
            return _FALSE
        whole = self.json_scalar(found, op, literal, kind)
        elements = self.json_scalar("x", op, literal, kind)
        return (
            f"COALESCE(CASE WHEN json_type({found}) = 'ARRAY' "
            f"THEN len(list_filter(json_extract({found}, '$[*]'), lambda x: {elements})) > 0 "
            f"ELSE {whole} END, FALSE)"
        )

    def json_scalar(self, value: str, op: CompareOp, literal: Any, kind: str) -> str:
        if kind == "number":
            bound = self.bind(float(literal))
            return f"(json_type({value}) IN {_JSON_NUMBER_TYPES} AND TRY_CAST({value} AS DOUBLE) {op} {bound})"
        if kind == "str":
            return f"(json_type({value}) = 'VARCHAR' AND json_extract_string({value}, '$') {op} {self.bind(literal)})"
        return f"(json_type({value}) = 'BOOLEAN' AND TRY_CAST({value} AS BOOLEAN) {op} {self.bind(literal)})"

    def file_field(self, field: FileField, op: CompareOp, value: Value) -> str:
        if field.name == "created":
            if isinstance(value, datetime):
                instant = value.astimezone(UTC).replace(tzinfo=None)
                return f"COALESCE(created {op} {self.bind(instant)}, FALSE)"
            if isinstance(value, date):
                return f"COALESCE(CAST(created AS DATE) {op} {self.bind(value)}, FALSE)"
            return _FALSE
        if field.name in ("width", "height"):
            if isinstance(value, bool) or not isinstance(value, int | float):
                return _FALSE
            return f"COALESCE({field.name} {op} {self.bind(_number(value))}, FALSE)"
        if not isinstance(value, str):
            return _FALSE
        return f"COALESCE({field.name} {op} {self.bind(value)}, FALSE)"


def _number(value: int | float) -> int | float:
    """Integers DuckDB binds as BIGINT when they fit; larger ones as doubles."""
    if isinstance(value, int) and value not in _INT64:
        return float(value)
    return value


__all__ = [
    "ATTRIBUTE_NUMBER_PREFIX",
    "ATTRIBUTE_TEXT_PREFIX",
    "EVAL_TABLE",
    "FRAMES_PREFIX",
    "LABEL_PREFIX",
    "SqlPredicate",
    "attribute_columns",
    "indexed",
    "json_pointer",
    "frames_column",
    "label_column",
    "quote_identifier",
    "to_sql",
]
