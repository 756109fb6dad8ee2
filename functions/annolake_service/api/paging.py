"""Listings answered whole until now, cut into pages that bound their bytes (``services.page_bytes``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Annotated, TypeVar

from fastapi import Query
from pydantic import BaseModel

from annolake_service.services import page_bytes

M = TypeVar("M", bound=BaseModel)

CursorQuery = Annotated[
    str | None, Query(description="the previous page's cursor (a page ends where its items reach the byte limit)")
]


def page_of(
    listing: str,
    items: Sequence[M],
    cursor: str | None,
    position: Callable[[M], list[str]],
    *,
    descending: bool = False,
) -> tuple[list[M], str | None]:
    """The page of ``items`` (ordered by ``position``) after ``cursor``, and the next page's cursor."""
    return page_bytes.listing_page(
        listing,
        items,
        cursor=cursor,
        position=position,
        body=lambda item: item.model_dump(mode="json"),
        descending=descending,
    )
