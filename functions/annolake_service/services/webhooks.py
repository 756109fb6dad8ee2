"""Webhook subscriptions and delivery.

Domain events reach the delivery function through EventBridge (rule) -> SQS -> Lambda. For each subscription
of the event's project that wants its type, the event is POSTed, signed (``domain/webhooks.py``), with retries
and exponential backoff; a delivery that still fails is kept on the webhook's failure list (its dead-letter
list) with the receiver's last answer, and can be redelivered from there.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from annolake_service.adapters import secrets as secret_store
from annolake_service.adapters import web_fetch
from annolake_service.adapters.dynamo import webhooks as webhook_repo
from annolake_service.domain import webhooks as rules
from annolake_service.domain.entities import Webhook, WebhookFailure
from annolake_service.domain.url_policy import UrlRefused, check_url
from annolake_service.shared.errors import BadRequest, NotFound
from annolake_service.shared.observability import logger
from annolake_service.shared.settings import get_settings

DELIVERY_ATTEMPTS = 4
BACKOFF_SECONDS = 0.5  # urllib3 sleeps 0 s, 1 s, 2 s between the attempts
FAILURE_RETENTION = timedelta(days=14)


def _public(webhook: Webhook) -> dict[str, Any]:
    return webhook.model_dump(exclude={"project_id", "secret_ref"})


def _failure_body(failure: WebhookFailure) -> dict[str, Any]:
    return failure.model_dump(exclude={"webhook_id"})


def create(project_id: str, spec: rules.WebhookSpec, *, author: str) -> dict[str, Any]:
    """Subscribe; the signing secret is returned this once (given, or generated) and kept in Secrets Manager."""
    try:
        scheme, _ = check_url(spec.url)
    except UrlRefused as exc:
        raise BadRequest(f"webhook url: {exc}") from None
    if scheme != "https" and not get_settings().allow_private_urls:
        raise BadRequest("webhook urls must use https")
    webhook_id = f"wh_{secrets.token_hex(6)}"
    secret = spec.secret or rules.new_secret()
    secret_ref = secret_store.store_secret(secret_store.secret_name(project_id, webhook_id), secret)
    webhook = Webhook(
        project_id=project_id,
        webhook_id=webhook_id,
        url=spec.url,
        events=list(spec.events),
        description=spec.description,
        secret_ref=secret_ref,
        created_by=author,
        created_at=datetime.now(UTC),
    )
    webhook_repo.put_webhook(webhook)
    return {"webhook": _public(webhook), "secret": secret}


def list_webhooks(project_id: str) -> list[dict[str, Any]]:
    return [_public(w) for w in webhook_repo.list_webhooks(project_id)]


def _get(project_id: str, webhook_id: str) -> Webhook:
    webhook = webhook_repo.get_webhook(project_id, webhook_id)
    if webhook is None:
        raise NotFound(f"webhook {webhook_id!r} not found in project {project_id!r}")
    return webhook


def delete(project_id: str, webhook_id: str) -> None:
    webhook = _get(project_id, webhook_id)
    webhook_repo.delete_webhook(project_id, webhook_id)
    secret_store.delete_secret(webhook.secret_ref)


def failures(project_id: str, webhook_id: str) -> list[dict[str, Any]]:
    _get(project_id, webhook_id)
    return [_failure_body(f) for f in webhook_repo.list_failures(project_id, webhook_id)]


def redeliver(project_id: str, webhook_id: str, failure_id: str) -> dict[str, Any]:
    """Try a failed delivery again now; if it fails again it goes back on the list with the new error."""
    webhook = _get(project_id, webhook_id)
    failure = webhook_repo.pop_failure(project_id, webhook_id, failure_id)
    if failure is None:
        raise NotFound(f"no failed delivery {failure_id!r} on webhook {webhook_id!r}")
    return _deliver_one(project_id, webhook, failure.event, failure.delivery_id)


# --- delivery -----------------------------------------------------------------------------


def subscriptions(project_id: str) -> list[Webhook]:
    """A project's webhooks as delivery reads them (with their secret references)."""
    return webhook_repo.list_webhooks(project_id)


def deliver(
    event: dict[str, Any], read_subscriptions: Callable[[str], list[Webhook]] = subscriptions
) -> list[dict[str, Any]]:
    """Deliver one EventBridge event (``detail-type``, ``detail``, ``id``) to the subscriptions that want it.

    ``read_subscriptions`` reads a project's webhooks (a batch's handler passes one that reads each project once)."""
    event_type = event.get("detail-type", "")
    detail = event.get("detail") or {}
    project_id = detail.get("project_id")
    if not project_id or event_type not in rules.EVENT_TYPES:
        logger.warning("not a project event; ignored", extra={"event": event})
        return []
    body = {"id": event.get("id"), "type": event_type, "project_id": project_id, "data": detail}
    outcomes = []
    for webhook in read_subscriptions(project_id):
        if rules.wants(webhook.events, event_type):
            delivery_id = f"{event.get('id') or secrets.token_hex(8)}:{webhook.webhook_id}"
            outcomes.append(_deliver_one(project_id, webhook, body, delivery_id))
    return outcomes


def _deliver_one(project_id: str, webhook: Webhook, body: dict[str, Any], delivery_id: str) -> dict[str, Any]:
    payload = json.dumps(body, separators=(",", ":"), default=str).encode()
    timestamp = int(time.time())
    headers = {
        rules.EVENT_HEADER: str(body.get("type")),
        rules.DELIVERY_HEADER: delivery_id,
        rules.TIMESTAMP_HEADER: str(timestamp),
        rules.SIGNATURE_HEADER: rules.signature(secret_store.read_secret(webhook.secret_ref), timestamp, payload),
    }
    try:
        status = web_fetch.post_json(
            webhook.url,
            payload,
            headers,
            allow_private=get_settings().allow_private_urls,
            attempts=DELIVERY_ATTEMPTS,
            backoff_seconds=BACKOFF_SECONDS,
        )
    except web_fetch.DeliveryFailed as exc:
        now = datetime.now(UTC)
        webhook_repo.add_failure(
            project_id,
            webhook.webhook_id,
            delivery_id=delivery_id,
            event_type=str(body.get("type")),
            event=body,
            attempts=exc.attempts,
            last_error=str(exc)[:1000],
            failed_at=now,
            expires_at=int((now + FAILURE_RETENTION).timestamp()),
        )
        logger.warning("webhook delivery failed", extra={"webhook_id": webhook.webhook_id, "error": str(exc)})
        return {"webhook_id": webhook.webhook_id, "delivered": False, "error": str(exc)}
    return {"webhook_id": webhook.webhook_id, "delivered": True, "status": status}
