"""A file's user metadata: one JSON object of bounded size.

It is stored on the file's item, beside the summary the queries read and the annotations a stream page
carries, and a DynamoDB item holds 400 KB in all: unchecked, a large value failed the write deep inside
the store (an API 500, or an ingest quarantined for "Item size has exceeded the maximum").
"""

from __future__ import annotations

import json
from typing import Any

# The file's item also holds its summary of attribute values, which a version of up to 350 KB of instances
# (annotations.MAX_VERSION_BYTES) can fill to almost that size: 350 + 32 KB and the other fields stay within
# DynamoDB's 400 KB.
MAX_METADATA_BYTES = 32 * 1024


class InvalidMetadata(ValueError):
    """Metadata that cannot be stored; the message names the problem and the fix."""


def checked_metadata(metadata: Any, *, source: str = "metadata") -> dict[str, Any]:
    """``metadata`` if it is a JSON object within the size limit; ``source`` names it in the error."""
    if not isinstance(metadata, dict):
        raise InvalidMetadata(f"{source} must be a JSON object of names to values, not {type(metadata).__name__}")
    size = len(json.dumps(metadata, ensure_ascii=False, separators=(",", ":"), default=str).encode())
    if size > MAX_METADATA_BYTES:
        raise InvalidMetadata(
            f"{source} comes to {size // 1024} KB as JSON; a file's metadata holds at most "
            f"{MAX_METADATA_BYTES // 1024} KB: keep large values (documents, embeddings) in your own store "
            "and put their key or URL here"
        )
    return metadata
