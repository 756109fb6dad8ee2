"""``parse_query``: query text to a typed, type-checked AST, or an error a person can act on."""

from __future__ import annotations

import contextlib
import difflib
import math
import re
from datetime import UTC, date, datetime, timedelta, timezone
from functools import cache
from typing import Any, NoReturn, cast

from lark import Lark, Token, Transformer, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken, VisitError

from annolake_service.domain.query.errors import QueryError, QueryNameError, QuerySyntaxError, QueryTypeError
from annolake_service.domain.query.grammar import GRAMMAR
from annolake_service.domain.query.nodes import (
    EVAL_METRICS,
    FILE_FIELDS,
    FILE_STATUSES,
    ORDERING_OPS,
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
    Position,
    Predicted,
    Value,
    format_field,
    format_value,
)

MAX_QUERY_LENGTH = 10_000
MAX_DEPTH = 64
ROOTS = ("labels", "frames", "attributes", "file", "dataset", "predictions", "eval")
_FLIPPED: dict[str, CompareOp] = {"=": "=", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}
_DATETIME = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?(?:([Zz])|([+-])(\d{2}):?(\d{2}))?"
)
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_ESCAPE = re.compile(r"\\(u[0-9a-fA-F]{4}|.)", re.DOTALL)
_SIMPLE_ESCAPES = {'"': '"', "'": "'", "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}

# How each terminal reads in "expected ..." (in this order).
_TERMINAL_WORDS: dict[str, str] = {
    "NAME": "a field such as labels.<name>, attributes.<group>, file.<field> or dataset.name",
    "_DOT": "'.'",
    "COMP_OP": "a comparison operator (=, !=, <, <=, >, >=)",
    "_IN": "'in'",
    "_NOT": "'not'",
    "NUMBER": "a number",
    "STRING": "a string",
    "DATE": "a date such as 2026-01-31",
    "DATETIME": "a date such as 2026-01-31",
    "TRUE": "true/false",
    "FALSE": "true/false",
    "_LPAR": "'('",
    "_LSQB": "'['",
    "_COMMA": "','",
    "_RPAR": "')'",
    "_RSQB": "']'",
    "_AND": "'and'",
    "_OR": "'or'",
    "$END": "the end of the query",
}


@cache
def _lark() -> Lark:
    return Lark(GRAMMAR, parser="lalr", lexer="contextual")


def parse_query(text: str) -> Node:
    """Parse and type-check a query; raises ``QuerySyntaxError``, ``QueryTypeError`` or ``QueryNameError``.

    Names of labels and attribute groups are not checked here (see ``check_query``); the names of
    ``file.<field>`` and ``dataset.<key>`` are.
    """
    if len(text) > MAX_QUERY_LENGTH:
        raise QueryError(f"the query is {len(text)} characters long; the most is {MAX_QUERY_LENGTH}")
    if not text.strip():
        raise QuerySyntaxError(
            "the query is empty: write a condition such as labels.car >= 1",
            line=1,
            column=1,
            token=None,
            expected=("a condition",),
        )
    try:
        tree = _lark().parse(text)
    except UnexpectedInput as e:
        raise _syntax_error(text, e) from None
    _check_depth(tree)
    try:
        return cast(Node, _ToAst().transform(tree))
    except VisitError as e:
        if isinstance(e.orig_exc, QueryError):
            raise e.orig_exc from None
        raise


def _check_depth(tree: Tree) -> None:
    stack: list[tuple[Tree | Token, int]] = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise QueryError(f"the query nests more than {MAX_DEPTH} levels deep")
        if isinstance(node, Tree):
            stack.extend((child, depth + 1) for child in node.children)


# --- syntax errors ------------------------------------------------------------------------------------------------


def _line_column(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


def _previous_token(text: str, offset: int) -> Token | None:
    try:
        tokens = list(_lark().lex(text[:offset]))
    except UnexpectedInput:
        return None
    return tokens[-1] if tokens else None


def _join_words(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


def _expected_words(expected: set[str], previous: Token | None) -> list[str]:
    words: list[str] = []
    after_dot = previous is not None and previous.type == "_DOT"
    after_field = previous is not None and previous.type in ("NAME", "STRING") and not after_dot
    for terminal, word in _TERMINAL_WORDS.items():
        if terminal not in expected:
            continue
        if after_dot and terminal == "NAME":
            word = "a name"
        elif after_dot and terminal == "STRING":
            word = "a quoted name"
        elif after_field and terminal == "_NOT" and "COMP_OP" in expected:
            word = "'not in'"
        if word not in words:
            words.append(word)
    return words


def _hint(found: str) -> str:
    if found.startswith(("&", "|")):
        return " (write 'and' / 'or')"
    if found.startswith("!") and not found.startswith("!="):
        return " (write 'not')"
    if found.startswith(('"', "'")):
        return " (is a closing quote missing?)"
    return ""


def _syntax_error(text: str, e: UnexpectedInput) -> QuerySyntaxError:
    expected: set[str]
    if isinstance(e, UnexpectedToken):
        offset = e.token.start_pos if e.token.type != "$END" else len(text.rstrip())
        found_text: str | None = None if e.token.type == "$END" else str(e.token)
        expected = set(e.expected)
    elif isinstance(e, UnexpectedCharacters):
        # lark declares pos_in_stream as None on the base class; UnexpectedCharacters sets the lexer position.
        offset = cast(int, e.pos_in_stream)
        found_text = text[offset:].split(None, 1)[0][:20] if text[offset:].strip() else text[offset]
        expected = set(e.allowed or ())
    else:
        offset = len(text.rstrip())
        found_text = None
        expected = set(cast(UnexpectedEOF, e).expected or ())
    parser = getattr(e, "interactive_parser", None)
    if parser is not None:
        with contextlib.suppress(UnexpectedInput):
            expected = set(parser.accepts()) or expected
    previous = _previous_token(text, offset)
    words = _expected_words(expected, previous)
    line, column = _line_column(text, offset)
    after = f" after {str(previous)!r}" if previous is not None else " at the start"
    found = f"found {found_text!r}{_hint(found_text)}" if found_text is not None else "but the query ends there"
    wanted = f"expected {_join_words(words)}" if words else "unexpected input"
    message = f"syntax error at line {line}, column {column}: {wanted}{after}, {found}"
    return QuerySyntaxError(message, line=line, column=column, token=found_text, expected=tuple(words))


# --- literals -----------------------------------------------------------------------------------------------------


def _pos(token: Token) -> Position:
    return Position(token.line or 1, token.column or 1)


def _type_error(message: str, token: Token) -> NoReturn:
    pos = _pos(token)
    raise QueryTypeError(f"{message} (at {pos})", line=pos.line, column=pos.column)


def _unescape(token: Token) -> str:
    body = str(token)[1:-1]

    def replace(match: re.Match[str]) -> str:
        escape = match.group(1)
        if escape.startswith("u") and len(escape) == 5:
            return chr(int(escape[1:], 16))
        if escape in _SIMPLE_ESCAPES:
            return _SIMPLE_ESCAPES[escape]
        _type_error(f"unknown escape '\\{escape}' in the string {token}", token)

    return _ESCAPE.sub(replace, body)


def parse_datetime(text: str) -> datetime:
    """An ISO 8601 date-time as an aware UTC ``datetime`` (no offset means UTC); ``ValueError`` if invalid."""
    match = _DATETIME.fullmatch(text)
    if match is None:
        raise ValueError(f"{text!r} is not a date-time")
    year, month, day, hour, minute, second, fraction, zulu, sign, tz_h, tz_m = match.groups()
    micros = int((fraction or "0")[:6].ljust(6, "0"))
    tz = UTC
    if sign:
        offset = timedelta(hours=int(tz_h), minutes=int(tz_m))
        tz = timezone(offset if sign == "+" else -offset)
    value = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second or 0), micros, tzinfo=tz)
    return value.astimezone(UTC)


def _literal(token: Token) -> Value:
    kind, raw = token.type, str(token)
    if kind == "NUMBER":
        if re.fullmatch(r"-?\d+", raw):
            return int(raw)
        number = float(raw)
        if not math.isfinite(number):
            _type_error(f"the number {raw} is too large", token)
        return number
    if kind == "STRING":
        return _unescape(token)
    if kind in ("TRUE", "FALSE"):
        return kind == "TRUE"
    try:
        return date.fromisoformat(raw) if kind == "DATE" else parse_datetime(raw)
    except (ValueError, OverflowError):
        _type_error(f"{raw} is not a valid {'date' if kind == 'DATE' else 'date-time'}", token)


def _describe(value: Value) -> str:
    if isinstance(value, bool):
        return f"the boolean {format_value(value)}"
    if isinstance(value, int | float):
        return f"the number {format_value(value)}"
    if isinstance(value, datetime):
        return f"the date-time {format_value(value)}"
    if isinstance(value, date):
        return f"the date {format_value(value)}"
    return f"the string {format_value(value)}"


def _is_number(value: Value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _coerce(field: Field, op: CompareOp, value: Value, token: Token) -> Value:
    """The value a comparison of ``field`` uses, or a ``QueryTypeError`` if the two do not go together."""
    name = format_field(field)
    if isinstance(field, LabelCount):
        if not _is_number(value):
            _type_error(f"{name} is a count of instances, so compare it with a number, not {_describe(value)}", token)
        return value
    if isinstance(field, FrameCount):
        if not _is_number(value):
            _type_error(
                f"{name} is a count of video frames, so compare it with a number, not {_describe(value)}", token
            )
        return value
    if isinstance(field, Predicted):
        if not _is_number(value):
            what = "a score between 0 and 1" if field.score else "a count of predicted instances"
            _type_error(f"{name} is {what}, so compare it with a number, not {_describe(value)}", token)
        return value
    if isinstance(field, Evaluated):
        if not _is_number(value):
            what = "a disagreement between 0 and 1" if field.metric == "disagreement" else "a count of boxes"
            _type_error(f"{name} is {what}, so compare it with a number, not {_describe(value)}", token)
        return value
    if isinstance(field, AttributeValues | Metadata):
        if isinstance(value, datetime) and isinstance(field, AttributeValues):
            _type_error(f"attribute values hold dates (2026-01-31), not date-times; got {_describe(value)}", token)
        if isinstance(value, bool) and op in ORDERING_OPS:
            _type_error(f"'{op}' does not apply to {_describe(value)}; use = or !=", token)
        return value
    if isinstance(field, DatasetRef):
        if op in ORDERING_OPS:
            _type_error(f"'{op}' does not apply to {name}; use =, !=, in or not in", token)
        if not isinstance(value, str):
            _type_error(f"{name} is text, so compare it with a quoted string, not {_describe(value)}", token)
        return value
    return _coerce_file_field(field, name, op, value, token)


def _coerce_file_field(field: FileField, name: str, op: CompareOp, value: Value, token: Token) -> Value:
    if field.name in ("width", "height"):
        if not _is_number(value):
            _type_error(f"{name} is a number of pixels, so compare it with a number, not {_describe(value)}", token)
        return value
    if field.name == "created":
        if isinstance(value, str):
            try:
                value = date.fromisoformat(value) if _DATE.fullmatch(value) else parse_datetime(value)
            except (ValueError, OverflowError):
                _type_error(f"{name} compares with a date (2026-01-31) or a date-time; {value!r} is neither", token)
        if not isinstance(value, date):
            _type_error(
                f"{name} is a date-time: compare it with a date (2026-01-31) or a date-time "
                f"(2026-01-31T12:00:00Z), not {_describe(value)}",
                token,
            )
        return value
    if not isinstance(value, str):
        _type_error(f"{name} is text, so compare it with a quoted string, not {_describe(value)}", token)
    if field.name == "status":
        if op in ORDERING_OPS:
            _type_error(f"'{op}' does not apply to {name}; use =, !=, in or not in", token)
        if value not in FILE_STATUSES:
            hint = difflib.get_close_matches(value, FILE_STATUSES, n=1)
            suggestion = f"; did you mean {hint[0]!r}?" if hint else ""
            _type_error(f"{name} is one of {', '.join(map(repr, FILE_STATUSES))}, not {value!r}{suggestion}", token)
    return value


# --- fields -------------------------------------------------------------------------------------------------------


def _name_error(message: str, name: str, kind: str, candidates: tuple[str, ...], token: Token) -> NoReturn:
    pos = _pos(token)
    hint = difflib.get_close_matches(name, candidates, n=1)
    suggestion = hint[0] if hint else None
    tail = f"; did you mean {suggestion!r}?" if suggestion else ""
    raise QueryNameError(
        f"{message}{tail} (at {pos})", name=name, kind=kind, suggestion=suggestion, line=pos.line, column=pos.column
    )


def _segment(token: Token) -> str:
    name = _unescape(token) if token.type == "STRING" else str(token)
    if not name:
        _type_error("a name cannot be empty", token)
    return name


def _field(root_token: Token, segment_tokens: list[Token]) -> Field:
    root, pos = str(root_token), _pos(root_token)
    names = [_segment(t) for t in segment_tokens]
    if root not in ROOTS:
        _name_error(
            f"unknown field {root!r}: a field starts with labels., frames., attributes., file., dataset., "
            "predictions. or eval.",
            root,
            "field",
            ROOTS,
            root_token,
        )
    if root == "predictions":
        if len(names) not in (2, 3) or (len(names) == 3 and names[2] != "score"):
            _type_error(
                "a predictions field is predictions.<model>.<label> (a count) or predictions.<model>.<label>.score "
                f"(the file's lowest score for the label), not predictions.{'.'.join(names)}",
                root_token,
            )
        return Predicted(names[0], names[1], len(names) == 3, _pos(segment_tokens[1]))
    if root == "eval":
        if len(names) != 2 or names[1] not in EVAL_METRICS:
            _type_error(
                f"an eval field is eval.<run>.<metric>, the metric one of {', '.join(EVAL_METRICS)}, "
                f"not eval.{'.'.join(names)}",
                root_token,
            )
        return Evaluated(names[0], cast(Any, names[1]), _pos(segment_tokens[0]))
    if root in ("labels", "frames", "attributes"):
        if len(names) > 1:
            _type_error(
                f"{root}.{'.'.join(names)} has too many parts; quote a name that contains dots, "
                f'e.g. {root}."{".".join(names)}"',
                root_token,
            )
        name_pos = _pos(segment_tokens[0])
        if root == "frames":
            return FrameCount(names[0], name_pos)
        return LabelCount(names[0], name_pos) if root == "labels" else AttributeValues(names[0], name_pos)
    if root == "dataset":
        if names not in (["name"], ["id"]):
            _name_error(
                f"unknown field dataset.{'.'.join(names)}: use dataset.name or dataset.id",
                ".".join(names),
                "dataset field",
                ("name", "id"),
                segment_tokens[0],
            )
        return DatasetRef(cast(Any, names[0]), pos)
    if names[0] == "metadata":
        if len(names) == 1:
            _type_error("file.metadata needs a key, e.g. file.metadata.camera", root_token)
        return Metadata(tuple(names[1:]), pos)
    if names[0] in FILE_FIELDS and len(names) == 1:
        return FileField(names[0], pos)
    valid = (*FILE_FIELDS, "metadata")
    _name_error(
        f"unknown field file.{'.'.join(names)}: the fields of a file are {', '.join(FILE_FIELDS)} and metadata.<key>",
        ".".join(names),
        "file field",
        valid,
        segment_tokens[0],
    )


class _ToAst(Transformer):
    """Parse tree to AST. Values stay tokens until the comparison, which knows what they must be."""

    def or_expr(self, children: list[Node]) -> Or:
        return Or(tuple(children))

    def and_expr(self, children: list[Node]) -> And:
        return And(tuple(children))

    def negation(self, children: list[Node]) -> Not:
        return Not(children[0])

    def field(self, children: list[Token]) -> tuple[Field, Token]:
        return _field(children[0], children[1:]), children[0]

    def value_list(self, children: list[Token]) -> list[Token]:
        return children

    def compare(self, children: list[Any]) -> Compare:
        (field, _), op_token, value_token = children
        op = cast(CompareOp, "=" if str(op_token) == "==" else str(op_token))
        return Compare(field, op, _coerce(field, op, _literal(value_token), value_token))

    def compare_reversed(self, children: list[Any]) -> Compare:
        value_token, op_token, field_and_token = children
        op = cast(CompareOp, "=" if str(op_token) == "==" else str(op_token))
        return self.compare([field_and_token, Token("COMP_OP", _FLIPPED[op]), value_token])

    def in_list(self, children: list[Any], negated: bool = False) -> InList:
        (field, _), tokens = children
        values = tuple(_coerce(field, "=", _literal(t), t) for t in tokens)
        return InList(field, values, negated)

    def not_in_list(self, children: list[Any]) -> InList:
        return self.in_list(children, negated=True)
