"""Webhook subscriptions and their failed deliveries."""

from __future__ import annotations

from fastapi import APIRouter, status

from annolake_service.api.deps import PROJECT_PATH, CanManageWebhooks
from annolake_service.api.models.errors import PROJECT_ERRORS, error_responses
from annolake_service.api.models.webhooks import (
    FailedDeliveriesPublic,
    FailedDeliveryPublic,
    RedeliveryPublic,
    WebhookCreate,
    WebhookCreatedPublic,
    WebhookPublic,
    WebhooksPublic,
)
from annolake_service.api.paging import CursorQuery, page_of
from annolake_service.services import webhooks

router = APIRouter(prefix=f"{PROJECT_PATH}/webhooks", tags=["webhooks"], responses=PROJECT_ERRORS)


@router.get("", responses=error_responses(400))
def list_webhooks(access: CanManageWebhooks, cursor: CursorQuery = None) -> WebhooksPublic:
    listed = [WebhookPublic.model_validate(w) for w in webhooks.list_webhooks(access.project_id)]
    listing = f"webhooks:{access.project_id}"
    page, next_cursor = page_of(listing, listed, cursor, lambda w: [w.created_at.isoformat(), w.webhook_id])
    return WebhooksPublic(webhooks=page, cursor=next_cursor)


@router.post("", status_code=status.HTTP_201_CREATED, responses=error_responses(400))
def create_webhook(body: WebhookCreate, access: CanManageWebhooks) -> WebhookCreatedPublic:
    """Subscribe a URL to events; deliveries are signed with the returned secret (shown this once)."""
    return WebhookCreatedPublic.model_validate(
        webhooks.create(access.project_id, body, author=access.principal.principal_id)
    )


@router.delete("/{webhook_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_webhook(webhook_id: str, access: CanManageWebhooks) -> None:
    webhooks.delete(access.project_id, webhook_id)


@router.get("/{webhook_id}/failures", responses=error_responses(400))
def list_failures(webhook_id: str, access: CanManageWebhooks, cursor: CursorQuery = None) -> FailedDeliveriesPublic:
    """Deliveries that failed after their retries (newest first), with the receiver's last answer."""
    listed = [FailedDeliveryPublic.model_validate(f) for f in webhooks.failures(access.project_id, webhook_id)]
    listing = f"webhook-failures:{access.project_id}/{webhook_id}"
    page, next_cursor = page_of(
        listing, listed, cursor, lambda f: [f.failed_at.isoformat(), f.failure_id], descending=True
    )
    return FailedDeliveriesPublic(failures=page, cursor=next_cursor)


@router.post("/{webhook_id}/failures/{failure_id}/redeliver", response_model_exclude_none=True)
def redeliver(webhook_id: str, failure_id: str, access: CanManageWebhooks) -> RedeliveryPublic:
    """Try the delivery again now: ``status`` when it was delivered, ``error`` (and listed again) when not."""
    return RedeliveryPublic.model_validate(webhooks.redeliver(access.project_id, webhook_id, failure_id))
