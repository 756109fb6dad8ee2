"""DynamoDB ``UpdateItem``: the same validation of the update expression, at a fraction of moto's cost.

moto validates an update expression's syntax tree by copying it (``copy.deepcopy``, twice when the item is new)
and walking the copy once per check (about ten walks), and each walk asks every node whether it is a ``Node``
and which checks apply to it through ``abc`` instance checks and a dictionary built per node. At ingest that was
most of the emulator's DynamoDB time: recording a path's arrival (one ``UpdateItem`` of a new item, a SET, a
DELETE and a REMOVE) cost it more than any other call. Here the tree is copied by pickling (the same objects,
parent links included; anything pickle refuses still takes ``deepcopy``), and a walk answers those two questions
once per class instead of once per node. The walks, their order and what each check does are moto's.
"""

from __future__ import annotations

import contextlib
import copy
import pickle
from collections import deque
from collections.abc import Callable
from typing import Any

from infra.local.moto_patches.dynamodb_update_plans import plan_of, plans_applied
from infra.local.moto_patches.patching import replace

_TEXT = "_annolake_text"  # the update expression's text, on the root of each tree parsed from it
_PLAN = "_annolake_plan"  # its plan (``dynamodb_update_plans``), or None
_PICKLED = "_annolake_pickled"  # on a kept tree: its pickled bytes, which every copy of it is loaded from


def _copied_tree(value: Any, memo: dict[int, Any] | None = None) -> Any:
    if memo is not None:  # a copy within a larger deepcopy keeps sharing its memo
        return copy.deepcopy(value, memo)
    pickled = getattr(value, _PICKLED, None)  # a kept tree (``parse_each_expression_text_once``): its bytes
    if pickled is not None:
        return pickle.loads(pickled)  # noqa: S301 - our own bytes
    try:
        return pickle.loads(pickle.dumps(value, pickle.HIGHEST_PROTOCOL))  # noqa: S301 - our own bytes, just made
    except (pickle.PicklingError, TypeError, AttributeError):
        return copy.deepcopy(value)


def copy_update_expressions_by_pickling() -> None:
    """The validators module's ``deepcopy`` (its tree copies, and an ``if_not_exists`` value's) pickles."""
    import moto.dynamodb.parsing.validators as validators

    replace(validators, "deepcopy", "pickled-copy", lambda _: _copied_tree)


def walk_update_expressions_by_class() -> None:
    """``DepthFirstTraverser.traverse_node_recursively`` with its per-node type questions answered per class.

    A traverser's ``_processing_map`` keys are classes fixed per traverser class (moto's docstring calls
    ``nodes_to_be_processed`` a cached accessor; it is rebuilt per node), so which node classes a traverser
    processes is known once per (traverser class, node class)."""
    from moto.dynamodb.parsing.ast_nodes import DepthFirstTraverser, Node  # type: ignore[attr-defined]

    is_node: dict[type, bool] = {}
    processes: dict[tuple[type, type], bool] = {}
    processors: dict[tuple[type, type], Any] = {}  # the processing map's key a node class falls under, or False

    def by_class(_: Callable[..., Any]) -> Callable[..., Any]:
        def traverse_node_recursively(self: Any, node: Any, child_id: int = -1) -> Any:
            node_class = type(node)
            node_like = is_node.get(node_class)
            if node_like is None:
                node_like = is_node[node_class] = issubclass(node_class, Node)
            if not node_like:
                return node
            parent_node = node.parent
            if node.children is not None:
                for i, child_node in enumerate(node.children):
                    self.pre_processing_of_child(node, i)
                    self.traverse_node_recursively(child_node, i)
            key = (type(self), node_class)
            processed = processes.get(key)
            if processed is None:
                processed = processes[key] = issubclass(node_class, self.nodes_to_be_processed())
            if processed:
                node = self.process(node)
                node.parent = parent_node
                if parent_node:
                    parent_node.children[child_id] = node
            return node

        return traverse_node_recursively

    def process_by_class(_: Callable[..., Any]) -> Callable[..., Any]:
        def process(self: Any, node: Any) -> Any:
            processing = self._processing_map()
            key = (type(self), type(node))
            chosen = processors.get(key)
            if chosen is None:  # the first key the node is an instance of, as moto's loop picks it
                chosen = processors[key] = next((k for k in processing if isinstance(node, k)), False)
            return processing[chosen](node) if chosen is not False else None

        return process

    replace(DepthFirstTraverser, "traverse_node_recursively", "by-class", by_class)
    replace(DepthFirstTraverser, "process", "by-class", process_by_class)


