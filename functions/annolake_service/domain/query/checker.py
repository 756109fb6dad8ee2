"""``check_query``: every label and attribute group a query names must exist in the project's schema."""

from __future__ import annotations

import difflib
from collections.abc import Collection

from annolake_service.domain.query.errors import QueryNameError
from annolake_service.domain.query.nodes import AttributeValues, Compare, InList, LabelCount, Node, walk


def suggest(name: str, candidates: Collection[str]) -> str | None:
    """The closest candidate (a case-insensitive match first), or None if none is close."""
    ordered = sorted(candidates)
    folded = [c for c in ordered if c.casefold() == name.casefold()]
    if folded:
        return folded[0]
    hint = difflib.get_close_matches(name, ordered, n=1, cutoff=0.6)
    return hint[0] if hint else None


def check_query(node: Node, *, label_names: Collection[str], attribute_groups: Collection[str]) -> None:
    """Raise ``QueryNameError`` for the first unknown label or attribute group (in the query's order)."""
    for part in walk(node):
        if not isinstance(part, Compare | InList):
            continue
        field = part.field
        if isinstance(field, LabelCount) and field.name not in label_names:
            _unknown("label", field.name, label_names, field)
        if isinstance(field, AttributeValues) and field.group not in attribute_groups:
            _unknown("attribute group", field.group, attribute_groups, field)


def _unknown(kind: str, name: str, known: Collection[str], field: LabelCount | AttributeValues) -> None:
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
