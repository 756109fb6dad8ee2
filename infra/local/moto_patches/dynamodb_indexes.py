"""Index queries that look up their partition instead of reading the whole table.

moto keeps no index: a query on a GSI tests every item of the table against the index's hash key, under the
one DynamoDB lock. The workflow asks two such queries per task handed out (the caller's open tasks, the job's
queue) and one per annotation saved (the file's dataset memberships), so with 600 files in a job a sixth of the
emulator's time went to those scans, growing with the table.

Here each table keeps, per set of index hash key attributes a query used, a map from their values to the keys
of the items holding them, built by one scan at the first such query and kept up to date by every write:
``put_item``, ``update_item`` and ``delete_item`` of the backend, which BatchWriteItem and TransactWriteItems go
through as well (the journal relies on the same). The query still applies every condition moto applies to the
items it is given, in moto's order, so answers are unchanged; only the items it looks at are fewer.

The same writes keep each base-table partition's sort keys in order once a key query has asked for them
(``sorted_keys``), so such a query looks at the items of its page (``window``) as DynamoDB does, not at every
item of the partition: a dataset's listing asks one query per membership shard for each page.

An index query with a ``Limit`` does the same with the items of its index partition kept in the index's order
(``IndexOrder``, built for a partition the first time such a query reads it): moto sorts the whole index
partition on every query, and the workflow's queue of open tasks is one partition per job, read at every task
handed out (18 ms a query at 600 tasks, 2 ms at 20).
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable
from typing import Any

from infra.local.moto_patches.dynamodb_locking import dynamodb_lock
from infra.local.moto_patches.patching import replace

_MAPS = "_annolake_index_maps"  # table attribute: {attribute names: _Map}
_SORTED = "_annolake_sorted_keys"  # table attribute: {hash key: _SortedKeys}
_ORDERS = "_annolake_index_orders"  # table attribute: {index name: IndexOrder}
Key = tuple[Any, Any]  # an item's (hash key, range key or None), as DynamoTypes


class _Map:
    """The keys of the items holding each combination of values of some attributes, and the reverse."""

    def __init__(self) -> None:
        self.by_values: dict[tuple[Any, ...], set[Key]] = {}
        self.by_key: dict[Key, tuple[Any, ...]] = {}

    def put(self, key: Key, values: tuple[Any, ...] | None) -> None:
        former = self.by_key.pop(key, None)
        if former is not None:
            keys = self.by_values[former]
            keys.discard(key)
            if not keys:
                del self.by_values[former]
        if values is not None:
            self.by_key[key] = values
            self.by_values.setdefault(values, set()).add(key)


def _values(attrs: dict[str, Any], names: tuple[str, ...]) -> tuple[Any, ...] | None:
    values = tuple(attrs.get(name) for name in names)
    return None if any(value is None for value in values) else values


def _item_at(table: Any, key: Key) -> Any:
    partition = table.items.get(key[0])  # .get: the items dict is a defaultdict
    return partition if partition is None or not table.range_key_attr else partition.get(key[1])


def _attributes_at(table: Any, key: Key, names: list[str]) -> dict[str, Any] | None:
    """Those of ``names`` the item at ``key`` has, None when there is no item there; an item kept encoded
    (``dynamodb_compact``) is not decoded whole for it: building a job's queue order read every task of the job."""
    from infra.local.moto_patches.dynamodb_compact import Partition

    partition = table.items.get(key[0])
    if isinstance(partition, Partition):
        return partition.attributes(key[1], names) if key[1] in partition else None
    item = _item_at(table, key)
    return None if item is None else item.attrs


def _items_of(table: Any) -> list[Any]:
    partitions = table.items.values()
    return [item for p in partitions for item in p.values()] if table.range_key_attr else list(partitions)


def candidates(table: Any, conditions: list[tuple[str, Any]]) -> list[Any]:
    """The items whose attributes equal an index query's hash key ``conditions`` (name, value); the first
    query on a set of names builds its map with one scan. Called under the DynamoDB lock."""
    wanted = dict(conditions)
    names = tuple(sorted(wanted))
    keys = _built(table, names).by_values.get(tuple(wanted[name] for name in names), ())
    return [item for item in (_item_at(table, key) for key in keys) if item is not None]


class _SortedKeys:
    """A partition's sort keys in moto's order (by ``cast_value``), with the ``DynamoType`` of each."""

    def __init__(self, partition: dict[Any, Any]) -> None:
        self.keys = sorted(((key.cast_value, key) for key in partition), key=_first)

    def put(self, key: Any, present: bool) -> None:
        at = bisect.bisect_left(self.keys, key.cast_value, key=_first)
        found = at < len(self.keys) and self.keys[at][0] == key.cast_value
        if present and not found:
            self.keys.insert(at, (key.cast_value, key))
        elif found and not present:
            del self.keys[at]


