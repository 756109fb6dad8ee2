"""Webhook subscriptions and their failed deliveries."""

from __future__ import annotations

from fastapi import APIRouter, status

from annolake_service.api.deps import PROJECT_PATH, CanManageWebhooks
from annolake_service.api.models.errors import PROJECT_ERRORS, error_responses
from annolake_service.api.models.webhooks import (
    FailedDeliveriesPublic,
    RedeliveryPublic,
    WebhookCreate,
    WebhookCreatedPublic,
    WebhooksPublic,
)
from annolake_service.services import webhooks

router = APIRouter(prefix=f"{PROJECT_PATH}/webhooks", tags=["webhooks"], responses=PROJECT_ERRORS)


@router.get("")
def list_webhooks(access: CanManageWebhooks) -> WebhooksPublic:
    return WebhooksPublic.model_validate({"webhooks": webhooks.list_webhooks(access.project_id)})


@router.post("", status_code=status.HTTP_201_CREATED, responses=error_responses(400))
def create_webhook(body: WebhookCreate, access: CanManageWebhooks) -> WebhookCreatedPublic:
    """Subscribe a URL to events; deliveries are signed with the returned secret (shown this once)."""
    return WebhookCreatedPublic.model_validate(
        webhooks.create(access.project_id, body, author=access.principal.principal_id)
    )


@router.delete("/{webhook_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_webhook(webhook_id: str, access: CanManageWebhooks) -> None:
    webhooks.delete(access.project_id, webhook_id)


@router.get("/{webhook_id}/failures")
def list_failures(webhook_id: str, access: CanManageWebhooks) -> FailedDeliveriesPublic:
    """Deliveries that failed after their retries (newest first), with the receiver's last answer."""
    return FailedDeliveriesPublic.model_validate({"failures": webhooks.failures(access.project_id, webhook_id)})


@router.post("/{webhook_id}/failures/{failure_id}/redeliver", response_model_exclude_none=True)
def redeliver(webhook_id: str, failure_id: str, access: CanManageWebhooks) -> RedeliveryPublic:
    """Try the delivery again now: ``status`` when it was delivered, ``error`` (and listed again) when not."""
    return RedeliveryPublic.model_validate(webhooks.redeliver(access.project_id, webhook_id, failure_id))
