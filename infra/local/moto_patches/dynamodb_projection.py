"""Projections of top-level attributes copy those attributes, not the whole item.

moto projects an item by converting all of it to plain JSON once per projected name (a file item's carried
instances included), then serializing the picked values back: a read asking for six small attributes of a
large item costs six conversions of the item. DynamoDB projects on the server, so what a projection saves is
what the emulator should save too. Nested paths (``a.b``, ``a[0]``) still go through moto's own projection.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

from infra.local.moto_patches.patching import replace


def project_top_level_attributes() -> None:
    from moto.dynamodb.models.dynamo_type import Item

    def make(project: Callable[[Item, list[list[str]]], Item]) -> Callable[[Item, list[list[str]]], Item]:
        def projected(self: Item, projection_expressions: list[list[str]]) -> Item:
            if any(len(path) != 1 for path in projection_expressions):
                return project(self, projection_expressions)
            result = Item(hash_key=self.hash_key, range_key=self.range_key, attrs={})
            for (name,) in projection_expressions:
                if name in self.attrs:
                    result.attrs[name] = copy.deepcopy(self.attrs[name])
            return result

        return projected

    replace(Item, "project", "project_top_level_attributes", make)
