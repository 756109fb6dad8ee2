"""Webhook signatures: what the platform sends is what a receiver (with the SDK's helper) accepts."""

from __future__ import annotations

import time

from annolake import verify_webhook
from annolake_service.domain.webhooks import signature, verify_signature


def test_a_signed_body_verifies_and_any_change_does_not():
    now = int(time.time())
    body = b'{"type":"task_created"}'
    header = signature("whsec_s3cret", now, body)
    headers = {"Annolake-Timestamp": str(now), "Annolake-Signature": header}
    assert verify_signature("whsec_s3cret", now, body, header, now=now)
    assert verify_webhook(body, headers, "whsec_s3cret")
    assert not verify_webhook(body + b" ", headers, "whsec_s3cret")
    assert not verify_webhook(body, headers, "another-secret")
    assert not verify_webhook(body, {**headers, "Annolake-Timestamp": str(now - 1)}, "whsec_s3cret")


def test_old_deliveries_are_refused_as_replays():
    then = int(time.time()) - 3600
    body = b"{}"
    header = signature("k" * 20, then, body)
    assert not verify_signature("k" * 20, then, body, header, now=int(time.time()))
    assert not verify_webhook(body, {"annolake-timestamp": str(then), "annolake-signature": header}, "k" * 20)
    assert not verify_webhook(body, {}, "k" * 20)