def _first(pair: tuple[Any, Any]) -> Any:
    return pair[0]


_WINDOWED_TYPES = ("S", "N")  # sort key types whose cast values order as moto orders them


def window(
    table: Any,
    hash_key: Any,
    condition: tuple[str, list[Any]] | None,
    limit: int | None,
    forward: bool,
    start: Any,
) -> list[Any] | None:
    """The items of a base-table key query's page, in ascending sort key order: those meeting the sort key
    ``condition`` (comparison, values) past the ``start`` sort key, at most ``limit`` + 1 from the end the
    query reads from (the one past the page is how moto knows there is more); None when the query is not one
    this answers (then every item of the partition is looked at, as before). Called under the DynamoDB lock."""
    if not table.range_key_attr or table.range_key_type not in _WINDOWED_TYPES:
        return None
    partition = table.items.get(hash_key)
    if partition is None:
        return []
    sorted_keys: dict[Any, _SortedKeys] = table.__dict__.setdefault(_SORTED, {})
    known = sorted_keys.get(hash_key)
    if known is None or len(known.keys) != len(partition):  # a write that went around the backend: read again
        known = sorted_keys[hash_key] = _SortedKeys(partition)
    chosen = _page_of(known.keys, condition, _first, None if start is None else start.cast_value, forward, limit)
    if chosen is None:
        return None
    return _within_a_page((partition[key] for _, key in chosen), forward)


def _page_of(
    entries: list[tuple[Any, Any]],
    condition: tuple[str, list[Any]] | None,
    sort_value: Callable[[Any], Any],
    after: Any,
    forward: bool,
    limit: int | None,
) -> list[tuple[Any, Any]] | None:
    """Of ``entries`` (ascending (order, key) pairs), those a query page reads, in the order it reads them:
    meeting the sort key ``condition`` (on ``sort_value`` of each), past ``after`` (an order, the page's start),
    at most ``limit`` + 1 (the one past the page is how moto knows there is more). None for a condition this
    does not bound."""
    bounds = _bounds(entries, condition, sort_value)
    if bounds is None:
        return None
    low, high = bounds
    if after is not None:
        if forward:
            low = max(low, bisect.bisect_right(entries, after, key=_first))
        else:
            high = min(high, bisect.bisect_left(entries, after, key=_first))
    if limit is not None and high - low > limit + 1:
        low, high = (low, low + limit + 1) if forward else (high - limit - 1, high)
    chosen = entries[low:high]
    return chosen if forward else chosen[::-1]


def _within_a_page(items: Iterable[Any], forward: bool) -> list[Any]:
    """The ``items`` (in the order the query reads them) up to the first that takes the page past DynamoDB's
    1 MB (moto stops there: it needs that item, and none after it), in ascending order. Without a ``Limit`` a
    page of a 125,000-item shard decoded every item after its start (O(shard) a page)."""
    from moto.dynamodb.models.table import RESULT_SIZE_LIMIT

    taken, size = [], 0
    for item in items:
        taken.append(item)
        size += item.size()
        if size > RESULT_SIZE_LIMIT:
            break
    return taken if forward else taken[::-1]


def _bounds(
    keys: list[Any], condition: tuple[str, list[Any]] | None, sort_value: Callable[[Any], Any] = _first
) -> tuple[int, int] | None:
    """The slice of ``keys`` (ordered by ``sort_value`` of each) meeting the sort key condition (None for a
    comparison this does not bound)."""
    if condition is None:
        return 0, len(keys)
    comparison, objects = condition
    values = [value.cast_value for value in objects]
    left = lambda value: bisect.bisect_left(keys, value, key=sort_value)  # noqa: E731
    right = lambda value: bisect.bisect_right(keys, value, key=sort_value)  # noqa: E731
    if comparison in ("EQ", "="):
        return left(values[0]), right(values[0])
    if comparison in ("LT", "<"):
        return 0, left(values[0])
    if comparison in ("LE", "<="):
        return 0, right(values[0])
    if comparison in ("GT", ">"):
        return right(values[0]), len(keys)
    if comparison in ("GE", ">="):
        return left(values[0]), len(keys)
    if comparison == "BETWEEN":
        return left(values[0]), max(left(values[0]), right(values[1]))
    if comparison == "BEGINS_WITH" and isinstance(values[0], str):
        low = high = left(values[0])
        while high < len(keys) and str(sort_value(keys[high])).startswith(values[0]):
            high += 1
        return low, high
    return None


class _Unordered(Exception):
    """An item whose index key types differ from the table's definitions: the index is read as moto reads it."""


