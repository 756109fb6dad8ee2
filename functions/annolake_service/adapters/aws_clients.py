"""AWS clients, created once per process, with botocore's standard retry mode.

Built on botocore directly (PynamoDB already needs it); boto3 would add its resource layer and
s3transfer to every cold start without being used.
"""

from __future__ import annotations

import platform
import re
import threading
from collections.abc import Iterator
from datetime import datetime
from functools import cache
from typing import Any

import botocore
import botocore.parsers
import botocore.session
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from pynamodb.exceptions import PynamoDBException

from annolake_service.shared.settings import get_settings
from annolake_service.shared.timestamps import read_aws_timestamp


class TransientError(Exception):
    """An AWS call that failed after botocore's own retries and may succeed later: the state machines retry
    their steps on this error name (``infra/constructs/state_machine.py``), and the steps are idempotent."""


# Error codes AWS gives for a call that may succeed when made again (throttling, a service's own failure).
RETRYABLE_CODES = frozenset(
    {
        "InternalError",
        "InternalFailure",
        "InternalServerError",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "RequestTimeout",
        "ServiceUnavailable",
        "SlowDown",
        "ThrottledException",
        "Throttling",
        "ThrottlingException",
        "TooManyRequestsException",
        "TransactionInProgressException",
    }
)


def described(error: Exception) -> Exception:
    """``error`` as a step should end with: an AWS failure that may pass is a ``TransientError`` (the state
    machines retry it), and every AWS failure names the service's code and message (PynamoDB's own messages
    say only which call failed), so the reason a step records tells a person what happened."""
    cause = getattr(error, "cause", None) if isinstance(error, PynamoDBException) else error
    if not isinstance(cause, ClientError | BotoCoreError):
        return error
    if isinstance(cause, ClientError):
        code = cause.response.get("Error", {}).get("Code", "")
        status = cause.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        retryable = code in RETRYABLE_CODES or status >= 500
    else:
        code, retryable = type(cause).__name__, True  # no answer at all: a connection that failed
    message = str(error) if cause is error else f"{error}: {cause}"
    if retryable:
        return TransientError(message)
    return error if cause is error else type(error)(message, cause)


# A fixed User-Agent: botocore otherwise rebuilds its header from some 30 components on every request (about a
# tenth of the client's CPU for a small GetObject, paid per image by the model function and per file by ingest).
_USER_AGENT = f"annolake Botocore/{botocore.__version__} Python/{platform.python_version()}"
_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5}, signature_version="s3v4", user_agent=_USER_AGENT)


def parse_timestamp(value: Any) -> datetime:
    """A response's timestamp as botocore reads it, the two forms AWS sends read without ``dateutil``."""
    found = read_aws_timestamp(value)
    if found is None:
        found = botocore.parsers.DEFAULT_TIMESTAMP_PARSER(value)
    return found


@cache
def session() -> botocore.session.Session:
    """One botocore session per process: its credentials are resolved once, then refreshed by botocore. Its
    clients read timestamps with ``parse_timestamp``."""
    made = botocore.session.get_session()
    made.get_component("response_parser_factory").set_parser_defaults(timestamp_parser=parse_timestamp)
    return made


def credentials() -> Any:
    """The credentials the clients sign with (refreshed by botocore when they are temporary)."""
    return session().get_credentials()


class _Clients:
    """One client per service for the process, made on first use. A client made while no credentials could be
    found (none in the environment yet) is not kept: it would sign nothing for the life of the process, so the
    next call looks for credentials again. Threads asking at once for a client not made yet wait for the one
    being made (making one costs 10-150 ms of CPU: twenty threads each making their own stalled a process's
    first requests for seconds)."""

    def __init__(self) -> None:
        self._made: dict[str, Any] = {}
        self._making = threading.Lock()

    def __call__(self, service: str) -> Any:
        known = self._made.get(service)
        if known is not None:
            return known
        with self._making:
            return self._made.get(service) or self._make(service)

    def _make(self, service: str) -> Any:
        made = _created(service, _CONFIG)
        _cache_endpoints_past_unread_parameters(made)
        if made._get_credentials() is not None:  # noqa: SLF001 - botocore's own accessor of the signer's
            self._made[service] = made
        return made

    def cache_clear(self) -> None:
        self._made.clear()


client = _Clients()


def table_client(*, max_attempts: int, max_pool_connections: int) -> Any:
    """A DynamoDB client for PynamoDB's item classes: what PynamoDB would make (no client-side parameter
    validation, its timeouts, ``max_attempts`` in all), signed by this process's session and sending the fixed
    User-Agent (PynamoDB's own client rebuilt botocore's on every request: ~3% of an API worker's CPU)."""
    config = Config(
        parameter_validation=False,
        connect_timeout=15,
        read_timeout=30,
        max_pool_connections=max_pool_connections,
        retries={"mode": "standard", "total_max_attempts": max_attempts},
    )
    return _created("dynamodb", _CONFIG.merge(config))


def _created(service: str, config: Config) -> Any:
    """A new client of ``service`` from this process's session, for the configured region and endpoint."""
    settings = get_settings()
    return session().create_client(
        service, region_name=settings.aws_region, endpoint_url=settings.aws_endpoint_url, config=config
    )


def _cache_endpoints_past_unread_parameters(made: Any) -> None:
    """botocore caches resolved endpoints keyed by every parameter of the service's endpoint ruleset, and S3's
    declares ``Key``, ``Prefix`` and ``CopySource`` though no rule reads them: each new object key evaluated the
    whole ruleset again (about a quarter of the client's CPU for a small GetObject, paid per image by the model
    function and per file by ingest). Parameters no rule reads are left out, so the cache hits; the endpoint is
    the same. A botocore without these internals is left as it is."""
    resolver = getattr(made, "_ruleset_resolver", None)
    build = getattr(resolver, "_get_provider_params", None)
    if resolver is None or build is None:
        return
    model = made.meta.service_model
    try:
        ruleset = (
            session()
            .get_component("data_loader")
            .load_service_model(model.service_name, "endpoint-rule-set-1", model.api_version)
        )
    except Exception:  # noqa: BLE001 - no ruleset to read: nothing to leave out
        return
    unread = set(ruleset.get("parameters", {})) - set(_referenced(ruleset.get("rules", [])))
    if not unread:
        return

    def provider_params(*args: Any, **kwargs: Any) -> dict[str, Any]:
        params: dict[str, Any] = build(*args, **kwargs)
        for name in unread:
            params.pop(name, None)
        return params

    resolver._get_provider_params = provider_params


def _referenced(node: Any) -> Iterator[str]:
    """Parameter names a ruleset's rules read: ``{"ref": name}`` and ``{name}`` / ``{name#path}`` in templates."""
    if isinstance(node, dict):
        if isinstance(node.get("ref"), str):
            yield node["ref"]
        for value in node.values():
            yield from _referenced(value)
    elif isinstance(node, list):
        for value in node:
            yield from _referenced(value)
    elif isinstance(node, str):
        yield from re.findall(r"\{([A-Za-z0-9_]+)", node)
