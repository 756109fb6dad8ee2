"""Pages bound their bytes: a page of large items ends early and its cursor carries on from the last one.

A Lambda function answers at most 6 MB, so a page whose items could add up to more (files with large
metadata or annotations, annotation versions) stops at ``PAGE_MAX_BYTES`` of JSON; every listing takes its
cut here: those read a page at a time from the table (``take``, ``fitting``), and those read whole, whose
cursor is the position of the last item answered (``listing_page``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from annolake_service.adapters.dynamo import cursors
from annolake_service.shared.errors import BadRequest
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


def listing_page(
    listing: str,
    items: Iterable[T],
    *,
    cursor: str | None,
    position: Callable[[T], list[str]],
    body: Callable[[T], Any],
    descending: bool = False,
    budget: int | None = None,
) -> tuple[list[T], str | None]:
    """A page of a listing read whole (few items, not always few bytes: long descriptions, large metadata or
    events) and the cursor of the next page (None on the last).

    The items are ordered by ``position`` (unique per item), the page starts after the cursor's position and
    holds what fits ``budget`` bytes of JSON (``body``: an item as it is answered). A cursor names a position,
    not an index, so an item added or removed between two pages shifts no other."""
    ordered = sorted(items, key=position, reverse=descending)
    if cursor is not None:
        after = position_of(listing, cursor)
        ordered = [i for i in ordered if (position(i) < after if descending else position(i) > after)]
    page, more = take((body(item) for item in ordered), budget)
    kept = ordered[: len(page)]
    return kept, cursor_after(listing, position(kept[-1])) if more else None


def position_of(listing: str, cursor: str) -> Any:
    """The position a cursor of ``listing`` carries on from; 400 for any other text."""
    try:
        return cursors.decode(listing, cursor)
    except cursors.InvalidCursor as exc:
        raise BadRequest(str(exc)) from None


def cursor_after(listing: str, position: Any) -> str:
    return cursors.encode(listing, position)
