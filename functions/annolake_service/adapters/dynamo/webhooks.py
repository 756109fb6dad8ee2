"""Webhook subscriptions and their failed deliveries (the dead-letter list)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from annolake_service.adapters.dynamo import keys
from annolake_service.adapters.dynamo.items import WebhookFailureItem, WebhookItem
from annolake_service.adapters.dynamo.table import bind
from annolake_service.domain.entities import Webhook, WebhookFailure


def _webhook(item: WebhookItem) -> Webhook:
    return Webhook(
        project_id=item.project_id,
        webhook_id=item.webhook_id,
        url=item.url,
        events=list(item.events),
        description=item.description,
        secret_ref=item.secret_ref,
        created_by=item.created_by,
        created_at=item.created_at,
    )


def put_webhook(webhook: Webhook) -> None:
    bind()
    WebhookItem(
        PK=keys.project_pk(webhook.project_id),
        SK=keys.webhook_sk(webhook.webhook_id),
        kind=WebhookItem.KIND,
        **webhook.model_dump(),
    ).save(condition=WebhookItem.PK.does_not_exist())


def list_webhooks(project_id: str) -> list[Webhook]:
    bind()
    found = WebhookItem.query(keys.project_pk(project_id), WebhookItem.SK.startswith(keys.WEBHOOK_PREFIX))
    return [_webhook(i) for i in found]


def get_webhook(project_id: str, webhook_id: str) -> Webhook | None:
    bind()
    try:
        return _webhook(WebhookItem.get(keys.project_pk(project_id), keys.webhook_sk(webhook_id)))
    except WebhookItem.DoesNotExist:
        return None


def delete_webhook(project_id: str, webhook_id: str) -> None:
    bind()
    WebhookItem(PK=keys.project_pk(project_id), SK=keys.webhook_sk(webhook_id)).delete()


# --- failed deliveries --------------------------------------------------------------------


def _failure(item: WebhookFailureItem) -> WebhookFailure:
    return WebhookFailure(
        webhook_id=item.webhook_id,
        failure_id=item.SK.removeprefix(keys.FAILURE_PREFIX),
        delivery_id=item.delivery_id,
        event_type=item.event_type,
        event=item.event,
        attempts=int(item.attempts),
        last_error=item.last_error,
        failed_at=item.failed_at,
    )


def add_failure(
    project_id: str,
    webhook_id: str,
    *,
    delivery_id: str,
    event_type: str,
    event: dict[str, Any],
    attempts: int,
    last_error: str,
    failed_at: datetime,
    expires_at: int,
) -> WebhookFailure:
    """Keep a delivery that kept failing until ``expires_at`` (epoch seconds)."""
    bind()
    item = WebhookFailureItem(
        PK=keys.webhook_failures_pk(project_id, webhook_id),
        SK=keys.failure_sk(keys.failure_id(failed_at, delivery_id)),
        kind=WebhookFailureItem.KIND,
        project_id=project_id,
        webhook_id=webhook_id,
        delivery_id=delivery_id,
        event_type=event_type,
        event=event,
        attempts=attempts,
        last_error=last_error,
        failed_at=failed_at,
        ttl=expires_at,
    )
    item.save()
    return _failure(item)


def list_failures(project_id: str, webhook_id: str, limit: int = 100) -> list[WebhookFailure]:
    """The webhook's failed deliveries, newest first."""
    bind()
    found = WebhookFailureItem.query(
        keys.webhook_failures_pk(project_id, webhook_id), scan_index_forward=False, limit=limit
    )
    return [_failure(i) for i in found]


def pop_failure(project_id: str, webhook_id: str, failure_id: str) -> WebhookFailure | None:
    """Take a failed delivery off the list (to deliver it again); None when it is not there."""
    bind()
    try:
        item = WebhookFailureItem.get(keys.webhook_failures_pk(project_id, webhook_id), keys.failure_sk(failure_id))
    except WebhookFailureItem.DoesNotExist:
        return None
    item.delete()
    return _failure(item)
