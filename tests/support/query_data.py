"""Random files and random queries for the property tests of the query engines (pushdown, columnar index).

The files cover the edges (each label, size and attribute group present on some files and absent on others,
creation times on and around day boundaries); the queries are drawn from the AST types, so every field,
operator and literal kind the language has is tried.
"""

from __future__ import annotations

import dataclasses
import random
from datetime import UTC, date, datetime, timedelta
from typing import Any

from annolake_service.domain.query import (
    And,
    AttributeValues,
    Compare,
    DatasetRef,
    Evaluated,
    FileField,
    FileView,
    FrameCount,
    InList,
    LabelCount,
    Metadata,
    Node,
    Not,
    Or,
)
from hypothesis import strategies as st

LABELS = ["car", "traffic light", "a.b", "bus"]
ATTRIBUTE_POOLS: dict[str, list[Any]] = {
    "colour": ["red", "green", "blue", "Red"],
    "time of day": ["day", "night"],
    "score": [1, 2, 2.5, -1, 0, 10],
    "flag": ["true", "false"],
    "when": ["2026-01-30", "2026-01-31"],
    "mixed": ["3", 3, "x y"],
}
NAMES = ["a.jpg", "b.png", "Cat 1.jpg", "ünïcode.jpg", "z", "b"]
TYPES = ["image", "video"]
SIZES = [None, 0, 100, 640, 1024]
STATUSES = ["ready", "quarantined", "processing"]
BASE = datetime(2026, 1, 30, tzinfo=UTC)
CREATED = [
    BASE,
    BASE + timedelta(microseconds=1),
    BASE + timedelta(hours=12),
    BASE + timedelta(days=1) - timedelta(microseconds=1),
    BASE + timedelta(days=1),
    BASE + timedelta(days=1, hours=23, minutes=59, seconds=59),
    BASE + timedelta(days=2, hours=6, microseconds=250_000),
]
DATASETS = {"train": "ds-1", "val": "ds-2", "test set": "ds-3"}
EVALUATED = {"pr_a1": 0.7, "det": 0.5}  # eval.<ref>: the share of files its evaluation holds
DISAGREEMENTS = [0.0, 0.25, 0.5, 0.999999, 1.0]
FILE_COUNT = 72


def _random_file(rng: random.Random, index: int) -> tuple[str, FileView]:
    counts = {name: rng.randint(0, 4) for name in LABELS if rng.random() < 0.6}
    attributes = {
        group: sorted(set(rng.sample(pool, rng.randint(1, min(3, len(pool))))), key=lambda v: (isinstance(v, str), v))
        for group, pool in ATTRIBUTE_POOLS.items()
        if rng.random() < 0.6
    }
    metadata: dict[str, Any] = {}
    if rng.random() < 0.7:
        metadata["camera"] = {
            k: v
            for k, v in (("model", rng.choice(["X100", "A7"])), ("iso", rng.choice([100, 400.0, "800"])))
            if rng.random() < 0.8
        }
    if rng.random() < 0.5:
        metadata["tags"] = rng.sample(["outdoor", "rain", 7, True], rng.randint(0, 2))
    if rng.random() < 0.5:
        metadata["reviewed"] = rng.choice([True, False, "yes"])
    datasets = [name for name in DATASETS if rng.random() < 0.5]
    view = FileView(
        name=rng.choice(NAMES),
        type=rng.choice(TYPES),
        width=rng.choice(SIZES),
        height=rng.choice(SIZES),
        created=rng.choice(CREATED),
        status=rng.choice(STATUSES),
        metadata=metadata,
        label_counts=counts,
        frame_counts=_frame_counts(index),
        attribute_values=attributes,
        dataset_names=frozenset(datasets),
        dataset_ids=frozenset(DATASETS[name] for name in datasets),
    )
    return f"f{index:03d}", view


def _evaluations(rng: random.Random) -> dict[str, dict[str, float]]:
    return {
        ref: {
            "tp": rng.randint(0, 3),
            "fp": rng.randint(0, 2),
            "fn": rng.randint(0, 2),
            "disagreement": rng.choice(DISAGREEMENTS),
        }
        for ref, share in EVALUATED.items()
        if rng.random() < share
    }


def _frame_counts(index: int) -> dict[str, int]:
    """A video's frames per label (``frames.<label>``), from a generator of its own so the other fields stay
    what they were before videos were counted."""
    rng = random.Random(f"frames-{index}")
    return {name: rng.choice([1, 2, 30, 99, 100, 640, 3000]) for name in LABELS if rng.random() < 0.4}


