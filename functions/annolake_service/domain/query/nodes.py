"""The typed AST of slice queries, and ``format_query``, which renders one back to text.

Nodes are frozen dataclasses, so they compare by value and hash. Positions (``pos``) are kept for
error messages only and take no part in equality.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Literal, TypeAlias

CompareOp = Literal["=", "!=", "<", "<=", ">", ">="]
FileFieldName = Literal["name", "type", "width", "height", "created", "status"]
DatasetKey = Literal["name", "id"]
Value: TypeAlias = bool | int | float | str | date | datetime
"""A literal: ``datetime`` values are timezone-aware UTC; ``date`` values stand for a whole UTC day."""

COMPARE_OPS: tuple[CompareOp, ...] = ("=", "!=", "<", "<=", ">", ">=")
ORDERING_OPS: frozenset[str] = frozenset({"<", "<=", ">", ">="})
FILE_FIELDS: tuple[FileFieldName, ...] = ("name", "type", "width", "height", "created", "status")
FILE_STATUSES: tuple[str, ...] = ("processing", "quarantined", "ready")
KEYWORDS: frozenset[str] = frozenset({"and", "or", "not", "in", "true", "false"})


@dataclass(frozen=True)
class Position:
    """Where something starts in the query text (1-based, as editors count)."""

    line: int
    column: int

    def __str__(self) -> str:
        return f"line {self.line}, column {self.column}"


@dataclass(frozen=True)
class LabelCount:
    """``labels.<name>``: how many live instances of the label the file has (0 when none)."""

    name: str
    pos: Position | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class FrameCount:
    """``frames.<name>``: on how many frames of a video the label shows (a track not outside, or a frame tag);
    0 for an image and for a video without it."""

    name: str
    pos: Position | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class AttributeValues:
    """``attributes.<group>``: the set of values of an attribute group on the file."""

    group: str
    pos: Position | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class FileField:
    """``file.<name>``: a built-in property of the file."""

    name: FileFieldName
    pos: Position | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Metadata:
    """``file.metadata.<key>[.<key>...]``: a value in the file's user metadata (nested keys)."""

    path: tuple[str, ...]
    pos: Position | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class DatasetRef:
    """``dataset.name`` / ``dataset.id``: the datasets the file belongs to."""

    by: DatasetKey
    pos: Position | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Predicted:
    """``predictions.<model>.<label>``: how many of the label the model's latest finished run predicted on the
    file (0 when none); with ``.score`` (``score=True``): the file's lowest score for the label (missing when
    none). ``model`` may also be a run id (``pr_…``): that run's predictions."""

    model: str
    label: str
    score: bool = False
    pos: Position | None = field(default=None, compare=False, repr=False)


EvalMetric = Literal["tp", "fp", "fn", "disagreement"]
EVAL_METRICS: tuple[EvalMetric, ...] = ("tp", "fp", "fn", "disagreement")


@dataclass(frozen=True)
class Evaluated:
    """``eval.<run>.<metric>``: the file's result in the last evaluation of a run (``pr_…``, or a model's latest
    finished run): its true positives, false positives, false negatives or disagreement. A file the evaluation
    does not hold has no value (only ``!=`` and ``not in`` match it)."""

    run: str
    metric: EvalMetric
    pos: Position | None = field(default=None, compare=False, repr=False)


Field: TypeAlias = LabelCount | FrameCount | AttributeValues | FileField | Metadata | DatasetRef | Predicted | Evaluated


@dataclass(frozen=True)
class Compare:
    """``field <op> value`` (the parser puts the field on the left whatever the text's order)."""

    field: Field
    op: CompareOp
    value: Value


@dataclass(frozen=True)
class InList:
    """``field in [values]`` (``negated``: ``not in``)."""

    field: Field
    values: tuple[Value, ...]
    negated: bool = False


@dataclass(frozen=True)
class And:
    operands: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    operands: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    operand: Node


Node: TypeAlias = Compare | InList | And | Or | Not

_BARE_NAME = re.compile(r"[^\W\d][\w\-]*")


def format_name(name: str) -> str:
    """A name as the grammar reads it back: bare when it can be, else double-quoted."""
    if _BARE_NAME.fullmatch(name) and name.lower() not in KEYWORDS:
        return name
    return format_string(name)


def format_string(text: str) -> str:
    out = ['"']
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif ord(ch) < 0x20 or 0xD800 <= ord(ch) <= 0xDFFF or ch in "\u2028\u2029\x7f":
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def format_datetime(value: datetime) -> str:
    """ISO 8601 in UTC with a ``Z``; microseconds only when there are any."""
    utc = value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value
    return utc.isoformat() + "Z"


def format_value(value: Value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{value} has no literal in the query language")
        return repr(value)
    if isinstance(value, datetime):
        return format_datetime(value)
    if isinstance(value, date):
        return value.isoformat()
    return format_string(value)


def format_field(f: Field) -> str:
    if isinstance(f, LabelCount):
        return f"labels.{format_name(f.name)}"
    if isinstance(f, FrameCount):
        return f"frames.{format_name(f.name)}"
    if isinstance(f, AttributeValues):
        return f"attributes.{format_name(f.group)}"
    if isinstance(f, FileField):
        return f"file.{f.name}"
    if isinstance(f, Metadata):
        return "file.metadata." + ".".join(format_name(key) for key in f.path)
    if isinstance(f, Predicted):
        return f"predictions.{format_name(f.model)}.{format_name(f.label)}" + (".score" if f.score else "")
    if isinstance(f, Evaluated):
        return f"eval.{format_name(f.run)}.{f.metric}"
    return f"dataset.{f.by}"


def format_query(node: Node) -> str:
    """Render a query as text that ``parse_query`` reads back as an equal AST."""
    if isinstance(node, Compare):
        return f"{format_field(node.field)} {node.op} {format_value(node.value)}"
    if isinstance(node, InList):
        keyword = "not in" if node.negated else "in"
        return f"{format_field(node.field)} {keyword} [{', '.join(format_value(v) for v in node.values)}]"
    if isinstance(node, Not):
        inner = format_query(node.operand)
        return f"not ({inner})" if isinstance(node.operand, And | Or) else f"not {inner}"
    joiner = " and " if isinstance(node, And) else " or "
    return joiner.join(
        f"({format_query(op)})" if isinstance(op, And | Or) else format_query(op) for op in node.operands
    )


def evaluation_refs(node: Node | None) -> set[str]:
    """The runs (or models) a query's ``eval.<ref>`` fields name."""
    if node is None:
        return set()
    return {
        part.field.run
        for part in walk(node)
        if isinstance(part, Compare | InList) and isinstance(part.field, Evaluated)
    }


def walk(node: Node) -> Iterator[Node]:
    """Every node of the tree, parents before children."""
    yield node
    if isinstance(node, And | Or):
        for operand in node.operands:
            yield from walk(operand)
    elif isinstance(node, Not):
        yield from walk(node.operand)
