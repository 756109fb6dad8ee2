"""Webhook subscriptions, their failed deliveries, and redelivery."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from annolake_service.api.models.paging import NextCursor
from annolake_service.domain.webhooks import WebhookSpec as WebhookCreate  # the spec a subscription is created from

__all__ = [
    "FailedDeliveriesPublic",
    "FailedDeliveryPublic",
    "RedeliveryPublic",
    "WebhookCreate",
    "WebhookCreatedPublic",
    "WebhookPublic",
    "WebhooksPublic",
]


class WebhookPublic(BaseModel):
    webhook_id: str
    url: str
    events: list[str]
    description: str
    created_by: str
    created_at: datetime


class WebhookCreatedPublic(BaseModel):
    webhook: WebhookPublic
    secret: str = Field(description="the signing secret, shown this once")


class WebhooksPublic(BaseModel):
    webhooks: list[WebhookPublic]
    cursor: NextCursor = None


class FailedDeliveryPublic(BaseModel):
    failure_id: str
    delivery_id: str
    event_type: str
    event: dict[str, Any]
    attempts: int
    last_error: str
    failed_at: datetime


class FailedDeliveriesPublic(BaseModel):
    failures: list[FailedDeliveryPublic]
    cursor: NextCursor = None


class RedeliveryPublic(BaseModel):
    """The outcome of one more delivery attempt: the receiver's status, or the error (the failure is listed again)."""

    webhook_id: str
    delivered: bool
    status: int | None = Field(default=None, description="the receiver's HTTP status (delivered)")
    error: str | None = Field(default=None, description="why it failed again (not delivered)")