class IndexOrder:
    """An index's partitions in the order moto reads an index (its sort key, then the table's hash and sort
    keys) as (cast values, table key) pairs, for the partitions a query has read; every write through the
    backend keeps them current. ``placed``: where each item of a built partition stands."""

    def __init__(self, names: tuple[str, str, str, str | None], types: tuple[str, ...]) -> None:
        self.names = names  # index hash key, index sort key, table hash key, table sort key (or None)
        self.types = types  # the declared types of the last three
        self.partitions: dict[Any, list[tuple[tuple[Any, ...], Key]]] = {}
        self.placed: dict[Key, tuple[Any, tuple[Any, ...]]] = {}
        self.usable = True

    def _place(self, attrs: dict[str, Any]) -> tuple[Any, tuple[Any, ...]] | None:
        """(index hash value, order) of an item, None when it is not in the index (no index sort key)."""
        hash_attr, sort_attr, *table_keys = self.names
        value, sort = attrs.get(hash_attr), attrs.get(sort_attr)
        if value is None or sort is None:
            return None
        parts = [sort, *(attrs[name] for name in table_keys if name is not None)]
        if any(part.type != wanted for part, wanted in zip(parts, self.types, strict=True)):
            raise _Unordered
        return value, tuple(part.cast_value for part in parts)

    def partition(self, table: Any, value: Any) -> list[tuple[tuple[Any, ...], Key]]:
        known = self.partitions.get(value)
        if known is None:
            known = []
            for key in _built(table, (self.names[0],)).by_values.get((value,), ()):
                attrs = _attributes_at(table, key, [name for name in self.names if name is not None])
                placed = None if attrs is None else self._place(attrs)
                if placed is not None:
                    known.append((placed[1], key))
                    self.placed[key] = placed
            known.sort(key=_first)
            self.partitions[value] = known
        return known

    def put(self, key: Key, attrs: dict[str, Any] | None) -> None:
        former = self.placed.pop(key, None)
        if former is not None:
            entries = self.partitions[former[0]]
            at = bisect.bisect_left(entries, former[1], key=_first)  # orders hold the table key: unique
            del entries[at]
        placed = None if attrs is None else self._place(attrs)
        if placed is not None and placed[0] in self.partitions:
            bisect.insort(self.partitions[placed[0]], (placed[1], key), key=_first)
            self.placed[key] = placed


def _sort_value(entry: tuple[tuple[Any, ...], Key]) -> Any:
    return entry[0][0]


def _order_of(table: Any, index_name: str) -> IndexOrder | None:
    orders: dict[str, IndexOrder | None] = table.__dict__.setdefault(_ORDERS, {})
    if index_name not in orders:
        orders[index_name] = _new_order(table, index_name)
    order = orders[index_name]
    return order if order is not None and order.usable else None


def _new_order(table: Any, index_name: str) -> IndexOrder | None:
    """An empty order for an index with one hash and one sort key over string or number keys; else None."""
    index = next((i for i in table.all_indexes() if i.name == index_name), None)
    if index is None:
        return None
    hashes = [key["AttributeName"] for key in index.schema if key["KeyType"] == "HASH"]
    sorts = [key["AttributeName"] for key in index.schema if key["KeyType"] == "RANGE"]
    if len(hashes) != 1 or len(sorts) != 1:
        return None
    declared = {a["AttributeName"]: a["AttributeType"] for a in table.attr}
    names = (hashes[0], sorts[0], table.hash_key_attr, table.range_key_attr)
    types = tuple(str(declared.get(name)) for name in names[1:] if name is not None)
    if any(kind not in _WINDOWED_TYPES for kind in types):
        return None
    return IndexOrder(names, types)


def index_sort_key(table: Any, index_name: str) -> str | None:
    """The sort key attribute of an index ``index_window`` may answer for, else None."""
    order = _order_of(table, index_name)
    return order.names[1] if order is not None else None


