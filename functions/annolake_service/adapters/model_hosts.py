"""Sending a batch to a model the user hosts: a signed HTTPS POST, or a synchronous Lambda invocation."""

from __future__ import annotations

import json
from typing import Any

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from annolake_service.adapters import web_fetch
from annolake_service.adapters.aws_clients import session
from annolake_service.shared.settings import get_settings

ATTEMPTS = 4
BACKOFF_SECONDS = 1.0  # urllib3 sleeps 0 s, 2 s, 4 s between the attempts
READ_TIMEOUT_SECONDS = 120  # a batch of 25 images on a slow model
MAX_ANSWER_BYTES = 5 * 1024 * 1024


class HostFailed(Exception):
    """The model could not be reached, or failed, after the retries; the message says what happened."""


def _json(body: bytes, where: str) -> Any:
    try:
        return json.loads(body or b"null")
    except ValueError as exc:
        raise HostFailed(f"{where} answered something that is not JSON: {exc}") from None


def post_batch(url: str, body: bytes, headers: dict[str, str], *, allow_private: bool) -> Any:
    """POST the batch (connection errors, 408/429/5xx retried with backoff); the decoded answer."""
    try:
        _, answer = web_fetch.post_for_answer(
            url,
            body,
            headers,
            allow_private=allow_private,
            attempts=ATTEMPTS,
            backoff_seconds=BACKOFF_SECONDS,
            read_timeout=READ_TIMEOUT_SECONDS,
            max_answer_bytes=MAX_ANSWER_BYTES,
        )
    except web_fetch.DeliveryFailed as exc:
        raise HostFailed(f"{exc} (after {exc.attempts} attempts)" if exc.attempts > 1 else str(exc)) from None
    return _json(answer, url)


def _lambda_client() -> Any:
    """A Lambda client that waits as long for a batch as the HTTP host does (botocore's default is 60 s, after
    which it would invoke the function again); throttling and transient errors are retried."""
    settings = get_settings()
    config = Config(read_timeout=READ_TIMEOUT_SECONDS, retries={"mode": "standard", "max_attempts": ATTEMPTS})
    return session().create_client(
        "lambda", region_name=settings.aws_region, endpoint_url=settings.aws_endpoint_url, config=config
    )


def invoke_function(function_arn: str, body: bytes) -> Any:
    """Invoke the function synchronously; the decoded answer."""
    try:
        response = _lambda_client().invoke(FunctionName=function_arn, InvocationType="RequestResponse", Payload=body)
    except (BotoCoreError, ClientError) as exc:
        raise HostFailed(f"invoking {function_arn} failed: {exc}") from None
    payload = _json(response["Payload"].read(), function_arn)
    if response.get("FunctionError"):
        error = payload if isinstance(payload, dict) else {}
        raise HostFailed(
            f"{function_arn} raised {error.get('errorType', 'an error')}: {error.get('errorMessage', payload)}"
        )
    return payload
