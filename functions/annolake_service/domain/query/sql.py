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

One compiler, two dialects: ``duckdb`` (the embedded engine; values bound as ``?`` parameters) and ``trino``
(Athena; values written as typed literals, since a query is one string there). They differ only where the
engines do: list functions (``list_contains``/``list_filter`` against ``contains``/``any_match``) and JSON
(DuckDB's ``json_type`` and JSON pointers against Trino's ``json_format`` and bracketed JSON paths).
Evaluation fields read a table beside the index, which Athena does not have (``athena_supports``).
"""

from __future__ import annotations

import math
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Literal

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


def json_path(path: tuple[str, ...]) -> str:
    """A bracketed JSON path (``$["a"]["b.c"]``) for Trino; keys holding ``"`` or ``\\`` are refused."""
    if any('"' in key or "\\" in key for key in path):
        raise ValueError("a metadata key with a double quote or backslash cannot be named in a Trino JSON path")
    return "$" + "".join(f'["{key}"]' for key in path)


@dataclass(frozen=True)
class SqlPredicate:
    """A boolean SQL expression and its positional parameters (``?``), in order."""

    text: str
    params: list[Any] = field(default_factory=list)


Dialect = Literal["duckdb", "trino"]

_INDEXED_FIELDS = (LabelCount, FrameCount, AttributeValues, FileField, Metadata, DatasetRef, Evaluated)
EVAL_TABLE = "eval_files"


def indexed(node: Node | None) -> bool:
    """Whether every field the query names is in the index (predictions are not; evaluations are attached)."""
    return node is None or all(
        isinstance(part.field, _INDEXED_FIELDS) for part in walk(node) if isinstance(part, Compare | InList)
    )


def athena_supports(node: Node | None) -> bool:
    """Whether Athena can answer ``node``: every field indexed, no ``eval.*`` field (its results are attached
    to the embedded engine only), and metadata keys a bracketed JSON path can name (no ``"`` or ``\\``)."""
    if not indexed(node):
        return False
    for part in walk(node) if node is not None else ():
        if isinstance(part, Compare | InList):
            if isinstance(part.field, Evaluated):
                return False
            if isinstance(part.field, Metadata) and any('"' in key or "\\" in key for key in part.field.path):
                return False
    return True


def referenced_columns(node: Node | None) -> set[str]:
    """The label, frame and attribute columns ``node`` reads (what a catalog must declare for it)."""
    found: set[str] = set()
    for part in walk(node) if node is not None else ():
        if not isinstance(part, Compare | InList):
            continue
        if isinstance(part.field, LabelCount):
            found.add(label_column(part.field.name))
        elif isinstance(part.field, FrameCount):
            found.add(frames_column(part.field.name))
        elif isinstance(part.field, AttributeValues):
            found.update(attribute_columns(part.field.group))
    return found


def to_sql(node: Node, columns: Collection[str], dialect: Dialect = "duckdb") -> SqlPredicate:
    """The predicate of ``node`` over an index that has ``columns`` (label and attribute columns may be absent)."""
    compiler = Compiler(frozenset(columns), dialect)
    text = compiler.node(node)
    return SqlPredicate(text, compiler.params)


def trino_literal(value: Any) -> str:
    """A value as a Trino literal of the type DuckDB would bind it as."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan()"
        if math.isinf(value):
            return "infinity()" if value > 0 else "-infinity()"
        return f"DOUBLE '{value!r}'"
    if isinstance(value, datetime):
        return f"TIMESTAMP '{value.strftime('%Y-%m-%d %H:%M:%S.%f')}'"
    if isinstance(value, date):
        return f"DATE '{value.isoformat()}'"
    if isinstance(value, str):
        return quote_text(value)
    raise TypeError(f"no Trino literal for {type(value).__name__}")


class Compiler:
    """Compiles predicates and binds values in one dialect; ``params`` holds what ``duckdb`` bound, in order."""

    def __init__(self, columns: frozenset[str], dialect: Dialect = "duckdb") -> None:
        self.columns = columns
        self.dialect = dialect
        self.params: list[Any] = []

    def bind(self, value: Any) -> str:
        if self.dialect == "trino":
            return trino_literal(value)
        self.params.append(value)
        return "?"

    def contains(self, column: str, value: Any) -> str:
        function = "contains" if self.dialect == "trino" else "list_contains"
        return f"COALESCE({function}({column}, {self.bind(value)}), FALSE)"

    def any_element(self, column: str, op: CompareOp, value: Any) -> str:
        if self.dialect == "trino":
            return f"COALESCE(any_match({column}, x -> x {op} {self.bind(value)}), FALSE)"
        return f"COALESCE(len(list_filter({column}, lambda x: x {op} {self.bind(value)})) > 0, FALSE)"

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
            if self.dialect == "trino":
                raise ValueError("eval.* fields are answered by the embedded engine only (see ``athena_supports``)")
            found = (  # the metric is one of EVAL_METRICS, quoted; the run and the value are bound
                f"(SELECT e.{quote_identifier(field.metric)} FROM {EVAL_TABLE} e "  # noqa: S608
                f"WHERE e.ref = {self.bind(field.run)} AND e.file_id = live.file_id)"
            )
            return f"COALESCE({found} {op} {self.bind(_number(value))}, FALSE)"
        if isinstance(field, DatasetRef):
            if not isinstance(value, str):
                return _FALSE
            column = "dataset_names" if field.by == "name" else "dataset_ids"
            return self.contains(column, value)
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
            return self.contains(quoted, bound)
        return self.any_element(quoted, op, bound)

    def metadata(self, path: tuple[str, ...], op: CompareOp, literal: Any) -> str:
        kind = _kind(literal)
        if kind is None:
            return _FALSE
        if self.dialect == "trino":
            return self.trino_metadata(path, op, literal, kind)
        found = f"json_extract(metadata, {quote_text(json_pointer(path))})"
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

    def trino_metadata(self, path: tuple[str, ...], op: CompareOp, literal: Any, kind: str) -> str:
        """As ``metadata``, in Trino: the kind of a JSON value is read from its text (``json_format``)."""
        found = f"json_extract(json_parse(metadata), {quote_text(json_path(path))})"
        whole = self.trino_json_scalar(found, op, literal, kind)
        elements = self.trino_json_scalar("x", op, literal, kind)
        return (
            f"COALESCE(CASE WHEN json_array_length({found}) IS NOT NULL "
            f"THEN any_match(CAST({found} AS ARRAY(JSON)), x -> {elements}) ELSE {whole} END, FALSE)"
        )

    def trino_json_scalar(self, value: str, op: CompareOp, literal: Any, kind: str) -> str:
        text = f"json_format({value})"
        if kind == "number":
            bound = self.bind(float(literal))
            return f"(regexp_like({text}, '^[-0-9]') AND TRY_CAST({value} AS DOUBLE) {op} {bound})"
        if kind == "str":
            return f"(substr({text}, 1, 1) = '\"' AND TRY_CAST({value} AS VARCHAR) {op} {self.bind(literal)})"
        return f"({text} IN ('true', 'false') AND TRY_CAST({value} AS BOOLEAN) {op} {self.bind(literal)})"

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
    "Compiler",
    "Dialect",
    "EVAL_TABLE",
    "FRAMES_PREFIX",
    "LABEL_PREFIX",
    "SqlPredicate",
    "attribute_columns",
    "athena_supports",
    "indexed",
    "json_path",
    "json_pointer",
    "referenced_columns",
    "trino_literal",
    "frames_column",
    "label_column",
    "quote_identifier",
    "to_sql",
]