def index_window(
    table: Any,
    index_name: str,
    value: Any,
    condition: tuple[str, list[Any]] | None,
    limit: int | None,
    forward: bool,
    start: dict[str, Any] | None,
) -> list[Any] | None:
    """The items of an index query's page, in the index's order: those of the index partition ``value`` meeting
    the sort key ``condition`` past the ``start`` key (an ``ExclusiveStartKey``), at most ``limit`` + 1 from
    the end the query reads from; None when the query is not one this answers. Called under the DynamoDB lock."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    order = _order_of(table, index_name)
    if order is None:
        return None
    try:
        entries = order.partition(table, value)
    except _Unordered:
        order.usable = False
        return None
    after = None
    if start is not None:
        names = [name for name in order.names[1:] if name is not None]
        if any(name not in start for name in names):
            return None
        after = tuple(DynamoType(start[name]).cast_value for name in names)
    chosen = _page_of(entries, condition, _sort_value, after, forward, limit)
    if chosen is None:
        return None
    items = (_item_at(table, key) for _, key in chosen)
    return _within_a_page((item for item in items if item is not None), forward)


def _reindex(table: Any, key: Key) -> None:
    """Bring every map of ``table`` up to date with the item at ``key`` (written, changed or deleted)."""
    item = _item_at(table, key)
    for names, known in table.__dict__.get(_MAPS, {}).items():
        known.put(key, None if item is None else _values(item.attrs, names))
    for order in table.__dict__.get(_ORDERS, {}).values():
        if order is not None and order.usable:
            try:
                order.put(key, None if item is None else item.attrs)
            except _Unordered:
                order.usable = False
    if key[1] is not None:
        ordered = table.__dict__.get(_SORTED, {}).get(key[0])
        if ordered is not None:
            ordered.put(key[1], item is not None)


def _built(table: Any, names: tuple[str, ...]) -> _Map:
    """The map of ``names``, built with one scan of the table when no query has built it yet."""
    maps: dict[tuple[str, ...], _Map] = table.__dict__.setdefault(_MAPS, {})
    if names not in maps:
        built = maps[names] = _Map()
        for item in _items_of(table):
            built.put((item.hash_key, item.range_key if table.range_key_attr else None), _values(item.attrs, names))
    return maps[names]


def _global_index_names(table: Any) -> set[tuple[str]]:
    """The hash key attribute of each of ``table``'s global indexes, as the names of a map."""
    indexes = table.global_indexes
    return {tuple(key["AttributeName"] for key in index.schema if key["KeyType"] == "HASH") for index in indexes}


def straight_adder(table: Any) -> Callable[[Key, dict[str, Any]], None]:
    """What brings the maps up to date with each item put around the backend (``dynamodb_compact.put_straight``),
    from its key and attributes as the DynamoDB API writes them. The maps of the table's global indexes are
    built here, before the items go in (cheap on the empty table a restore fills), so that neither this nor
    the first query after it decodes every restored item. Called under the DynamoDB lock."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    for names in _global_index_names(table):
        _built(table, names)
    maps = list(table.__dict__.get(_MAPS, {}).items())

    def add(key: Key, attrs: dict[str, Any]) -> None:
        for names, known in maps:
            if all(name in attrs for name in names):
                known.put(key, tuple(DynamoType(attrs[name]) for name in names))

    return add


def forget_orders(table: Any) -> None:
    """Sorted keys and orders are read again from the partitions (after items were put around the backend)."""
    table.__dict__.pop(_SORTED, None)
    table.__dict__.pop(_ORDERS, None)


def keep_index_maps() -> None:
    """Every write through the backend updates the maps of the item it touched (built maps only). A table's
    global indexes have their maps from its creation, built empty: the first query on an index of a full table
    otherwise built its map with a scan that decoded every item of the table, under the DynamoDB lock (1 s at
    2,500 files, at a job's first ``next``, every other request waiting)."""
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.table import Table

    def with_maps(init: Callable[..., None]) -> Callable[..., None]:
        def init_then_map(self: Any, *args: Any, **kwargs: Any) -> None:
            init(self, *args, **kwargs)
            for names in _global_index_names(self):
                _built(self, names)

        return init_then_map

    replace(Table, "__init__", "index-maps", with_maps)

    def key_of(table: Any, attrs: dict[str, Any]) -> Key | None:
        hash_value = attrs.get(table.hash_key_attr)
        range_value = attrs.get(table.range_key_attr) if table.range_key_attr else None
        if hash_value is None or (table.range_key_attr and range_value is None):
            return None
        return DynamoType(hash_value), None if range_value is None else DynamoType(range_value)

    def reindexing(write: Callable[..., Any], attrs_of: Callable[..., dict[str, Any]]) -> Callable[..., Any]:
        def write_then_reindex(self: Any, table_name: str, *args: Any, **kwargs: Any) -> Any:
            with dynamodb_lock:
                try:
                    return write(self, table_name, *args, **kwargs)
                finally:
                    table = self.tables.get(table_name)
                    if table is not None and any(table.__dict__.get(kept) for kept in (_MAPS, _SORTED, _ORDERS)):
                        key = key_of(table, attrs_of(*args, **kwargs))
                        if key is not None:
                            _reindex(table, key)

        return write_then_reindex

    def item_attrs(item_attrs: dict[str, Any], *_: Any, **__: Any) -> dict[str, Any]:
        return item_attrs

    def key_attrs(key: dict[str, Any], *_: Any, **__: Any) -> dict[str, Any]:
        return key

    replace(DynamoDBBackend, "put_item", "index-maps", lambda write: reindexing(write, item_attrs))
    replace(DynamoDBBackend, "update_item", "index-maps", lambda write: reindexing(write, key_attrs))
    replace(DynamoDBBackend, "delete_item", "index-maps", lambda write: reindexing(write, key_attrs))
