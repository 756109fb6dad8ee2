"""The cursor a listing answers: each page ends where its items reach ``PAGE_MAX_BYTES`` of JSON."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

NextCursor = Annotated[str | None, Field(description="pass as ?cursor= for the next page; null on the last")]
