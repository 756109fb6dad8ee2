"""The one cursor codec: an opaque token for "the page after this position" of one listing.

A cursor holds a format version, the listing it belongs to (its kind and scope, e.g. one dataset's files) and the
position (a sort key, a DynamoDB ``LastEvaluatedKey`` or an offset), with a checksum over all three. Decoding
refuses, with ``InvalidCursor``, a cursor of another version or listing, or one whose text was altered. The
checksum is not a signature (there is no secret): whoever decodes a position still checks it belongs to the
listing's partition, so a forged cursor can at most move within the caller's own listing.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from typing import Any

VERSION = 1
_CHECKSUM_BYTES = 12


class InvalidCursor(ValueError):
    """The cursor is not one this listing returned."""

    def __init__(self, message: str = "the cursor is not one this API returned; start again without a cursor"):
        super().__init__(message)


def _checksum(body: bytes) -> bytes:
    return hashlib.sha256(body).digest()[:_CHECKSUM_BYTES]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)


def encode(listing: str, position: Any) -> str:
    """The cursor of ``position`` (JSON-serialisable) in ``listing``."""
    body = json.dumps({"v": VERSION, "of": listing, "at": position}, separators=(",", ":"), sort_keys=True).encode()
    return f"{_b64(body)}.{_b64(_checksum(body))}"


def decode(listing: str, cursor: str) -> Any:
    """The position ``encode(listing, position)`` returned; InvalidCursor for any other text."""
    body_text, dot, checksum_text = cursor.partition(".")
    try:
        body, checksum = _unb64(body_text), _unb64(checksum_text)
        decoded = json.loads(body)
    except (binascii.Error, ValueError):  # bad base64, not UTF-8, not JSON
        raise InvalidCursor from None
    if not dot or checksum != _checksum(body) or not isinstance(decoded, dict):
        raise InvalidCursor
    if decoded.get("v") != VERSION or decoded.get("of") != listing or "at" not in decoded:
        raise InvalidCursor
    return decoded["at"]
