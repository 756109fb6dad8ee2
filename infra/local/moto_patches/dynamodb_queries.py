"""DynamoDB queries that read only the partition asked for and copy only what they answer."""

from __future__ import annotations

import copy
import inspect
import threading
from collections.abc import Callable
from typing import Any

from infra.local.moto_patches import dynamodb_indexes
from infra.local.moto_patches.dynamodb_locking import frozen
from infra.local.moto_patches.patching import replace

_query_partition = threading.local()


def _page(table: Any, arguments: dict[str, Any]) -> tuple[int | None, bool, Any] | None:
    """(limit, forward, start sort key) of a base-table query that ``dynamodb_indexes.window`` may answer: not one
    with a legacy ``QueryFilter`` (moto counts its limit after that filter) nor with a range key condition on
    several attributes."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    if arguments.get("filter_kwargs") or len(arguments.get("range_key_conditions") or ()) > 1:
        return None
    start = arguments.get("exclusive_start_key")
    start_key = None
    if start:
        if table.range_key_attr not in start:
            return None
        start_key = DynamoType(start[table.range_key_attr])
    forward = arguments.get("scan_index_forward")
    return arguments.get("limit"), forward is not False, start_key


def _index_page(table: Any, arguments: dict[str, Any], conditions: list[Any]) -> tuple | None:
    """(index name, hash value, sort key condition, limit, forward, start key) of an index query that
    ``dynamodb_indexes.index_window`` may answer: one hash key, at most one sort key condition (on the index's
    sort key), no legacy ``QueryFilter``."""
    index_name = arguments["index_name"]
    if arguments.get("filter_kwargs") or len(conditions) != 1:
        return None
    sort_conditions = arguments.get("range_key_conditions") or ()
    sort_key = dynamodb_indexes.index_sort_key(table, index_name)
    if sort_key is None or len(sort_conditions) > 1 or any(c[0] != sort_key for c in sort_conditions):
        return None
    comparison = arguments.get("range_comparison")
    condition = (comparison, arguments.get("range_objs") or []) if comparison else None
    forward = arguments.get("scan_index_forward") is not False
    start = arguments.get("exclusive_start_key")
    return index_name, conditions[0][1], condition, arguments.get("limit"), forward, start


def index_base_table_queries() -> None:
    """Make moto's base-table ``query`` read only the requested partition (results are unchanged).

    moto's ``Table.query`` filters ``all_items()`` (every item, sorted) by hash key; while it runs for
    a base-table query, ``all_items`` returns just that partition, sorted the same way, and only its items
    the sort key condition keeps (moto sizes every item of the partition before comparing its sort key, so a
    query for the few files listed after a position, a freeze's look past the index, cost O(partition)); for an
    index query, the items holding its hash key values, looked up in maps every write keeps current
    (``dynamodb_indexes``). A base-table query with a ``Limit`` gets only the items its page can hold, found in
    the partition's sort keys kept in order (``dynamodb_indexes.window``): a page of a 10,000-file dataset's
    listing (a query per membership shard) looked at every membership item before the cursor. An index query
    likewise gets the items of its page in the index's order (``dynamodb_indexes.index_window``).
    """
    from moto.dynamodb.models.table import Table

    dynamodb_indexes.keep_index_maps()  # before any map is built: no write may go unseen

    def all_items(whole_table: Callable[[Table], list]) -> Callable[[Table], list]:
        def partition_items(self: Table) -> list:
            scope = getattr(_query_partition, "scope", None)
            if scope is None or scope[0] is not self:
                return whole_table(self)
            if scope[2] is not None:  # an index query: only items with its hash key values (moto sorts them)
                if scope[4] is not None:
                    paged = dynamodb_indexes.index_window(self, *scope[4])
                    if paged is not None:
                        return paged
                return dynamodb_indexes.candidates(self, scope[2])
            if scope[1] not in self.items:
                return []
            if scope[4] is not None:
                paged = dynamodb_indexes.window(self, scope[1], scope[3], *scope[4])
                if paged is not None:
                    return paged
            partition = self.items[scope[1]]
            items = list(partition.values()) if self.range_key_attr else [partition]
            if scope[3] is not None:  # the sort key condition, as moto applies it afterwards
                comparison, values = scope[3]
                items = [
                    item for item in items if item.range_key is not None and item.range_key.compare(comparison, values)
                ]
            return sorted(items, key=lambda x: (x.hash_key, x.range_key) if x.range_key else x.hash_key)

        return partition_items

    def query(whole_query: Callable[..., Any]) -> Callable[..., Any]:
        signature = inspect.signature(whole_query)

        def partitioned_query(self: Table, *args: object, **kwargs: object) -> object:
            bound = signature.bind(self, *args, **kwargs)
            # (table, hash key of a base-table query, [(name, value)] of an index query's hash key conditions,
            # (comparison, values) of a base-table query's sort key condition, (limit, forward, start sort key)
            # of a base-table query whose page can be read alone or ``_index_page`` of such an index query)
            scope: tuple[Table, Any, list[Any] | None, tuple[str, list[Any]] | None, tuple | None] | None
            arguments = bound.arguments
            if arguments.get("index_name"):
                conditions = arguments.get("hash_key_conditions")
                page = _index_page(self, arguments, list(conditions)) if conditions else None
                scope = (self, None, list(conditions), None, page) if conditions else None
            else:
                hash_key = arguments.get("hash_key")
                comparison = arguments.get("range_comparison")
                sort_key = (comparison, arguments.get("range_objs") or []) if comparison else None
                scope = (self, hash_key, None, sort_key, _page(self, arguments)) if hash_key is not None else None
            _query_partition.scope = scope
            try:
                return whole_query(self, *args, **kwargs)
            finally:
                _query_partition.scope = None

        return partitioned_query

    replace(Table, "all_items", "partitioned", all_items)
    replace(Table, "query", "partitioned", query)


_copy_later = threading.local()


class _CopiesInTableModule:
    """Stands for the ``copy`` module inside moto's ``table.py``: while a query runs with copies deferred, its
    one deep copy (of every item read) is a list copy; everything else is ``copy`` itself."""

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)

    @staticmethod
    def deepcopy(value: Any, memo: dict | None = None) -> Any:
        if getattr(_copy_later, "active", False) and isinstance(value, list):
            return list(value)
        return copy.deepcopy(value, memo)


def copy_query_results_after_filtering() -> None:
    """moto's ``Table.query`` deep-copies every item it read, then filters and projects: half of the emulator's
    time for a query over a 10,000-file dataset whose filter keeps one file in eight. The filter and the
    projections only read the stored items (under the DynamoDB lock), so the copy is made afterwards, of the
    items answered that a later write could change: an item decoded for reads is never changed
    (``dynamodb_locking.frozen``) and is answered as it is (copying a page of the workflow's queue was a sixth
    of its query's cost)."""
    from moto.dynamodb.models import table as table_module

    def copying_answers(query: Callable[..., Any]) -> Callable[..., Any]:
        def query_then_copy(self: object, *args: object, **kwargs: object) -> Any:
            _copy_later.active = True
            try:
                results, scanned_count, last_evaluated_key = query(self, *args, **kwargs)
            finally:
                _copy_later.active = False
            return [r if frozen(r) else copy.deepcopy(r) for r in results], scanned_count, last_evaluated_key

        return query_then_copy

    replace(table_module, "copy", "copy-later", lambda _: _CopiesInTableModule())
    replace(table_module.Table, "query", "copy-later", copying_answers)
