"""Webhook subscriptions and their failed deliveries."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, status
from pydantic import BaseModel, Field

from annolake_service.api.deps import ProjectAccess, require
from annolake_service.domain.permissions import Action
from annolake_service.domain.webhooks import WebhookSpec
from annolake_service.services import webhooks

router = APIRouter(tags=["webhooks"])
P = "/projects/{project_string_id}/webhooks"


class WebhookView(BaseModel):
    webhook_id: str
    url: str
    events: list[str]
    description: str
    created_by: str
    created_at: datetime


class WebhookCreated(BaseModel):
    webhook: WebhookView
    secret: str = Field(description="the signing secret, shown this once")


class WebhookList(BaseModel):
    webhooks: list[WebhookView]


class FailedDelivery(BaseModel):
    failure_id: str
    delivery_id: str
    event_type: str
    event: dict[str, Any]
    attempts: int
    last_error: str
    failed_at: datetime


class FailureList(BaseModel):
    failures: list[FailedDelivery]


@router.get(P)
def list_webhooks(access: Annotated[ProjectAccess, Depends(require(Action.WEBHOOK_MANAGE))]) -> WebhookList:
    return WebhookList(webhooks=[WebhookView(**w) for w in webhooks.list_webhooks(access.project_id)])


@router.post(P, status_code=status.HTTP_201_CREATED)
def create_webhook(
    body: WebhookSpec, access: Annotated[ProjectAccess, Depends(require(Action.WEBHOOK_MANAGE))]
) -> WebhookCreated:
    return WebhookCreated(**webhooks.create(access.project_id, body, author=access.principal.principal_id))


@router.delete(P + "/{webhook_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_webhook(webhook_id: str, access: Annotated[ProjectAccess, Depends(require(Action.WEBHOOK_MANAGE))]) -> None:
    webhooks.delete(access.project_id, webhook_id)


@router.get(P + "/{webhook_id}/failures")
def list_failures(
    webhook_id: str, access: Annotated[ProjectAccess, Depends(require(Action.WEBHOOK_MANAGE))]
) -> FailureList:
    """Deliveries that failed after their retries (newest first), with the receiver's last answer."""
    return FailureList(failures=[FailedDelivery(**f) for f in webhooks.failures(access.project_id, webhook_id)])


@router.post(P + "/{webhook_id}/failures/{failure_id}/redeliver")
def redeliver(
    webhook_id: str, failure_id: str, access: Annotated[ProjectAccess, Depends(require(Action.WEBHOOK_MANAGE))]
) -> dict[str, Any]:
    return webhooks.redeliver(access.project_id, webhook_id, failure_id)
