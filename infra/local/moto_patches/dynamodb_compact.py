"""Table items kept as compressed bytes, decoded when an operation reads them.

moto keeps each item as Python objects: a ``DynamoType`` and a string per attribute (and per map entry), a
dict per item. A file recorded by the ingest (its item, its first annotation version, a dataset membership)
cost about 18 KiB of the emulator's memory that way, against 1.3 KiB of DynamoDB JSON per item; a million
files did not fit this kind of machine. Here each partition of a table with a sort key keeps its items as
``marshal`` + ``zlib`` bytes (0.6 KiB for a file item of 25 attributes) under moto's own keys, and hands out
a decoded ``Item`` when moto asks for one, so every read and query answers what it answered before.

moto changes items in place: an update reads the item, then runs its expression on that object. So while a
write holds the DynamoDB lock (``dynamodb_locking``), the items it reads or puts are *live*: read again in the
same operation they are the same object, and when the lock is released the last time they are encoded back.
Reads (queries, scans, GetItem) keep the items they decoded last decoded (``_decoded``), as moto kept every
item. A write decodes its own copy of each item it reads rather than taking the one reads keep, so an item
decoded for reads is never changed afterwards (``frozen``): reads answer it without copying it, and measure it
once. When a write ends, its items are kept decoded as it left them, for the reads that follow every write.
Tables without a sort key keep moto's dict: the platform's tables all have one.
"""

from __future__ import annotations

import contextlib
import copy
import marshal
import threading
import zlib
from collections import OrderedDict
from collections.abc import Iterable, Iterator, MutableMapping
from typing import Any

from infra.local.moto_patches.dynamodb_locking import WRITES, freeze
from infra.local.moto_patches.dynamodb_update_plans import apply_bound_plans_directly
from infra.local.moto_patches.patching import copy_module_with, replace

_PENDING = b""  # the bytes of an item put by a write under way, until the write ends
_LEVEL = 1  # zlib: on a file item (1,155 bytes marshalled) level 6 saves 7 bytes more than level 1's 644


def encode(attrs: dict[str, Any]) -> bytes:
    """An item's attribute map (name -> ``DynamoType``) as bytes."""
    return zlib.compress(_marshalled(attrs), _LEVEL)


def _marshalled(attrs: dict[str, Any]) -> bytes:
    return marshal.dumps(tuple((name, *_plain(value)) for name, value in attrs.items()))


