"""Webhook subscriptions and their signatures.

Every delivery is a ``POST`` of the event as JSON with these headers::

    Annolake-Event: task_submitted
    Annolake-Delivery: <delivery id>          (the same on every retry of one delivery)
    Annolake-Timestamp: <unix seconds>
    Annolake-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>

A receiver recomputes the HMAC over the timestamp, a dot and the raw body with its subscription's secret,
compares in constant time (``verify_signature``), and rejects timestamps older than a few minutes (replays).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from pydantic import BaseModel, Field, field_validator

from annolake_service.domain.workflow import EVENT_TYPES, EventType

SIGNATURE_HEADER = "Annolake-Signature"
TIMESTAMP_HEADER = "Annolake-Timestamp"
EVENT_HEADER = "Annolake-Event"
DELIVERY_HEADER = "Annolake-Delivery"
DEFAULT_TOLERANCE_SECONDS = 300


class WebhookSpec(BaseModel):
    url: str = Field(min_length=8, max_length=2048, description="https:// (http:// allowed only locally)")
    events: list[EventType] = Field(min_length=1, description=f"any of {', '.join(EVENT_TYPES)}")
    secret: str | None = Field(
        default=None, min_length=16, max_length=256, description="signing secret; generated (and shown once) if absent"
    )
    description: str = Field(default="", max_length=500)

    @field_validator("events")
    @classmethod
    def _unique(cls, events: list[str]) -> list[str]:
        return list(dict.fromkeys(events))


def new_secret() -> str:
    return f"whsec_{secrets.token_urlsafe(32)}"


def signature(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"v1={digest}"


def verify_signature(
    secret: str, timestamp: int, body: bytes, header: str, *, now: int, tolerance: int = DEFAULT_TOLERANCE_SECONDS
) -> bool:
    """What a receiver does: constant-time compare, and refuse stale timestamps."""
    if abs(now - timestamp) > tolerance:
        return False
    return hmac.compare_digest(signature(secret, timestamp, body), header)


def wants(subscribed: list[str], event_type: str) -> bool:
    return event_type in subscribed
