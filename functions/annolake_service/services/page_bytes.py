"""Pages bound their bytes: a page of large items ends early and its cursor carries on from the last one.

A Lambda function answers at most 6 MB, so a page whose items could add up to more (files with large
metadata or annotations, annotation versions) stops at ``PAGE_MAX_BYTES`` of JSON; every listing with such
items takes its cut here.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, TypeVar

from annolake_service.shared.settings import get_settings

T = TypeVar("T")


def take(items: Iterable[T], budget: int | None = None) -> tuple[list[T], bool]:
    """The leading ``items`` whose JSON fits ``budget`` bytes (``PAGE_MAX_BYTES`` by default; at least one item),
    and whether any was left out. ``items`` is consumed only as far as the page goes."""
    limit = get_settings().page_max_bytes if budget is None else budget
    taken: list[T] = []
    used = 0
    for item in items:
        used += len(json.dumps(item, default=str)) + 1
        if used > limit and taken:
            return taken, True
        taken.append(item)
    return taken, False


def fitting(items: list[Any], budget: int | None = None) -> int:
    """How many leading ``items`` fit ``budget`` bytes of JSON (``PAGE_MAX_BYTES`` by default), at least one."""
    return len(take(items, budget)[0])
