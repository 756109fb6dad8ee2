"""The slice query language: parsing to the typed AST, syntax/type/name errors, and ``check_query``."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from annolake_service.domain.query import (
    And,
    AttributeValues,
    Compare,
    DatasetRef,
    FileField,
    InList,
    LabelCount,
    Metadata,
    Not,
    Or,
    QueryError,
    QueryNameError,
    QuerySyntaxError,
    QueryTypeError,
    check_query,
    format_query,
    parse_query,
)
from annolake_service.shared.errors import BadRequest
from hypothesis import given, settings
from hypothesis import strategies as st

CAR = LabelCount("car")


def lc(name: str, op: str, n: float) -> Compare:
    return Compare(LabelCount(name), op, n)  # type: ignore[arg-type]


# --- the language -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        # the documented examples (docs/query.md) and Diffgram's own
        ('labels."traffic light" >= 1', lc("traffic light", ">=", 1)),
        ("labels.apple > 3 and labels.orange < 2", And((lc("apple", ">", 3), lc("orange", "<", 2)))),
        ('attributes.colour = "red"', Compare(AttributeValues("colour"), "=", "red")),
        ('attributes."time of day" = "night"', Compare(AttributeValues("time of day"), "=", "night")),
        ('file.name = "cat.jpg"', Compare(FileField("name"), "=", "cat.jpg")),
        ('file.type = "image"', Compare(FileField("type"), "=", "image")),
        ("file.width >= 1024", Compare(FileField("width"), ">=", 1024)),
        ("file.height < 480.5", Compare(FileField("height"), "<", 480.5)),
        ("file.created >= 2026-01-31", Compare(FileField("created"), ">=", date(2026, 1, 31))),
        ('file.status = "ready"', Compare(FileField("status"), "=", "ready")),
        ('file.metadata.camera.model = "X100"', Compare(Metadata(("camera", "model")), "=", "X100")),
        ('file.metadata."lens.id" = 3', Compare(Metadata(("lens.id",)), "=", 3)),
        ('dataset.name = "train"', Compare(DatasetRef("name"), "=", "train")),
        ('dataset.name in ["a", "b"]', InList(DatasetRef("name"), ("a", "b"))),
        ('dataset.id != "ds-1"', Compare(DatasetRef("id"), "!=", "ds-1")),
        ("labels.car in [1, 2, 3]", InList(CAR, (1, 2, 3))),
        ("labels.car not in [0]", InList(CAR, (0,), negated=True)),
        ("labels.car in [1, 2,]", InList(CAR, (1, 2))),
        ("not labels.car >= 1", Not(lc("car", ">=", 1))),
        ("labels.car = 0", lc("car", "=", 0)),
        ("labels.car == 0", lc("car", "=", 0)),
    ],
)
def test_examples_parse_to_the_typed_ast(text, expected):
    assert parse_query(text) == expected


@pytest.mark.parametrize("op", ["=", "!=", "<", "<=", ">", ">="])
def test_every_operator(op):
    assert parse_query(f"labels.car {op} 2") == lc("car", op, 2)


@pytest.mark.parametrize(
    "reversed_text, op",
    [("3 < labels.car", ">"), ("3 <= labels.car", ">="), ("3 > labels.car", "<"), ("3 >= labels.car", "<=")]
    + [("3 = labels.car", "="), ("3 == labels.car", "="), ("3 != labels.car", "!=")],
)
def test_the_field_may_stand_on_either_side(reversed_text, op):
    assert parse_query(reversed_text) == lc("car", op, 3)


def test_value_first_works_for_every_kind_of_field():
    assert parse_query('"red" = attributes.colour') == Compare(AttributeValues("colour"), "=", "red")
    assert parse_query("2026-01-31 < file.created") == Compare(FileField("created"), ">", date(2026, 1, 31))
    assert parse_query("true = file.metadata.ok") == Compare(Metadata(("ok",)), "=", True)


def test_precedence_is_not_then_and_then_or():
    a, b, c = lc("a", ">", 1), lc("b", ">", 1), lc("c", ">", 1)
    assert parse_query("labels.a > 1 or labels.b > 1 and not labels.c > 1") == Or((a, And((b, Not(c)))))
    assert parse_query("not labels.a > 1 and labels.b > 1") == And((Not(a), b))
    assert parse_query("(labels.a > 1 or labels.b > 1) and labels.c > 1") == And((Or((a, b)), c))
    assert parse_query("not (labels.a > 1 or labels.b > 1)") == Not(Or((a, b)))
    assert parse_query("labels.a > 1 and labels.b > 1 and labels.c > 1") == And((a, b, c))
    assert parse_query("not not labels.a > 1") == Not(Not(a))
    assert parse_query("((labels.a > 1))") == a


def test_keywords_are_case_insensitive_whole_words():
    a, b = lc("a", ">", 1), lc("notes", ">", 1)
    assert parse_query("labels.a > 1 AND NOT labels.notes > 1") == And((a, Not(b)))
    assert parse_query("labels.a > 1 Or labels.notes > 1") == Or((a, b))
    assert parse_query("labels.car NOT IN [1]") == InList(CAR, (1,), negated=True)


@pytest.mark.parametrize(
    "text, name",
    [
        ('labels."traffic light" > 0', "traffic light"),
        ("labels.'traffic light' > 0", "traffic light"),
        (r'labels."say \"hi\"" > 0', 'say "hi"'),
        (r"labels.'it\'s' > 0", "it's"),
        (r'labels."tab\there\u00e9" > 0', "tab\there\u00e9"),
        ('labels."a.b" > 0', "a.b"),
        ("labels.and > 0", "and"),
        ("labels.in > 0", "in"),
        ("labels.traffic-light > 0", "traffic-light"),
        ("labels.straße > 0", "straße"),
        ("labels._x1 > 0", "_x1"),
    ],
)
def test_names_bare_quoted_and_keyword_like(text, name):
    assert parse_query(text) == lc(name, ">", 0)


@pytest.mark.parametrize(
    "literal, value",
    [
        ("-1", -1),
        ("0", 0),
        ("2.5", 2.5),
        ("-0.25", -0.25),
        ("1e3", 1000.0),
        (".5", 0.5),
        ("1E-2", 0.01),
    ],
)
def test_numbers(literal, value):
    parsed = parse_query(f"file.width > {literal}")
    assert parsed == Compare(FileField("width"), ">", value)
    assert type(parsed.value) is type(value)


@pytest.mark.parametrize(
    "literal, value",
    [
        ("2026-01-31", date(2026, 1, 31)),
        ("2026-01-31T12:00:00Z", datetime(2026, 1, 31, 12, tzinfo=UTC)),
        ("2026-01-31T12:00", datetime(2026, 1, 31, 12, tzinfo=UTC)),
        ("2026-01-31T12:00:00.5Z", datetime(2026, 1, 31, 12, 0, 0, 500_000, tzinfo=UTC)),
        ("2026-01-31T01:30:00+02:00", datetime(2026, 1, 30, 23, 30, tzinfo=UTC)),
        ("2026-01-31T01:30:00-0130", datetime(2026, 1, 31, 3, 0, tzinfo=UTC)),
        ('"2026-01-31"', date(2026, 1, 31)),
        ("'2026-01-31T12:00:00Z'", datetime(2026, 1, 31, 12, tzinfo=UTC)),
    ],
)
def test_dates_and_datetimes(literal, value):
    assert parse_query(f"file.created < {literal}") == Compare(FileField("created"), "<", value)


def test_booleans_and_lists_of_mixed_values():
    assert parse_query("attributes.flag = true") == Compare(AttributeValues("flag"), "=", True)
    assert parse_query("attributes.flag != FALSE") == Compare(AttributeValues("flag"), "!=", False)
    assert parse_query('attributes.x in ["a", 2, true, 2026-01-31]') == InList(
        AttributeValues("x"), ("a", 2, True, date(2026, 1, 31))
    )


def test_whitespace_and_newlines_are_free():
    assert parse_query("\n  labels.car>=1\n\tand\nlabels.bus<2 ") == And((lc("car", ">=", 1), lc("bus", "<", 2)))


@pytest.mark.parametrize(
    "text",
    [
        'labels."traffic light" >= 1 and not (attributes.colour in ["red", "Blue"] or file.width < 100)',
        'file.metadata.camera."lens id" != "x\\"y" or dataset.id not in ["a", "b"]',
        "file.created = 2026-01-31T12:00:00.250000Z and file.created != 2026-02-01",
        'not not labels.car = 0 and (labels.a > 1 and labels.b > -2.5) or file.status = "ready"',
        'attributes.score >= 1e-05 and labels."and" < 3 and labels."2wheel" = 1',
    ],
)
def test_format_query_round_trips(text):
    node = parse_query(text)
    assert parse_query(format_query(node)) == node


@settings(max_examples=200, deadline=None)
@given(
    name=st.text(min_size=1, max_size=12),
    path=st.lists(st.text(min_size=1, max_size=6), min_size=1, max_size=3),
    text=st.text(max_size=12),
    number=st.one_of(st.integers(), st.floats(allow_nan=False, allow_infinity=False)),
)
def test_any_name_string_and_number_round_trips(name, path, text, number):
    node = And(
        (
            Compare(LabelCount(name), ">=", number),
            InList(AttributeValues(name), (text, number, True), negated=True),
            Compare(Metadata(tuple(path)), "!=", text),
        )
    )
    parsed = parse_query(format_query(node))
    assert parsed == node
    assert repr(parsed) == repr(node)  # same types too: 1 stays an int, 1.0 a float


# --- syntax errors ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, line, column, message",
    [
        (
            "labels.car > abc",
            1,
            14,
            "syntax error at line 1, column 14: expected a number, a string, a date such as 2026-01-31 or true/false "
            "after '>', found 'abc'",
        ),
        (
            "labels.car >",
            1,
            13,
            "expected a number, a string, a date such as 2026-01-31 or true/false after '>', but the query ends there",
        ),
        (
            "labels.car 3",
            1,
            12,
            "expected '.', a comparison operator (=, !=, <, <=, >, >=), 'in' or 'not in' after 'car', found '3'",
        ),
        ("(labels.car > 1", 1, 16, "expected ')' after '1', but the query ends there"),
        ("labels. > 1", 1, 9, "expected a name or a quoted name after '.', found '>'"),
        ("labels > 1", 1, 8, "expected '.' after 'labels', found '>'"),
        ("labels.car > 1 labels.bus > 2", 1, 16, "expected 'and', 'or' or the end of the query after '1'"),
        ("labels.car in []", 1, 16, "after '[', found ']'"),
        ("labels.car in [1 2]", 1, 18, "expected ',' or ']' after '1', found '2'"),
        ('labels.car > "abc', 1, 14, "found '\"abc' (is a closing quote missing?)"),
        ("labels.car >= 1 && labels.bus = 0", 1, 17, "found '&&' (write 'and' / 'or')"),
        ("labels.car > 1 and\n  labels.bus @ 2", 2, 14, "at line 2, column 14"),
        ("labels.car > 1 and", 1, 19, "after 'and', but the query ends there"),
        ("labels.car = labels.bus", 1, 14, "after '=', found 'labels'"),
        ("= 1", 1, 1, "at the start, found '='"),
    ],
)
def test_syntax_errors_say_where_and_what_was_expected(text, line, column, message):
    with pytest.raises(QuerySyntaxError) as caught:
        parse_query(text)
    error = caught.value
    assert (error.line, error.column) == (line, column)
    assert message in error.message
    assert error.details["line"] == line and error.details["column"] == column


def test_syntax_error_carries_the_token_and_expected_words():
    with pytest.raises(QuerySyntaxError) as caught:
        parse_query("labels.car > abc")
    assert caught.value.token == "abc"
    assert caught.value.expected == ("a number", "a string", "a date such as 2026-01-31", "true/false")


def test_a_query_error_is_a_400_with_details():
    with pytest.raises(BadRequest) as caught:
        parse_query("labels.car >")
    body = caught.value.to_body()["error"]
    assert caught.value.status_code == 400
    assert body["code"] == "invalid_query"
    assert body["details"]["column"] == 13 and body["details"]["token"] is None


@pytest.mark.parametrize("text", ["", "   ", "\n"])
def test_an_empty_query_is_an_error(text):
    with pytest.raises(QuerySyntaxError, match="the query is empty"):
        parse_query(text)


def test_limits_on_length_and_depth():
    with pytest.raises(QueryError, match="characters long"):
        parse_query("labels.car > 1 or " * 1000 + "labels.car > 1")
    with pytest.raises(QueryError, match="levels deep"):
        parse_query("not " * 100 + "labels.car > 1")
    assert parse_query("(" * 200 + "labels.car > 1" + ")" * 200) == lc("car", ">", 1)


# --- type errors --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, message",
    [
        ('labels.car > "x"', 'labels.car is a count of instances, so compare it with a number, not the string "x"'),
        ("labels.car = true", "not the boolean true"),
        ("labels.car < 2026-01-01", "not the date 2026-01-01"),
        ('labels.car in [1, "a"]', 'not the string "a"'),
        ('file.width = "abc"', 'file.width is a number of pixels, so compare it with a number, not the string "abc"'),
        ('file.height in ["1"]', "file.height is a number of pixels"),
        ("file.name = 3", "file.name is text, so compare it with a quoted string, not the number 3"),
        ("file.created > 5", "file.created is a date-time: compare it with a date (2026-01-31)"),
        ('file.created < "yesterday"', "'yesterday' is neither"),
        ("file.created > 2026-02-30", "2026-02-30 is not a valid date"),
        ("file.created > 2026-01-31T25:00Z", "is not a valid date-time"),
        (
            'file.status = "redy"',
            "file.status is one of 'processing', 'quarantined', 'ready', not 'redy'; did you mean",
        ),
        ('file.status < "ready"', "'<' does not apply to file.status"),
        ('dataset.name > "a"', "'>' does not apply to dataset.name; use =, !=, in or not in"),
        ("dataset.name = 2022", "dataset.name is text, so compare it with a quoted string, not the number 2022"),
        ("attributes.flag < true", "'<' does not apply to the boolean true; use = or !="),
        ("attributes.when = 2026-01-31T10:00Z", "attribute values hold dates (2026-01-31), not date-times"),
        ("file.metadata.ok >= false", "'>=' does not apply to the boolean false"),
        ("labels.car > 1e999", "the number 1e999 is too large"),
        (r'labels."a\q" > 1', "unknown escape '\\q'"),
        ('labels."" > 1', "a name cannot be empty"),
        ("labels.a.b > 1", 'quote a name that contains dots, e.g. labels."a.b"'),
        ("file.metadata = 1", "file.metadata needs a key"),
    ],
)
def test_type_errors_are_clear(text, message):
    with pytest.raises(QueryTypeError) as caught:
        parse_query(text)
    assert message in caught.value.message
    assert caught.value.line == 1 and caught.value.column is not None


def test_type_error_points_at_the_value():
    with pytest.raises(QueryTypeError) as caught:
        parse_query('labels.car >= 1 and labels.bus in [1, "x"]')
    assert (caught.value.line, caught.value.column) == (1, 39)


# --- names --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, message, suggestion",
    [
        (
            "file.colour = 1",
            "unknown field file.colour: the fields of a file are name, type, width, height, created",
            None,
        ),
        ("file.widht > 1", "unknown field file.widht", "width"),
        ("file.created.day = 1", "unknown field file.created.day", "created"),
        ('dataset.nme = "x"', "unknown field dataset.nme: use dataset.name or dataset.id", "name"),
        (
            "label.car > 1",
            "unknown field 'label': a field starts with labels., frames., attributes., file., dataset., predictions. "
            "or eval.",
            "labels",
        ),
        ('atributes.x = "y"', "unknown field 'atributes'", "attributes"),
    ],
)
def test_unknown_fields_name_the_valid_ones(text, message, suggestion):
    with pytest.raises(QueryNameError) as caught:
        parse_query(text)
    assert message in caught.value.message
    assert caught.value.suggestion == suggestion
    if suggestion:
        assert f"did you mean {suggestion!r}?" in caught.value.message


LABELS = {"car", "bus", "traffic light"}
GROUPS = {"colour", "time of day"}


def test_check_query_accepts_known_names():
    check_query(
        parse_query('labels.car > 1 and labels."traffic light" = 0 or attributes."time of day" = "night"'),
        label_names=LABELS,
        attribute_groups=GROUPS,
    )
    check_query(parse_query("file.width > 1 and dataset.name = 'x'"), label_names=set(), attribute_groups=set())


@pytest.mark.parametrize(
    "text, message, column",
    [
        ("labels.cra > 1", "unknown label 'cra' at line 1, column 8; did you mean 'car'?", 8),
        ('labels.car > 1 and not attributes.colur = "red"', "unknown attribute group 'colur'", 35),
        ("labels.Car > 1", "did you mean 'car'?", 8),
        ('labels."trafic light" >= 1', "did you mean 'traffic light'?", 8),
        ('attributes."time of dya" in ["day"]', "did you mean 'time of day'?", 12),
    ],
)
def test_check_query_did_you_mean(text, message, column):
    with pytest.raises(QueryNameError) as caught:
        check_query(parse_query(text), label_names=LABELS, attribute_groups=GROUPS)
    assert message in caught.value.message
    assert (caught.value.line, caught.value.column) == (1, column)
    assert caught.value.suggestion is not None


def test_check_query_without_a_close_name():
    with pytest.raises(QueryNameError) as caught:
        check_query(parse_query("labels.zebra > 1"), label_names=LABELS, attribute_groups=GROUPS)
    assert caught.value.message == "unknown label 'zebra' at line 1, column 8"
    assert caught.value.suggestion is None
    with pytest.raises(QueryNameError, match="the project has no labels yet"):
        check_query(parse_query("labels.car > 1"), label_names=set(), attribute_groups=set())


def test_check_query_reports_the_first_unknown_in_text_order():
    with pytest.raises(QueryNameError, match="'bike'"):
        check_query(parse_query("labels.bike > 1 or labels.truck > 1"), label_names=LABELS, attribute_groups=GROUPS)


def test_positions_do_not_take_part_in_equality():
    assert parse_query("labels.car > 1") == parse_query("   labels.car   >   1")
    assert parse_query("labels.car > 1").field.pos is not None  # type: ignore[union-attr]
