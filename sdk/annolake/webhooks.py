"""Checking a webhook delivery in your receiver: ``verify_webhook(raw_body, headers, secret)``."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping


def verify_webhook(body: bytes, headers: Mapping[str, str], secret: str, *, tolerance_seconds: int = 300) -> bool:
    """True if ``Annolake-Signature`` is the HMAC-SHA256 of ``"<Annolake-Timestamp>.<body>"`` under ``secret``
    and the timestamp is recent (replays of old deliveries are refused). Pass the raw body, not re-encoded JSON."""
    lowered = {k.lower(): v for k, v in headers.items()}
    try:
        timestamp = int(lowered["annolake-timestamp"])
        received = lowered["annolake-signature"]
    except (KeyError, ValueError):
        return False
    if abs(time.time() - timestamp) > tolerance_seconds:
        return False
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(f"v1={expected}", received)