def find_clauses_by_class() -> None:
    """``Node.find_clauses`` (run for every ``UpdateExpression`` node by two checks, and by ``normalize``) with
    the kind of each child, a nested expression or function to look into, known per class."""
    from moto.dynamodb.parsing.ast_nodes import (  # type: ignore[attr-defined]
        Expression,
        Node,
        UpdateExpressionFunction,
    )

    nested: dict[type, bool] = {}

    def by_class(_: Callable[..., Any]) -> Callable[..., Any]:
        def find_clauses(self: Any, clause_types: Any) -> list[Any]:
            clauses: list[Any] = []
            for child in self.children or []:
                child_class = type(child)
                if child_class in clause_types:
                    clauses.append(child)
                    continue
                looked_into = nested.get(child_class)
                if looked_into is None:
                    looked_into = nested[child_class] = issubclass(child_class, (Expression, UpdateExpressionFunction))
                if looked_into:
                    clauses.extend(child.find_clauses(clause_types))
            return clauses

        return find_clauses

    replace(Node, "find_clauses", "by-class", by_class)


def parse_each_expression_text_once() -> None:
    """moto parses an ``UpdateExpression`` (about 270 µs) and lexes a condition expression (about 210 µs of a
    430 µs parse) at every write, though the platform writes with a few fixed texts whose values change. The
    update expression's tree is kept per text, with its pickled bytes, and handed to every write of the text:
    moto only reads the tree it is given (the names and values it uses) and changes only the copy its checks
    make (``deepcopy``, loaded here from those bytes). A condition's tokens are kept per text (they hold no
    values: the names and values are put in by the later steps of the parse, as before). A text moto refuses is
    not kept: the error is raised again at each write, as before."""
    from moto.dynamodb.comparisons import ConditionExpressionParser
    from moto.dynamodb.parsing.expressions import UpdateExpressionParser  # type: ignore[attr-defined]

    trees: dict[str, Any] = {}
    tokens: dict[str, tuple[Any, ...]] = {}
    kept = 4096  # distinct texts kept; beyond that, parsed as before

    def make_once(parse: Callable[[str], Any]) -> Any:  # ``parse``: moto's classmethod, bound to the class
        def make(_: type, expression_str: str) -> Any:
            tree = trees.get(expression_str)
            if tree is not None:
                return tree
            tree = parse(expression_str)
            with contextlib.suppress(AttributeError):  # copies of the tree carry both: see ``check_each_text_once``
                setattr(tree, _TEXT, expression_str)
                setattr(tree, _PLAN, plan_of(tree))
            if len(trees) < kept:
                with contextlib.suppress(pickle.PicklingError, TypeError, AttributeError):
                    setattr(tree, _PICKLED, pickle.dumps(tree, pickle.HIGHEST_PROTOCOL))
                    trees[expression_str] = tree
            return tree

        return classmethod(make)

    def lex_once(lex: Callable[..., Any]) -> Callable[..., Any]:
        def lex_condition_expression(self: Any) -> Any:
            known = tokens.get(self.condition_expression)
            if known is None:
                lexed = lex(self)
                if len(tokens) < kept:
                    tokens[self.condition_expression] = tuple(lexed)
                return lexed
            return deque(known)

        return lex_condition_expression

    replace(UpdateExpressionParser, "make", "parse-once", make_once)
    replace(ConditionExpressionParser, "_lex_condition_expression", "lex-once", lex_once)


