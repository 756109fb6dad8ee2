"""Reading synthesized CloudFormation templates in tests."""

from __future__ import annotations

import json
from typing import Any


def resources(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {lid: r for lid, r in template["Resources"].items() if r["Type"] == resource_type}


def one(template: dict[str, Any], resource_type: str, prefix: str = "") -> tuple[str, dict[str, Any]]:
    """The single resource of ``resource_type`` whose logical id starts with ``prefix``."""
    found = [(lid, r) for lid, r in resources(template, resource_type).items() if lid.startswith(prefix)]
    assert len(found) == 1, f"expected one {resource_type} {prefix}*, found {[lid for lid, _ in found]}"
    return found[0]


def state_machine_definition(resource: dict[str, Any]) -> dict[str, Any]:
    """The ASL of a state machine; intrinsics inside (e.g. function ARNs) become JSON strings."""
    return json.loads(_escape_intrinsics(resource["Properties"]["DefinitionString"]))


def _escape_intrinsics(value: Any) -> str:
    if isinstance(value, str):
        return value
    separator, parts = value["Fn::Join"]
    # Intrinsics sit where the ASL has a string value's content, i.e. inside quotes: keep them as
    # escaped JSON so the whole document parses.
    return separator.join(p if isinstance(p, str) else json.dumps(json.dumps(p, sort_keys=True))[1:-1] for p in parts)


def intrinsic(value: str) -> Any:
    """Back from a string made by ``state_machine_definition`` to the intrinsic it stands for."""
    return json.loads(value)
