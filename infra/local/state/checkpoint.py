"""Folding journal entries into a manifest: the checkpoint is the manifest with every entry applied in order.

An entry is the state of one thing after a request (see ``capture``): ``item`` (a table's item by key, or
None once deleted), ``object`` (a bucket's object by key, or None), ``pool`` (a user pool's users and groups,
whole). Applying one replaces what the manifest held for that key.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from typing import Any


def key_identity(key: dict[str, Any]) -> str:
    """One text per DynamoDB key, whatever the spelling of its numbers."""

    def canonical(value: dict[str, Any]) -> Any:
        ((kind, content),) = value.items()
        if kind == "N":
            try:
                return {"N": str(Decimal(content).normalize())}
            except InvalidOperation:
                return value
        return value

    return json.dumps({name: canonical(value) for name, value in key.items()}, sort_keys=True)


class Folder:
    """Applies entries to ``manifest`` in place, with an index per table and bucket built on first use."""

    def __init__(self, manifest: dict[str, Any]) -> None:
        self.manifest = manifest
        self._items: dict[str, dict[str, int]] = {}
        self._objects: dict[str, dict[str, int]] = {}
        self.applied = 0

    def apply(self, entries: Iterable[dict[str, Any]]) -> None:
        for entry in entries:
            kind = entry["t"]
            if kind == "item":
                self._item(entry)
            elif kind == "object":
                self._object(entry)
            elif kind == "pool":
                self.manifest["user_pools"][entry["pool"]] = entry["state"]
            else:
                raise ValueError(f"unknown journal entry {kind!r}")
            self.applied += 1

    def _item(self, entry: dict[str, Any]) -> None:
        table = self.manifest["tables"].setdefault(entry["table"], {"physical_name": "", "items": []})
        items: list[dict[str, Any] | None] = table["items"]
        names = sorted(entry["key"])
        index = self._items.get(entry["table"])
        if index is None:
            index = self._items[entry["table"]] = {
                key_identity({n: item[n] for n in names}): position
                for position, item in enumerate(items)
                if item is not None and all(n in item for n in names)
            }
        identity = key_identity(entry["key"])
        position = index.get(identity)
        if entry["item"] is None:
            if position is not None:
                items[position] = None
                del index[identity]
        elif position is None:
            index[identity] = len(items)
            items.append(entry["item"])
        else:
            items[position] = entry["item"]

    def _object(self, entry: dict[str, Any]) -> None:
        bucket = self.manifest["buckets"].setdefault(entry["bucket"], {"physical_name": "", "objects": []})
        objects: list[dict[str, Any] | None] = bucket["objects"]
        index = self._objects.get(entry["bucket"])
        if index is None:
            index = self._objects[entry["bucket"]] = {
                obj["key"]: position for position, obj in enumerate(objects) if obj is not None
            }
        position = index.get(entry["key"])
        if entry["object"] is None:
            if position is not None:
                objects[position] = None
                del index[entry["key"]]
        elif position is None:
            index[entry["key"]] = len(objects)
            objects.append(entry["object"])
        else:
            objects[position] = entry["object"]

    def finish(self) -> dict[str, Any]:
        """The manifest with deleted items and objects dropped."""
        for table in self.manifest["tables"].values():
            table["items"] = [item for item in table["items"] if item is not None]
        for bucket in self.manifest["buckets"].values():
            bucket["objects"] = [obj for obj in bucket["objects"] if obj is not None]
        self._items.clear()
        self._objects.clear()
        return self.manifest


def referenced_blobs(manifest: dict[str, Any]) -> set[str]:
    return {obj["sha256"] for bucket in manifest["buckets"].values() for obj in bucket["objects"]}