def random_files(seed: int = 20260131, count: int = FILE_COUNT) -> dict[str, FileView]:
    rng = random.Random(seed)
    files = dict(_random_file(rng, i) for i in range(count))
    evaluated = random.Random(seed + 1)  # its own stream: the files' other values stay as they were
    return {file_id: dataclasses.replace(v, evaluations=_evaluations(evaluated)) for file_id, v in files.items()}


ALL_OPS = st.sampled_from(["=", "!=", "<", "<=", ">", ">="])
EQUALITY_OPS = st.sampled_from(["=", "!="])
NUMBERS = st.sampled_from([-1, 0, 1, 2, 3, 4, 0.5, 2.0, 2.5, 10, 100, 640, 1024])
ATTRIBUTE_LITERALS = st.sampled_from(
    ["red", "Red", "green", "day", "night", "3", "x y", "true", "2026-01-31", 1, 2, 2.5, 3, 3.0, -1, 0, 10, True, False]
    + [date(2026, 1, 30), date(2026, 1, 31)]
)
TEMPORAL = st.sampled_from(
    [date(2026, 1, 29), date(2026, 1, 30), date(2026, 1, 31), date(2026, 2, 1), date(2026, 2, 2), *CREATED]
    + [BASE + timedelta(hours=13), BASE - timedelta(microseconds=1)]
)
METADATA_LITERALS = st.sampled_from(["X100", "A7", "800", "outdoor", "yes", 7, 100, 400, 400.0, 0, True, False])


def _ordered(value: Any) -> bool:
    return not isinstance(value, bool)


@st.composite
def comparison(draw: st.DrawFn) -> Node:
    kind = draw(
        st.sampled_from(
            [
                "label",
                "frames",
                "attribute",
                "name",
                "type",
                "size",
                "created",
                "status",
                "metadata",
                "dataset",
                "eval",
            ]
        )
    )
    if kind == "label":
        field: Any = LabelCount(draw(st.sampled_from([*LABELS, "absent"])))
        values, ops = NUMBERS, ALL_OPS
    elif kind == "frames":
        field = FrameCount(draw(st.sampled_from([*LABELS, "absent"])))
        values, ops = NUMBERS, ALL_OPS
    elif kind == "attribute":
        field = AttributeValues(draw(st.sampled_from([*ATTRIBUTE_POOLS, "nothing"])))
        values, ops = ATTRIBUTE_LITERALS, ALL_OPS
    elif kind in ("name", "type"):
        field = FileField(kind)
        values, ops = st.sampled_from(NAMES + TYPES + ["Cat", ""]), ALL_OPS
    elif kind == "size":
        field = FileField(draw(st.sampled_from(["width", "height"])))
        values, ops = NUMBERS, ALL_OPS
    elif kind == "created":
        field = FileField("created")
        values, ops = TEMPORAL, ALL_OPS
    elif kind == "status":
        field = FileField("status")
        values, ops = st.sampled_from(STATUSES), EQUALITY_OPS
    elif kind == "metadata":
        field = Metadata(
            draw(st.sampled_from([("camera", "model"), ("camera", "iso"), ("tags",), ("reviewed",), ("nope",)]))
        )
        values, ops = METADATA_LITERALS, ALL_OPS
    elif kind == "eval":
        field = Evaluated(
            draw(st.sampled_from([*EVALUATED, "pr_none"])), draw(st.sampled_from(["tp", "fp", "fn", "disagreement"]))
        )
        values, ops = st.sampled_from([-1, 0, 1, 2, 3, 0.25, 0.5, 0.999999, 1.0, 2.5]), ALL_OPS
    else:
        by = draw(st.sampled_from(["name", "id"]))
        field = DatasetRef(by)
        values = st.sampled_from([*DATASETS, "other"] if by == "name" else [*DATASETS.values(), "ds-9"])
        ops = EQUALITY_OPS
    if draw(st.booleans()):
        return InList(field, tuple(draw(st.lists(values, min_size=1, max_size=3))), draw(st.booleans()))
    value = draw(values)
    op = draw(ops) if _ordered(value) else draw(EQUALITY_OPS)
    return Compare(field, op, value)


queries = st.recursive(
    comparison(),
    lambda children: st.one_of(
        st.lists(children, min_size=2, max_size=3).map(lambda xs: And(tuple(xs))),
        st.lists(children, min_size=2, max_size=3).map(lambda xs: Or(tuple(xs))),
        children.map(Not),
    ),
    max_leaves=8,
)