def _unmarshalled(data: bytes) -> dict[str, Any]:
    """``_marshalled``'s attribute map again (name -> ``DynamoType``), new objects."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    stored = marshal.loads(data)  # noqa: S302 - bytes this process made, never input
    return {name: _typed(DynamoType, kind, content) for name, kind, content in stored}


def encode_wire(attrs: dict[str, Any]) -> bytes:
    """An item as the DynamoDB API writes it (name -> {type: value}) as bytes, the same as ``encode`` makes."""
    return zlib.compress(marshal.dumps(tuple((name, *_wire_plain(value)) for name, value in attrs.items())), _LEVEL)


def _plain(value: Any) -> tuple[str, Any]:
    kind, content = value.type, value.value
    if kind == "M":
        return kind, tuple((name, *_plain(member)) for name, member in content.items())
    if kind == "L":
        return kind, tuple(_plain(member) for member in content)
    return kind, content


def _wire_plain(value: dict[str, Any]) -> tuple[str, Any]:
    ((kind, content),) = value.items()
    if kind == "M":
        return kind, tuple((name, *_wire_plain(member)) for name, member in content.items())
    if kind == "L":
        return kind, tuple(_wire_plain(member) for member in content)
    return kind, content


def decode(blob: bytes, hash_key: Any, range_key: Any) -> Any:
    """A new moto ``Item`` from ``encode``'s bytes (its attribute map filled without moto's per-attribute size
    check, which re-measures the whole item each time: the item was measured when it was written)."""
    from moto.dynamodb.models.dynamo_type import Item, LimitedSizeDict

    item = object.__new__(Item)
    item.hash_key, item.range_key = hash_key, range_key
    attrs = LimitedSizeDict.__new__(LimitedSizeDict)
    dict.update(attrs, _unmarshalled(zlib.decompress(blob)))
    item.attrs = attrs
    return item


def copied(item: Any) -> Any:
    """A copy of a moto ``Item`` that no change to ``item`` reaches, through the marshalled form (about half
    what ``copy.deepcopy`` costs on a file item); anything else is deep-copied."""
    from moto.dynamodb.models.dynamo_type import Item, LimitedSizeDict

    if type(item) is not Item:
        return copy.deepcopy(item)
    twin = copy.copy(item)  # the keys (never changed in place) and anything kept on the item
    attrs = LimitedSizeDict.__new__(LimitedSizeDict)
    dict.update(attrs, _unmarshalled(_marshalled(item.attrs)))
    twin.attrs = attrs
    return twin


def copy_items_written_over_through_marshal() -> None:
    """moto deep-copies the item an ``UpdateItem`` changes twice before changing it (the old image of its stream
    record, and the answer's old attributes); both copies are made through the marshalled form (``copied``)."""
    import moto.dynamodb.models as models
    import moto.dynamodb.responses as responses

    for owner in (models, responses):
        replace(owner, "copy", "marshal-copies", copy_module_with(copied))


def _typed(cls: Any, kind: str, content: Any) -> Any:
    typed = object.__new__(cls)
    typed.type = kind
    if kind == "M":
        content = {name: _typed(cls, member_kind, member) for name, member_kind, member in content}
    elif kind == "L":
        content = [_typed(cls, member_kind, member) for member_kind, member in content]
    typed.value = content
    return typed


class _Writes(threading.local):
    """The live items of the write holding the DynamoDB lock (only its thread sees them)."""

    def __init__(self) -> None:
        self.active = 0  # nesting depth of write operations under way in this thread
        self.live: dict[tuple[int, Any], tuple[Partition, Any, Any]] = {}


_writes = _Writes()


def begin_write() -> None:
    """A write operation starts in this thread (under the DynamoDB lock): the items it reads are live."""
    _writes.active += 1


def end_write() -> None:
    """The outermost write of this thread ends (still under the lock): its live items are encoded back."""
    _writes.active -= 1
    if _writes.active:
        return
    live, _writes.live = _writes.live, {}
    for partition, key, item in live.values():
        if key in partition.blobs:  # not deleted meanwhile
            partition.blobs[key] = encode(item.attrs)
            # kept decoded for reads as written: what follows a write reads its items at once (the index maps,
            # the journal), and a copy a read kept is the item before this write
            _keep(partition, key, freeze(item))


# The items reads decoded last, kept decoded: a task's job, its file and the project's schema are read by every
# request of the workflow, and decoding them each time cost the platform a fifth more CPU per task. Keyed by
# the partition's id (the entry holds the partition, so the id is not reused while it is there) and sort key.
_DECODED_ITEMS = 8192  # about 50 MB at most, for items of 6 KB decoded
_decoded: OrderedDict[tuple[int, Any], tuple[Partition, Any]] = OrderedDict()


def _recall(partition: Partition, key: Any) -> Any:
    entry = _decoded.get((id(partition), key))
    if entry is None:
        return None
    with contextlib.suppress(KeyError):  # dropped by another thread meanwhile
        _decoded.move_to_end((id(partition), key))
    return entry[1]


def _keep(partition: Partition, key: Any, item: Any) -> None:
    _decoded[(id(partition), key)] = (partition, item)
    _decoded.move_to_end((id(partition), key))
    while len(_decoded) > _DECODED_ITEMS:
        with contextlib.suppress(KeyError):
            _decoded.popitem(last=False)


class Partition(MutableMapping):
    """One hash key's items (sort key -> ``Item``), kept encoded; see the module's docstring."""

    __slots__ = ("blobs", "hash_key")

    def __init__(self, hash_key: Any = None) -> None:
        self.hash_key = hash_key
        self.blobs: dict[Any, bytes] = {}

    def __getitem__(self, key: Any) -> Any:
        if _writes.active:  # a copy of the write's own, changed in place by moto; reads' copies stay as they are
            live = _writes.live.get((id(self), key))
            if live is not None:
                return live[2]
            item = decode(self.blobs[key], self.hash_key, key)
            _writes.live[(id(self), key)] = (self, key, item)
            return item
        item = _recall(self, key)
        if item is None:
            item = freeze(decode(self.blobs[key], self.hash_key, key))
            _keep(self, key, item)
        return item

    def attributes(self, key: Any, names: Iterable[str]) -> dict[str, Any]:
        """Those of ``names`` the item at ``key`` has (name -> ``DynamoType``), without decoding the rest of it
        nor keeping it decoded: for reading one index's keys of many items at once."""
        if _writes.active and (id(self), key) in _writes.live:
            attrs = _writes.live[(id(self), key)][2].attrs
        else:
            entry = _decoded.get((id(self), key))
            if entry is None:
                from moto.dynamodb.models.dynamo_type import DynamoType

                wanted = set(names)
                stored = marshal.loads(zlib.decompress(self.blobs[key]))  # noqa: S302 - bytes this process made
                return {name: _typed(DynamoType, kind, content) for name, kind, content in stored if name in wanted}
            attrs = entry[1].attrs
        return {name: attrs[name] for name in names if name in attrs}

    def __setitem__(self, key: Any, item: Any) -> None:
        _decoded.pop((id(self), key), None)
        if _writes.active:  # moto may still change it (an update creating its item): encoded when the write ends
            self.blobs[key] = _PENDING
            _writes.live[(id(self), key)] = (self, key, item)
        else:
            self.blobs[key] = encode(item.attrs)

    def put_encoded(self, key: Any, blob: bytes) -> None:
        """Store an item already encoded (a restore)."""
        self.blobs[key] = blob
        _writes.live.pop((id(self), key), None)
        _decoded.pop((id(self), key), None)

    def __delitem__(self, key: Any) -> None:
        del self.blobs[key]
        _writes.live.pop((id(self), key), None)
        _decoded.pop((id(self), key), None)

    def __contains__(self, key: object) -> bool:
        return key in self.blobs

    def __iter__(self) -> Iterator[Any]:
        return iter(self.blobs)

    def __len__(self) -> int:
        return len(self.blobs)

    def __getstate__(self) -> tuple[Any, dict[Any, bytes]]:
        return self.hash_key, self.blobs

    def __setstate__(self, state: tuple[Any, dict[Any, bytes]]) -> None:
        self.hash_key, self.blobs = state


class Partitions(dict):
    """A table's partitions by hash key: moto's ``defaultdict(dict)``, made of ``Partition``s."""

    def __missing__(self, hash_key: Any) -> Partition:
        partition = self[hash_key] = Partition(hash_key)
        return partition


def compact_table_items() -> None:
    """Tables with a sort key created from now on keep their items encoded; the backend's writes make their
    items live while they run. Installed before ``serialize_dynamodb_operations``, so a write's items are
    encoded back before it releases the DynamoDB lock."""
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import Table

    def live_while_writing(write: Any) -> Any:
        def write_with_live_items(self: Any, *args: Any, **kwargs: Any) -> Any:
            begin_write()
            try:
                return write(self, *args, **kwargs)
            finally:
                end_write()

        return write_with_live_items

    for name in WRITES:
        replace(DynamoDBBackend, name, "live-items", live_while_writing)

    def compact(init: Any) -> Any:
        def init_then_compact(self: Table, *args: Any, **kwargs: Any) -> None:
            init(self, *args, **kwargs)
            if self.range_key_attr:
                self.items = Partitions()  # type: ignore[assignment]

        return init_then_compact

    replace(Table, "__init__", "compact-items", compact)


def put_straight(table: Any, items: Iterable[dict[str, Any]]) -> None:
    """Put ``items`` (as the DynamoDB API takes them: binary values in base64) straight into moto's ``table``:
    no request, no stream record, none of the checks they passed when first written (a restore, a bench's
    seed). Encoded straight from that form where the table keeps items encoded; the query maps of the table
    learn them from it too (``dynamodb_indexes.straight_adder``), item by item: nothing holds the items after."""
    from moto.dynamodb.models.dynamo_type import DynamoType, Item

    from infra.local.moto_patches import dynamodb_indexes
    from infra.local.moto_patches.dynamodb_locking import dynamodb_lock

    hash_name, range_name = table.hash_key_attr, table.range_key_attr
    with dynamodb_lock:
        add = dynamodb_indexes.straight_adder(table)
        partitions = table.items
        for attributes in items:
            hash_value = from_wire(attributes[hash_name], DynamoType)
            range_value = from_wire(attributes[range_name], DynamoType) if range_name else None
            if isinstance(partitions, Partitions):
                partitions[hash_value].put_encoded(range_value, encode_wire(attributes))
            else:
                item = Item(hash_value, range_value, {})
                dict.update(item.attrs, {name: from_wire(value, DynamoType) for name, value in attributes.items()})
                if range_name is None:
                    partitions[hash_value] = item
                else:
                    partitions[hash_value][range_value] = item
            add((hash_value, range_value), attributes)
        dynamodb_indexes.forget_orders(table)


def from_wire(value: dict[str, Any], cls: Any) -> Any:
    """``cls(value)`` for moto's ``DynamoType``, without its per-value list copies (a restore makes millions)."""
    ((kind, content),) = value.items()
    typed = cls.__new__(cls)
    typed.type = kind
    if kind == "L":
        content = [from_wire(member, cls) for member in content]
    elif kind == "M":
        content = {name: from_wire(member, cls) for name, member in content.items()}
    typed.value = content
    return typed


def measure_new_items_once() -> None:
    """A new ``Item`` checks DynamoDB's size limit once, on the whole item. moto's size-checked dict re-measured
    every attribute already set each time it set one (O(attributes²)): 42% of a batch write's time for the
    ingest's file items. The limit and the error are moto's: an item over it is refused as before."""
    from moto.dynamodb.exceptions import ItemSizeTooLarge
    from moto.dynamodb.models.dynamo_type import DynamoType, Item, LimitedSizeDict
    from moto.dynamodb.models.utilities import bytesize

    def measured_once(_: Any) -> Any:
        def init(self: Item, hash_key: Any, range_key: Any, attrs: dict[str, Any]) -> None:
            self.hash_key = hash_key
            self.range_key = range_key
            typed = {key: DynamoType(value) for key, value in attrs.items()}
            if sum(bytesize(key) + value.size() for key, value in typed.items()) > _ITEM_LIMIT:
                raise ItemSizeTooLarge
            self.attrs = LimitedSizeDict.__new__(LimitedSizeDict)
            dict.update(self.attrs, typed)

        return init

    replace(Item, "__init__", "measured-once", measured_once)


_ITEM_LIMIT = 405000  # moto's LimitedSizeDict bound (DynamoDB's 400 KB as moto measures it)


def measure_updated_items_once() -> None:
    """An update expression's item is measured once, after all its actions, against the same limit.

    moto's size-checked dict re-measured every attribute of the item at each top-level attribute an update
    set (a claim sets eight: eight measurements of the whole item, as much CPU as moto's expression checks),
    and judged each on the item's size before plus the new value, counting a replaced attribute twice. Here
    the item as written is measured, as DynamoDB judges it, and an update that would pass the limit is
    refused with moto's error and leaves the item as it was (moto left the actions before the one that
    crossed it applied)."""
    from moto.dynamodb.exceptions import ItemSizeTooLarge
    from moto.dynamodb.models.dynamo_type import LimitedSizeDict
    from moto.dynamodb.models.utilities import bytesize
    from moto.dynamodb.parsing.executors import UpdateExpressionExecutor

    apply_bound_plans_directly()  # inside the measuring: a planned update is measured like any other

    class Unmeasured(LimitedSizeDict):  # moto's dict while an expression runs: sets without measuring
        __setitem__ = dict.__setitem__

    def once(execute: Any) -> Any:
        def execute_then_measure(self: Any, node: Any = None) -> Any:
            attrs = getattr(self.item, "attrs", None)
            if node is not None or type(attrs) is not LimitedSizeDict:  # a child node, or not moto's dict
                return execute(self, node)
            before = _marshalled(attrs)
            attrs.__class__ = Unmeasured
            try:
                result = execute(self, node)
            finally:
                attrs.__class__ = LimitedSizeDict
            if sum(bytesize(name) + value.size() for name, value in attrs.items()) > _ITEM_LIMIT:
                dict.clear(attrs)
                dict.update(attrs, _unmarshalled(before))
                raise ItemSizeTooLarge
            return result

        return execute_then_measure

    replace(UpdateExpressionExecutor, "execute", "measured-once", once)
