"""Label schema: labels with colours and attribute groups, and the checks instances must pass.

An attribute group is file-level (``scope="global"``) or applies to the instances of some labels
(``label_names``; empty means every label). Kinds: select, radio (one of ``options``),
multi_select (a subset), text, number (``min``/``max``), date (ISO ``YYYY-MM-DD``), tree (a path
of option names from the root, e.g. ``["vehicle", "car", "sedan"]``, where ``options`` are
``"vehicle/car/sedan"`` paths). A group may name a ``default``: the value a new instance of its labels starts
with (the web editor fills it in; the server does not, so a save still names a missing required value).
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterable
from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator

AttributeKind = Literal["select", "multi_select", "radio", "text", "number", "date", "tree"]
COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")
AttributeValue = str | int | float | bool | list[str]


class LabelSpec(BaseModel):
    name: str = Field(min_length=1, max_length=128)
    colour: str = Field(default="#1f77b4", pattern=COLOUR.pattern)


class AttributeGroup(BaseModel):
    name: str = Field(min_length=1, max_length=128)
    kind: AttributeKind
    scope: Literal["label", "global"] = "label"
    label_names: list[str] = Field(default_factory=list)
    options: list[str] = Field(default_factory=list)
    min: float | None = Field(default=None, strict=True)  # strict: true/false or "3" are not numbers
    max: float | None = Field(default=None, strict=True)
    required: bool = Field(default=False, strict=True)
    default: AttributeValue | None = Field(
        default=None,
        description="the value new instances of this group's labels start with (none: they start without one); "
        "it must pass the group's own check, like any value",
    )

    @model_validator(mode="after")
    def _consistent(self) -> AttributeGroup:
        if self.kind in ("select", "multi_select", "radio", "tree") and not self.options:
            raise ValueError(f"attribute group {self.name!r} of kind {self.kind} needs options")
        if self.kind not in ("select", "multi_select", "radio", "tree") and self.options:
            raise ValueError(f"attribute group {self.name!r} of kind {self.kind} takes no options")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"attribute group {self.name!r}: min {self.min} is above max {self.max}")
        if self.scope == "global" and self.label_names:
            raise ValueError(f"attribute group {self.name!r} is global, so it cannot list label_names")
        return self

    def applies_to(self, label_name: str | None) -> bool:
        if label_name is None:
            return self.scope == "global"
        return self.scope == "label" and (not self.label_names or label_name in self.label_names)

    def check(self, value: Any) -> str | None:
        """None if ``value`` is valid for this group, else the problem in words."""
        if self.kind in ("select", "radio"):
            return None if value in self.options else f"must be one of {self.options}"
        if self.kind == "multi_select":
            if not isinstance(value, list) or any(v not in self.options for v in value):
                return f"must be a list drawn from {self.options}"
            return None
        if self.kind == "text":
            return None if isinstance(value, str) else "must be text"
        if self.kind == "number":
            if isinstance(value, bool) or not isinstance(value, int | float):
                return "must be a number"
            if self.min is not None and value < self.min:
                return f"must be >= {self.min}"
            if self.max is not None and value > self.max:
                return f"must be <= {self.max}"
            return None
        if self.kind == "date":
            try:
                date.fromisoformat(value)
            except (TypeError, ValueError):
                return "must be a date YYYY-MM-DD"
            return None
        path = "/".join(value) if isinstance(value, list) else value
        return None if path in self.options else f"must be a path among {self.options}"

    def default_problem(self) -> str | None:
        """None if the group has no default or a valid one, else the problem in words, with the fix."""
        if self.default is None:
            return None
        problem = self.check(self.default)
        if problem is None:
            return None
        return (
            f"attribute group {self.name!r}: its default {json.dumps(self.default)} {problem}; "
            "give a default that fits, or none"
        )

    def from_text(self, text: str) -> Any:
        """A value written as text (CVAT's XML holds every attribute so) back as this group's kind: a number,
        a list for multi_select (JSON, or comma-separated) and tree (JSON, or a ``"vehicle/car"`` path); text
        that does not convert is kept, so the check names what is wrong with it."""
        if self.kind == "number":
            try:
                number = json.loads(text)
            except ValueError:
                return text
            return number if isinstance(number, int | float) and not isinstance(number, bool) else text
        if self.kind in ("multi_select", "tree"):
            if text.startswith("["):
                try:
                    return json.loads(text)
                except ValueError:
                    return text
            separator = "," if self.kind == "multi_select" else "/"
            return [part.strip() for part in text.split(separator) if part.strip()]
        return text


class Schema(BaseModel):
    labels: list[LabelSpec] = Field(default_factory=list)
    attribute_groups: list[AttributeGroup] = Field(default_factory=list)

    @property
    def label_names(self) -> set[str]:
        return {label.name for label in self.labels}

    def unknown_labels(self, names: set[str]) -> list[str]:
        return sorted(names - self.label_names)

    def default_problems(self) -> list[str]:
        """The groups' defaults that their own checks refuse, in words (see ``AttributeGroup.default_problem``)."""
        return [p for g in self.attribute_groups if (p := g.default_problem()) is not None]

    def typed_attributes(self, label_name: str | None, attributes: dict[str, Any]) -> dict[str, Any]:
        """``attributes`` with the text values of this label's groups in their kinds (``AttributeGroup.from_text``);
        values of groups that do not apply are kept, for the check to name."""
        groups = {g.name: g for g in self.attribute_groups if g.applies_to(label_name)}
        return {
            name: groups[name].from_text(value) if name in groups and isinstance(value, str) else value
            for name, value in attributes.items()
        }

    def attribute_problems(self, label_name: str | None, attributes: dict[str, Any]) -> list[str]:
        """Problems with one instance's (or the file's, ``label_name=None``) attribute values."""
        groups = {g.name: g for g in self.attribute_groups if g.applies_to(label_name)}
        owner = f"label {label_name!r}" if label_name else "the file"
        problems = []
        for name, value in attributes.items():
            group = groups.get(name)
            if group is None:
                hint = difflib.get_close_matches(name, groups, n=1)
                suggestion = (
                    f"; did you mean {hint[0]!r}?"
                    if hint
                    else f": its attributes are {sorted(groups)} (add a group {name!r} to the schema, or drop it)"
                )
                problems.append(f"attribute {name!r} does not apply to {owner}{suggestion}")
            elif (problem := group.check(value)) is not None:
                problems.append(f"attribute {name!r} {problem}")
        for name, group in groups.items():
            if group.required and name not in attributes:
                problems.append(f"attribute {name!r} is required for {owner}")
        return problems


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    hint = difflib.get_close_matches(name, sorted(candidates), n=1)
    return f" (did you mean {hint[0]!r}?)" if hint else ""
