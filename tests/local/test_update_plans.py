"""Updates of top-level ``SET`` and ``REMOVE`` actions applied from their plans leave every item, and refuse every
write, exactly as moto's own walks of the expression do."""

from __future__ import annotations

import string
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

#: plain attribute names (table keys, an index's keys, reserved words, free ones) and what placeholders stand for
NAMES = ["pk", "sk", "g1pk", "g1sk", "status", "size", "label_counts", "a", "b", "c"]
_text = st.text(string.ascii_letters + "é ", max_size=6)
_number = st.integers(-(10**6), 10**6).map(str)
_scalar = st.one_of(
    _text.map(lambda s: {"S": s}),
    _number.map(lambda n: {"N": n}),
    st.binary(max_size=4).map(lambda b: {"B": b}),
    st.booleans().map(lambda b: {"BOOL": b}),
    st.just({"NULL": True}),
    st.lists(_text.filter(bool), min_size=1, max_size=3, unique=True).map(lambda ss: {"SS": ss}),
    st.lists(_number, min_size=1, max_size=3, unique=True).map(lambda ns: {"NS": ns}),
)
_value = st.one_of(
    st.sampled_from([{"S": ""}, {"B": b""}, {"S": "x"}, {"N": "1"}]),  # empty values, keys' types
    _scalar,
    st.lists(_scalar, max_size=3).map(lambda items: {"L": items}),
    st.dictionaries(st.sampled_from("xyz"), _scalar, max_size=3).map(lambda m: {"M": m}),
    st.just({"S": "v" * 150_000}),  # two or three of these pass the item size limit
)


@st.composite
def _updates(draw: Any) -> tuple[str, dict[str, str], dict[str, Any], dict[str, Any] | None]:
    """An expression of SET and REMOVE actions (some paths as placeholders, some placeholders or values
    missing), its names and values, and the item it finds (None: a new item)."""
    names: dict[str, str] = {}
    values: dict[str, Any] = {}
    sets, removes = [], []
    for n in range(draw(st.integers(1, 5))):
        target = draw(st.sampled_from(NAMES))
        if draw(st.booleans()):
            token = f"#n{n}"
            if draw(st.integers(0, 9)):  # now and then a placeholder without its name
                names[token] = target
        else:
            token = target
        if draw(st.integers(0, 3)):
            sets.append(f"{token} = :v{n}")
            if draw(st.integers(0, 9)):
                values[f":v{n}"] = draw(_value)
        else:
            removes.append(token)
    text = " ".join(
        part for part in (sets and "SET " + ", ".join(sets), removes and "REMOVE " + ", ".join(removes)) if part
    )
    item = draw(st.none() | st.dictionaries(st.sampled_from(["a", "b", "status", "g1sk"]), _scalar, max_size=3))
    return text, names, values, item


