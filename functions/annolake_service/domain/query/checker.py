"""``check_query``: every label and attribute group a query names must exist in the project's schema."""

from __future__ import annotations

import difflib
from collections.abc import Collection

from annolake_service.domain.query.errors import QueryNameError
from annolake_service.domain.query.nodes import (
    AttributeValues,
    Compare,
    Evaluated,
    FrameCount,
    InList,
    LabelCount,
    Node,
    Predicted,
    walk,
)

RUN_ID_PREFIX = "pr_"  # predictions.<run id>: a run, rather than a model's latest run


def suggest(name: str, candidates: Collection[str]) -> str | None:
    """The closest candidate (a case-insensitive match first), or None if none is close."""
    ordered = sorted(candidates)
    folded = [c for c in ordered if c.casefold() == name.casefold()]
    if folded:
        return folded[0]
    hint = difflib.get_close_matches(name, ordered, n=1, cutoff=0.6)
    return hint[0] if hint else None


def check_query(
    node: Node,
    *,
    label_names: Collection[str],
    attribute_groups: Collection[str],
    model_names: Collection[str] | None = None,
) -> None:
    """Raise ``QueryNameError`` for the first unknown label, attribute group or model (in the query's order);
    models are checked only when ``model_names`` is given."""
    for part in walk(node):
        if not isinstance(part, Compare | InList):
            continue
        field = part.field
        if isinstance(field, LabelCount | FrameCount) and field.name not in label_names:
            _unknown("label", field.name, label_names, field)
        if isinstance(field, AttributeValues) and field.group not in attribute_groups:
            _unknown("attribute group", field.group, attribute_groups, field)
        if isinstance(field, Predicted):
            if field.label not in label_names:
                _unknown("label", field.label, label_names, field)
            is_run = field.model.startswith(RUN_ID_PREFIX)
            if model_names is not None and not is_run and field.model not in model_names:
                _unknown("model", field.model, model_names, field)
        if isinstance(field, Evaluated):
            is_run = field.run.startswith(RUN_ID_PREFIX)
            if model_names is not None and not is_run and field.run not in model_names:
                _unknown("model", field.run, model_names, field)


def _unknown(
    kind: str,
    name: str,
    known: Collection[str],
    field: LabelCount | FrameCount | AttributeValues | Predicted | Evaluated,
) -> None:
    suggestion = suggest(name, known)
    message = f"unknown {kind} {name!r}"
    if field.pos is not None:
        message += f" at {field.pos}"
    if suggestion is not None:
        message += f"; did you mean {suggestion!r}?"
    elif not known:
        message += f"; the project has no {kind}s yet"
    line, column = (field.pos.line, field.pos.column) if field.pos else (None, None)
    raise QueryNameError(message, name=name, kind=kind, suggestion=suggestion, line=line, column=column)
