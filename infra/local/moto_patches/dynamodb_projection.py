"""Projections of top-level attributes copy those attributes, not the whole item.

moto projects an item by converting all of it to plain JSON once per projected name (a file item's carried
instances included), then serializing the picked values back: a read asking for six small attributes of a
large item costs six conversions of the item. DynamoDB projects on the server, so what a projection saves is
what the emulator should save too. Nested paths (``a.b``, ``a[0]``) still go through moto's own projection.

An item no write changes any more (``dynamodb_locking.freeze``: what a read decoded) is projected by sharing its
attributes' values, as reads answer such an item whole without copying it: copying them and re-measuring the
item at each attribute put made a projected page of the workflow's queue cost the emulator more than the whole
page.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

from infra.local.moto_patches.dynamodb_locking import freeze, frozen
from infra.local.moto_patches.patching import replace


def project_top_level_attributes() -> None:
    from moto.dynamodb.models.dynamo_type import Item, LimitedSizeDict

    def make(project: Callable[[Item, list[list[str]]], Item]) -> Callable[[Item, list[list[str]]], Item]:
        def projected(self: Item, projection_expressions: list[list[str]]) -> Item:
            if any(len(path) != 1 for path in projection_expressions):
                return project(self, projection_expressions)
            if frozen(self):
                shared = object.__new__(Item)
                shared.hash_key, shared.range_key = self.hash_key, self.range_key
                attrs = LimitedSizeDict.__new__(LimitedSizeDict)
                dict.update(attrs, {name: self.attrs[name] for (name,) in projection_expressions if name in self.attrs})
                shared.attrs = attrs
                return freeze(shared)
            result = Item(hash_key=self.hash_key, range_key=self.range_key, attrs={})
            for (name,) in projection_expressions:
                if name in self.attrs:
                    result.attrs[name] = copy.deepcopy(self.attrs[name])
            return result

        return projected

    replace(Item, "project", "project_top_level_attributes", make)