def _backend() -> Any:
    from moto.dynamodb.models import DynamoDBBackend

    backend = DynamoDBBackend("us-east-1", "123456789012")
    for table in ("planned", "walked"):
        backend.create_table(
            table,
            schema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            throughput=None,
            attr=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
                {"AttributeName": "g1pk", "AttributeType": "S"},
                {"AttributeName": "g1sk", "AttributeType": "N"},
            ],
            global_indexes=[
                {
                    "IndexName": "GSI1",
                    "KeySchema": [
                        {"AttributeName": "g1pk", "KeyType": "HASH"},
                        {"AttributeName": "g1sk", "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "ALL"},
                }
            ],
            indexes=None,
            streams={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
            billing_mode="PAY_PER_REQUEST",
            sse_specification=None,
            tags=[],
            deletion_protection_enabled=False,
            warm_throughput=None,
        )
    return backend


@pytest.fixture(scope="module")
def backend() -> Any:
    from infra.local import moto_patches

    moto_patches.install()
    return _backend()


def _outcome(backend: Any, table: str, key: dict[str, Any], text: str, names: dict, values: dict) -> Any:
    """What the update did: the item it left (as the API reads it), or moto's refusal (its class and text)."""
    try:
        backend.update_item(table, key, text, names, values)
    except Exception as refusal:  # noqa: BLE001 - compared, not handled
        return type(refusal).__name__, str(refusal)
    return backend.get_item(table, key).to_json()["Attributes"]


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(update=_updates(), number=st.integers(0, 10**9))
# each check the plan makes, refused by moto's walks: an index key's empty value, an index key's type, a name
# or a value not given, a reserved word as a plain name; and the same writes through placeholders, accepted
@example(update=("SET g1pk = :v", {}, {":v": {"S": ""}}, None), number=1)
@example(update=("SET g1pk = :v", {}, {":v": {"B": b""}}, {"a": {"N": "1"}}), number=2)
@example(update=("SET #n = :v", {"#n": "g1pk"}, {":v": {"S": ""}}, None), number=3)
@example(update=("SET g1sk = :v", {}, {":v": {"S": "1"}}, None), number=4)
@example(update=("SET #n = :v", {"#n": "g1sk"}, {":v": {"S": "1"}}, None), number=5)
@example(update=("SET #n = :v REMOVE #m", {"#n": "a"}, {":v": {"S": "1"}}, None), number=6)
@example(update=("SET a = :v, b = :w", {}, {":v": {"S": "1"}}, None), number=7)
@example(update=("SET size = :v", {}, {":v": {"S": "1"}}, None), number=8)
def test_a_planned_update_leaves_the_item_and_refuses_as_moto_walking_it(backend, monkeypatch, update, number):
    from infra.local.moto_patches import dynamodb_update_plans, dynamodb_updates

    text, names, values, item = update
    key = {"pk": {"S": f"p{number}"}, "sk": {"S": "FILE"}}
    applied = []
    apply = dynamodb_update_plans.Bound.apply
    monkeypatch.setattr(dynamodb_update_plans.Bound, "apply", lambda self, it: applied.append(1) or apply(self, it))
    outcomes = {}
    for table, planned in (("planned", True), ("walked", False)):
        monkeypatch.setattr(dynamodb_updates, "plans_applied", lambda planned=planned: planned)
        if item is not None:
            backend.put_item(table, {**key, **item})
        # the first write of a text and its names checks its syntax moto's way; the second may use the plan
        outcomes[table] = [_outcome(backend, table, key, text, names, values) for _ in range(2)]
    assert outcomes["planned"] == outcomes["walked"]
    if isinstance(outcomes["walked"][1], dict):
        assert applied, (text, names)  # a write moto accepts was applied from its plan the second time at least


def test_plans_cover_only_top_level_set_and_remove():
    from moto.dynamodb.parsing.expressions import UpdateExpressionParser

    from infra.local.moto_patches.dynamodb_update_plans import plan_of

    planned = {
        "SET #a = :v, b = :w REMOVE #c": (("set", "#a", ":v"), ("set", "b", ":w"), ("remove", "#c", None)),
        "REMOVE a, #b": (("remove", "a", None), ("remove", "#b", None)),
    }
    for text, actions in planned.items():
        plan = plan_of(UpdateExpressionParser.make(text))
        assert plan is not None and plan.actions == actions
    for text in [
        "SET a.b = :v",
        "SET a[0] = :v",
        "SET a = :v + :w",
        "SET a = b",
        "SET a = if_not_exists(a, :v)",
        "SET a = list_append(a, :v)",
        "ADD n :one",
        "DELETE s :v",
        "SET #a = :v ADD n :one",
        "SET size = :v",  # a reserved word as a plain name: moto refuses it, walking
        "REMOVE a.b",
    ]:
        assert plan_of(UpdateExpressionParser.make(text)) is None, text


def test_the_tree_kept_for_a_text_is_never_changed_by_the_writes_using_it(backend):
    """Every write of a text is handed the one tree kept for it: moto's checks change only their own copy."""
    import pickle

    from moto.dynamodb.parsing.expressions import UpdateExpressionParser

    def shape(node: Any) -> Any:
        children = getattr(node, "children", None)
        if children is None:  # a leaf: its text, or a node that holds none (a path's dot)
            return node if isinstance(node, str) else type(node).__name__
        return type(node).__name__, [shape(c) for c in children]

    texts = ["SET a = if_not_exists(a, :v) + :v, b.x = :w", "SET c = :v REMOVE d", "ADD n :v"]
    kept = {text: UpdateExpressionParser.make(text) for text in texts}
    before = {text: shape(tree) for text, tree in kept.items()}
    key = {"pk": {"S": "kept"}, "sk": {"S": "FILE"}}
    backend.put_item("planned", {**key, "b": {"M": {}}})
    for _ in range(3):
        for text in texts:
            backend.update_item("planned", key, text, {}, {":v": {"N": "1"}, ":w": {"S": "w"}})
    for text, tree in kept.items():
        assert UpdateExpressionParser.make(text) is tree
        assert shape(tree) == before[text] == shape(pickle.loads(tree._annolake_pickled))  # noqa: S301
