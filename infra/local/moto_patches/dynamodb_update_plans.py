"""``UpdateItem``'s plainest expressions, applied without walking their syntax tree.

Almost every update the platform writes is ``SET`` of top-level attributes to expression values and ``REMOVE``
of top-level attributes (a task claimed, a file's annotation version moved on, a membership marked complete).
moto validates each through seven walks of a fresh copy of the tree (values put in, paths resolved, functions,
missing paths, operations, attribute types, empty key values) and then runs it through its executor: about
0.3 ms a write, four of them in each annotation save. For an expression made of only those actions, what the
walks would decide is known from the text, the names and the values: the plan of the text (``plan_of``,
once per text) is bound to each write's names and values (``Plan.bind``), the same checks made in the same
terms, and applied straight to the item (``Bound.apply``). Whatever a plan cannot decide, or any check moto
would refuse, goes moto's way (the walks then raise moto's own error); so does the first write of each text,
names and table keys, which runs moto's syntactic checks (``dynamodb_updates.check_each_text_once``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from infra.local.moto_patches.patching import MARK, replace

_SET, _REMOVE = "set", "remove"


@dataclass(frozen=True)
class Plan:
    """An expression's actions in text order: (``_SET``, path token, value placeholder) or (``_REMOVE``, path
    token, None). A path token is a name placeholder (``#n``) or a plain attribute name, as written."""

    actions: tuple[tuple[str, str, str | None], ...]

    def bind(self, table: Any, names: dict[str, str] | None, values: dict[str, Any] | None) -> Bound | None:
        """This write's actions with its names and typed values, or None where moto's walks must decide (a
        placeholder not given, a key attribute's type or empty value: moto refuses those)."""
        from moto.dynamodb.models.dynamo_type import DynamoType

        names, values = names or {}, values or {}
        bound: list[tuple[str, str, Any]] = []
        try:
            for kind, token, value_name in self.actions:
                name = names.get(token) if token.startswith("#") else token
                if not isinstance(name, str):
                    return None
                if kind == _REMOVE:
                    bound.append((kind, name, None))
                    continue
                raw = values.get(value_name)  # type: ignore[arg-type]
                if raw is None:
                    return None
                value = DynamoType(raw)
                # moto's attribute type and empty key value checks compare the path's token as written
                if any(d["AttributeName"] == token and d["AttributeType"] != value.type for d in table.attr):
                    return None
                if not value.value and value.type in ("S", "B") and token in table.attribute_keys:
                    return None
                bound.append((kind, name, value))
        except Exception:  # noqa: BLE001 - a value moto's walk would refuse: it refuses it there
            return None
        return Bound(tuple(bound))


@dataclass(frozen=True)
class Bound:
    """A plan bound to one write: what moto's validated tree would do to the item, in the same order."""

    actions: tuple[tuple[str, str, Any], ...]

    def normalize(self) -> None:
        """moto normalizes a validated tree before running it: distinct top-level paths need no reordering."""

    def apply(self, item: Any) -> None:
        attrs = item.attrs
        for kind, name, value in self.actions:
            if kind == _SET:
                attrs[name] = value
            else:
                attrs.pop(name, None)


def plan_of(tree: Any) -> Plan | None:
    """The plan of a parsed update expression made only of ``SET path = :value`` and ``REMOVE path`` actions
    on top-level attributes, or None for any other expression (nested paths, functions, arithmetic, ``ADD``,
    ``DELETE``, a reserved word as a plain name)."""
    from moto.dynamodb.parsing.ast_nodes import (  # type: ignore[attr-defined]
        ExpressionAttribute,
        ExpressionAttributeName,
        ExpressionAttributeValue,
        UpdateExpression,
        UpdateExpressionPath,
        UpdateExpressionRemoveAction,
        UpdateExpressionRemoveActions,
        UpdateExpressionRemoveClause,
        UpdateExpressionSetAction,
        UpdateExpressionSetActions,
        UpdateExpressionSetClause,
        UpdateExpressionValue,
    )
    from moto.dynamodb.parsing.reserved_keywords import ReservedKeywords

    containers = (
        UpdateExpression,
        UpdateExpressionSetClause,
        UpdateExpressionSetActions,
        UpdateExpressionRemoveClause,
        UpdateExpressionRemoveActions,
    )
    reserved = ReservedKeywords.get_reserved_keywords()
    actions: list[tuple[str, str, str | None]] = []

    def token_of(path: Any) -> str | None:
        if type(path) is not UpdateExpressionPath or len(path.children) != 1:
            return None
        element = path.children[0]
        if type(element) is ExpressionAttributeName:
            return element.get_attribute_name_placeholder()
        if type(element) is ExpressionAttribute:
            name = element.get_attribute_name()
            return None if name.upper() in reserved else name
        return None

    def visit(node: Any) -> bool:
        node_class = type(node)
        if node_class in containers:
            return all(visit(child) for child in node.children or ())
        if node_class is UpdateExpressionSetAction and len(node.children) == 2:
            token, value = token_of(node.children[0]), node.children[1]
            if token is None or type(value) is not UpdateExpressionValue or len(value.children) != 1:
                return False
            placeholder = value.children[0]
            if type(placeholder) is not ExpressionAttributeValue:
                return False
            actions.append((_SET, token, placeholder.get_value_name()))
            return True
        if node_class is UpdateExpressionRemoveAction and len(node.children) == 1:
            token = token_of(node.children[0])
            if token is None:
                return False
            actions.append((_REMOVE, token, None))
            return True
        return False

    return Plan(tuple(actions)) if visit(tree) and actions else None


def plans_applied() -> bool:
    """Whether moto's executor applies a ``Bound`` (only then may a validator hand one over)."""
    from moto.dynamodb.parsing.executors import UpdateExpressionExecutor

    return "bound-plans" in getattr(UpdateExpressionExecutor.execute, MARK, ())


def apply_bound_plans_directly() -> None:
    """moto's executor applies a ``Bound`` plan straight to the item. ``measure_updated_items_once`` installs
    it before wrapping the executor, so a planned write is measured and rolled back on the size limit like any
    other."""
    from moto.dynamodb.parsing.executors import UpdateExpressionExecutor

    wrapped: frozenset[str] = getattr(UpdateExpressionExecutor.execute, MARK, frozenset())
    if wrapped and "bound-plans" not in wrapped:
        raise RuntimeError(f"apply_bound_plans_directly() must be installed before {sorted(wrapped)}")

    def make(execute: Any) -> Any:
        def execute_bound(self: Any, node: Any = None) -> Any:
            if node is None and type(self.update_ast) is Bound:
                self.update_ast.apply(self.item)
                return None
            return execute(self, node)

        return execute_bound

    replace(UpdateExpressionExecutor, "execute", "bound-plans", make)
