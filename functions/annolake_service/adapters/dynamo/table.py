"""The table itself: pointing the item classes at it, its connection, and whether it answers."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from functools import cache
from typing import Any

from pynamodb.connection import Connection
from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from annolake_service.adapters.aws_clients import client
from annolake_service.adapters.dynamo.conditions import conflicted, refused_writes
from annolake_service.adapters.dynamo.items import MODELS, FileItem
from annolake_service.shared.settings import get_settings

MAX_RETRY_ATTEMPTS = 5
#: Connections the one client pools: what the threads of one process may have in flight at once.
POOLED_CONNECTIONS = 64
_binding = threading.Lock()


@cache
def bind() -> None:
    """Point every item class at the configured table (and at the emulator when running locally), all through
    one botocore client.

    PynamoDB builds a client per item class on its first call (loading the service model, ~50 ms each), and
    every thread that makes that first call at once builds one: a process serving requests on 40 threads
    built hundreds at start, which took most of its time. One client, built here once, serves them all.
    """
    with _binding:
        settings = get_settings()
        for model in MODELS:
            model.Meta.table_name = settings.table_name
            model.Meta.region = settings.aws_region
            model.Meta.host = settings.aws_endpoint_url
            model.Meta.max_retry_attempts = MAX_RETRY_ATTEMPTS
        shared = Connection(
            region=settings.aws_region,
            host=settings.aws_endpoint_url,
            max_retry_attempts=MAX_RETRY_ATTEMPTS,
            max_pool_connections=POOLED_CONNECTIONS,
        ).client
        for model in MODELS:
            model._get_connection().connection._client = shared  # noqa: SLF001 - PynamoDB has no setter for it


def connection() -> Any:
    """The low-level connection transactions are written through."""
    bind()
    return FileItem._get_connection().connection


CONFLICT_RETRIES = 6


def transact(write: Callable[[TransactWrite], object]) -> bool:
    """Run the transaction ``write`` puts together: True when made, False when a condition did not hold.

    Transactions that move a shared item (a dataset's live-file counter) at once cancel each other with
    ``TransactionConflict``, which no SDK retries: such a cancellation is retried here, with jittered backoff."""
    for attempt in range(CONFLICT_RETRIES):
        try:
            with TransactWrite(connection=connection()) as tx:
                write(tx)
        except TransactWriteError as exc:
            if refused_writes(exc):
                return False
            if not conflicted(exc) or attempt == CONFLICT_RETRIES - 1:
                raise
            time.sleep(random.uniform(0, 0.01 * 2**attempt))  # noqa: S311 - jitter, not a secret
            continue
        return True
    raise AssertionError("unreachable")


def table_answers() -> bool:
    try:
        client("dynamodb").describe_table(TableName=get_settings().table_name)
    except Exception:  # noqa: BLE001 - health reports any failure as "not answering"
        return False
    return True
