"""What ``plan`` pushes down to DynamoDB and what it leaves to Python (the shapes; semantics are checked on moto)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from annolake_service.domain.query import And, FileView, InList, parse_query, plan
from annolake_service.domain.query.pushdown import MAX_EXPRESSION_LENGTH, created_at_string, dynamo_number


def pushed(text: str) -> tuple[str, dict[str, str], dict[str, dict[str, str]]]:
    query_plan = plan(parse_query(text))
    assert query_plan.filter is not None and query_plan.residual is None
    return query_plan.filter.expression, query_plan.filter.names, query_plan.filter.values


def test_label_comparisons_honour_missing_as_zero():
    assert pushed("labels.car > 0") == (
        "#n0.#n1 > :v0",
        {"#n0": "label_counts", "#n1": "car"},
        {":v0": {"N": "0"}},
    )
    expression, _, values = pushed("labels.car < 2")
    assert expression == "(attribute_not_exists(#n0.#n1) OR #n0.#n1 < :v0)" and values == {":v0": {"N": "2"}}
    assert pushed("labels.car = 0")[0] == "(attribute_not_exists(#n0.#n1) OR #n0.#n1 = :v0)"
    assert pushed("labels.car != 0")[0] == "(NOT (attribute_not_exists(#n0.#n1) OR #n0.#n1 = :v0))"
    assert pushed("labels.car != 2")[0] == "(NOT (#n0.#n1 = :v0))"
    assert pushed("labels.car in [0, 2]")[0] == "(attribute_not_exists(#n0.#n1) OR #n0.#n1 IN (:v0, :v1))"
    assert pushed("labels.car not in [1]")[0] == "(NOT (#n0.#n1 IN (:v0)))"


def test_names_with_spaces_and_dots_go_through_placeholders():
    expression, names, _ = pushed(
        'labels."traffic light" >= 1 and labels."a.b" >= 1 and attributes."time of day" = "x"'
    )
    assert expression == "#n0.#n1 >= :v0 AND #n0.#n2 >= :v0 AND contains(#n3.#n4, :v1)"
    assert names == {
        "#n0": "label_counts",
        "#n1": "traffic light",
        "#n2": "a.b",
        "#n3": "attribute_values",
        "#n4": "time of day",
    }


def test_attribute_membership_uses_contains():
    expression, _, values = pushed('attributes.colour in ["red", 3, true, 2026-01-31] and attributes.x != 2.5')
    assert expression == (
        "(contains(#n0.#n1, :v0) OR contains(#n0.#n1, :v1) OR contains(#n0.#n1, :v2) OR contains(#n0.#n1, :v3))"
        " AND (NOT (contains(#n0.#n2, :v4)))"
    )
    assert values == {
        ":v0": {"S": "red"},
        ":v1": {"N": "3"},
        ":v2": {"S": "true"},
        ":v3": {"S": "2026-01-31"},
        ":v4": {"N": "2.5"},
    }


def test_file_fields_push_down_with_the_contract_names():
    expression, names, values = pushed(
        'file.name >= "b" and file.type = "image" and file.status in ["ready"] and file.width < 10 and file.height != 3'
    )
    assert expression == "#n0 >= :v0 AND #n1 = :v1 AND #n2 IN (:v2) AND #n3 < :v3 AND (NOT (#n4 = :v4))"
    assert list(names.values()) == ["original_name", "media_type", "status", "width", "height"]


@pytest.mark.parametrize(
    "text, expression, bounds",
    [
        ("file.created = 2026-01-31", "(#n0 BETWEEN :v0 AND :v1)", ["2026-01-31", "2026-01-31T99"]),
        ("file.created < 2026-01-31", "#n0 < :v0", ["2026-01-31"]),
        ("file.created <= 2026-01-31", "#n0 <= :v0", ["2026-01-31T99"]),
        ("file.created > 2026-01-31", "#n0 > :v0", ["2026-01-31T99"]),
        ("file.created >= 2026-01-31", "#n0 >= :v0", ["2026-01-31"]),
        ("file.created != 2026-01-31", "(NOT (#n0 BETWEEN :v0 AND :v1))", ["2026-01-31", "2026-01-31T99"]),
        ("file.created < 2026-01-31T12:00:00+01:00", "#n0 < :v0", ["2026-01-31T11:00:00.000000+0000"]),
        (
            "file.created in [2026-01-30, 2026-01-31T00:00:00Z]",
            "((#n0 BETWEEN :v0 AND :v1) OR #n0 IN (:v2))",
            ["2026-01-30", "2026-01-30T99", "2026-01-31T00:00:00.000000+0000"],
        ),
    ],
)
def test_created_compares_strings_in_the_stored_format(text, expression, bounds):
    got, names, values = pushed(text)
    assert (got, names) == (expression, {"#n0": "created_at"})
    assert [v["S"] for v in values.values()] == bounds


def test_created_at_format_is_pynamodbs():
    from pynamodb.attributes import UTCDateTimeAttribute

    when = datetime(2026, 1, 31, 5, 6, 7, 89, tzinfo=UTC)
    assert created_at_string(when) == UTCDateTimeAttribute().serialize(when) == "2026-01-31T05:06:07.000089+0000"
    # the day sentinel sorts after every time of that day and before the next day
    assert created_at_string(datetime(2026, 1, 31, 23, 59, 59, 999999, tzinfo=UTC)) < "2026-01-31T99" < "2026-02-01"


def test_metadata_datasets_and_attribute_orderings_stay_in_python():
    for text in ["file.metadata.k = 1", 'dataset.name = "train"', "attributes.score > 2", "attributes.score <= 2"]:
        query_plan = plan(parse_query(text))
        assert query_plan.filter is None and query_plan.residual == parse_query(text)


def test_and_pushes_what_it_can_and_leaves_the_rest():
    query_plan = plan(parse_query('labels.car > 1 and dataset.name = "train" and file.width > 5'))
    assert query_plan.filter is not None
    assert query_plan.filter.expression == "#n0.#n1 > :v0 AND #n2 > :v1"
    assert query_plan.residual == parse_query('dataset.name = "train"')


def test_or_pushes_only_when_both_sides_do():
    assert pushed("labels.car > 1 or file.width > 5")[0] == "(#n0.#n1 > :v0 OR #n2 > :v1)"
    query_plan = plan(parse_query('labels.car > 1 or dataset.name = "train"'))
    assert query_plan.filter is None


def test_not_pushes_when_its_subtree_does_and_de_morgan_splits_it():
    assert pushed("not (labels.car > 1 or file.width > 5)")[0] == "(NOT (#n0.#n1 > :v0)) AND (NOT (#n2 > :v1))"
    query_plan = plan(parse_query('not (labels.car > 1 or dataset.name in ["a", "b"])'))
    assert query_plan.filter is not None and query_plan.filter.expression == "(NOT (#n0.#n1 > :v0))"
    assert query_plan.residual == InList(parse_query('dataset.name = "a"').field, ("a", "b"), negated=True)
    query_plan = plan(parse_query('not (labels.car > 1 and dataset.name = "a")'))
    assert query_plan.filter is None  # an or with a side that does not push


def test_unrepresentable_numbers_stay_in_python():
    query_plan = plan(parse_query("labels.car < 1e200 and labels.bus > 1"))
    assert query_plan.filter is not None and query_plan.filter.expression == "#n0.#n1 > :v0"
    assert query_plan.residual == parse_query("labels.car < 1e200")
    assert dynamo_number(1e-5) == "0.00001" and dynamo_number(2.0) == "2" and dynamo_number(-0.0) == "0"
    assert dynamo_number(10**40) == str(10**40) and dynamo_number(10**40 + 1) is None and dynamo_number(1e-200) is None


def test_long_lists_are_chunked_and_long_expressions_leave_a_residual():
    values = ", ".join(str(i) for i in range(1, 251))
    expression = pushed(f"labels.car in [{values}]")[0]
    assert expression.count(" IN (") == 3
    many = " and ".join(f"labels.l{i} = {i + 1}" for i in range(400))
    query_plan = plan(parse_query(many))
    assert query_plan.filter is not None and len(query_plan.filter.expression) <= MAX_EXPRESSION_LENGTH
    assert isinstance(query_plan.residual, And)
    used_names = set(query_plan.filter.names)
    assert all(name in query_plan.filter.expression for name in used_names)
    assert all(value in query_plan.filter.expression for value in query_plan.filter.values)


def test_as_kwargs_and_matches():
    query_plan = plan(parse_query('labels.car >= 1 and dataset.name = "train"'))
    assert query_plan.filter is not None
    assert query_plan.filter.as_kwargs() == {
        "FilterExpression": "#n0.#n1 >= :v0",
        "ExpressionAttributeNames": {"#n0": "label_counts", "#n1": "car"},
        "ExpressionAttributeValues": {":v0": {"N": "1"}},
    }
    view = FileView("a", "image", 1, 1, datetime(2026, 1, 1, tzinfo=UTC), "ready", dataset_names=frozenset({"train"}))
    assert query_plan.matches(view)
    assert not query_plan.matches(FileView("a", "image", 1, 1, datetime(2026, 1, 1, tzinfo=UTC), "ready"))