def parse_each_condition_once() -> None:
    """A condition's syntax tree depends on its text, its names and which values it names, not on the values:
    moto's later parse steps (paths, functions, comparisons, ``IN``, ``BETWEEN``, parentheses and booleans, about
    200 µs of a claim's condition, and a write parses its condition twice) run once per combination, and each
    parse gets that tree with its own values put in, then the conditions moto builds from it as before. A
    condition moto refuses is never kept: the error is raised again at each parse."""
    from moto.dynamodb.comparisons import ConditionExpressionParser

    kind = ConditionExpressionParser.Kind.EXPRESSION_ATTRIBUTE_VALUE
    trees: dict[tuple[Any, ...], tuple[Any, list[str], list[str]]] = {}
    kept = 4096

    def bound(node: Any, values: dict[str, Any]) -> Any:
        if node.kind == kind:
            return node._replace(value=values[node.text])
        if not node.children:
            return node
        return node._replace(children=[bound(child, values) for child in node.children])

    def once(parse: Callable[[Any], Any]) -> Callable[[Any], Any]:
        def parse_tree(self: Any) -> Any:
            if not self.condition_expression:
                return parse(self)
            names, values = self.expression_attribute_names or {}, self.expression_attribute_values or {}
            key = (self.condition_expression, tuple(sorted(names.items())), tuple(sorted(values)))
            known = trees.get(key)
            if known is None:  # moto's steps, as its ``parse`` takes them
                nodes = self._lex_condition_expression()
                for step in (
                    self._parse_paths,
                    self._apply_functions,
                    self._apply_comparator,
                    self._apply_in,
                    self._apply_between,
                    self._apply_parens_and_booleans,
                ):
                    nodes = step(nodes)
                node = nodes[0]
                self._assert_no_redundant_parentheses(node)
                known = (node, self._find_literals(node), self._find_expr_attr_values(node))
                if len(trees) < kept:
                    trees[key] = known
            else:
                node = bound(known[0], values)
            self.expr_attr_names_found.extend(known[1])
            self.expr_attr_values_found.extend(known[2])
            return self._make_op_condition(node)

        return parse_tree

    replace(ConditionExpressionParser, "parse", "tree-once", once)


def check_each_text_once() -> None:
    """moto's first three checks of an update expression (at most one clause of each kind, no two actions on
    overlapping paths, no key attribute changed) answer the same for the same text, names and table keys: they
    read neither the values nor the item. They walk the tree once per ``UpdateExpression`` node, and each node
    looks through everything under it (a write with ten ``SET`` actions visits about 370 nodes in them), so
    each combination is checked in full once and skipped at later writes. A combination moto refuses is never
    kept: the error is raised again at each write. The checks that read the values and the item run every time:
    for an expression with a plan (``dynamodb_update_plans``) the plan makes them, and the validator copies the
    tree (and builds its walkers) only when the walks run."""
    from moto.dynamodb.parsing.validators import (
        ActionCountValidator,
        OverlappingPathsValidator,
        UpdateExpressionValidator,
        UpdateHashRangeKeyValidator,
    )

    syntactic = (ActionCountValidator, OverlappingPathsValidator, UpdateHashRangeKeyValidator)
    passed: set[tuple[Any, ...]] = set()
    kept = 4096

    def lazy(_: Callable[..., Any]) -> Callable[..., Any]:
        def __init__(  # noqa: N807 - moto's constructor, its copy and walkers left to ``validate``
            self: Any,
            expression: Any,
            expression_attribute_names: Any,
            expression_attribute_values: Any,
            item: Any,
            table: Any,
        ) -> None:
            self.expression_attribute_names = expression_attribute_names
            self.expression_attribute_values = expression_attribute_values
            self.item = item
            self.table = table
            self.expression = expression

        return __init__

    def once(_: Callable[..., Any]) -> Callable[..., Any]:
        def validate(self: Any) -> Any:
            expression = self.expression
            text = getattr(expression, _TEXT, None)
            key = None
            if text is not None:
                names = tuple(sorted((self.expression_attribute_names or {}).items()))
                key = (text, names, tuple(self.table.table_key_attrs))
            known = key in passed
            plan = getattr(expression, _PLAN, None) if known and plans_applied() else None
            if plan is not None:
                bound = plan.bind(self.table, self.expression_attribute_names, self.expression_attribute_values)
                if bound is not None:
                    return bound
            self.processors = self.get_ast_processors()
            node = self.node_to_validate = _copied_tree(expression)
            for processor in self.processors:  # moto's loop, less the checks this combination passed before
                if known and isinstance(processor, syntactic):
                    continue
                node = processor.traverse(node)
                if not known and key is not None and isinstance(processor, UpdateHashRangeKeyValidator):
                    if len(passed) < kept:
                        passed.add(key)
                    known = True
            return node

        return validate

    replace(UpdateExpressionValidator, "__init__", "copy-when-walked", lazy)
    replace(UpdateExpressionValidator, "validate", "syntax-once", once)
