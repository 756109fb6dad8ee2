"""Listings answered whole until now, cut into pages that bound their bytes (``services.page_bytes``), and the
query of a stream page (a slice's or a snapshot's)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Annotated, TypedDict, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel

from annolake_service.api.models.slices import PREDICTIONS_HELP
from annolake_service.services import page_bytes, slices

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


class StreamPageOptions(TypedDict):
    """The keyword arguments of ``slices.slice_page`` and ``snapshots.snapshot_page`` that the query sets."""

    offset: int
    limit: int
    cursor: str | None
    url_expires_in: int | None
    url_kinds: frozenset[str]
    predictions: str | None


def _stream_page_options(
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=slices.MAX_STREAM_PAGE)] = 100,
    cursor: Annotated[str | None, Query(description="the previous page's cursor (instead of offset)")] = None,
    url_expires_in: Annotated[int | None, Query(ge=1, description="seconds the presigned URLs live")] = None,
    urls: Annotated[
        str, Query(description="the presigned URLs each item carries: media, thumbnail, or both (comma-separated)")
    ] = "media,thumbnail",
    predictions: Annotated[str | None, Query(min_length=1, max_length=200, description=PREDICTIONS_HELP)] = None,
) -> StreamPageOptions:
    kinds = slices.parse_url_kinds(urls)
    return StreamPageOptions(
        offset=offset,
        limit=limit,
        cursor=cursor,
        url_expires_in=url_expires_in,
        url_kinds=kinds,
        predictions=predictions,
    )


StreamPageQuery = Annotated[StreamPageOptions, Depends(_stream_page_options)]
