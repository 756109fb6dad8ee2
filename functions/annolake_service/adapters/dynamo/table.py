"""The table itself: pointing the item classes at it, its connection, and whether it answers."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from annolake_service.adapters.aws_clients import client, table_client
from annolake_service.adapters.dynamo.conditions import conflicted, refused_writes
from annolake_service.adapters.dynamo.items import MODELS, FileItem, Item
from annolake_service.shared.settings import get_settings

MAX_RETRY_ATTEMPTS = 5
#: Connections the one client pools: what the threads of one process may have in flight at once.
POOLED_CONNECTIONS = 64


class _Binding:
    """Point every item class at the configured table (and at the emulator when running locally), all through
    one botocore client: ``bind()`` before any call, made once per process.

    PynamoDB builds a client per item class on its first call (loading the service model, ~50 ms each), and
    every thread that makes that first call at once builds one: a process serving requests on 40 threads
    built hundreds at start, which took most of its time. One client, built here once, serves them all; the
    threads that ask while it is being built wait for it rather than build their own.
    """

    def __init__(self) -> None:
        # A clear bumps the generation; a bind made for an earlier one (begun before the clear, on the settings
        # of its time) does not count, so the next call binds again.
        self._generation = 0
        self._bound_generation = -1
        self._lock = threading.Lock()

    def __call__(self) -> None:
        if self._bound_generation == self._generation:
            return
        with self._lock:
            generation = self._generation
            if self._bound_generation != generation:
                self._bind()
                self._bound_generation = generation

    @staticmethod
    def _bind() -> None:
        settings = get_settings()
        for model in MODELS:
            model.Meta.table_name = settings.table_name
            model.Meta.region = settings.aws_region
            model.Meta.host = settings.aws_endpoint_url
            model.Meta.max_retry_attempts = MAX_RETRY_ATTEMPTS
        shared = table_client(max_attempts=1 + MAX_RETRY_ATTEMPTS, max_pool_connections=POOLED_CONNECTIONS)
        for model in MODELS:
            model._get_connection().connection._client = shared  # noqa: SLF001 - PynamoDB has no setter for it

    def cache_clear(self) -> None:
        """Bind again on the next call (to the settings read then), even if a bind is under way now."""
        self._generation += 1


bind = _Binding()


def connection() -> Any:
    """The low-level connection transactions are written through."""
    bind()
    return FileItem._get_connection().connection


_Item = TypeVar("_Item", bound=Item)


def read_together(wanted: Sequence[_Item], *, consistent: bool = True) -> list[_Item | None]:
    """The stored items at the keys of ``wanted`` (key-only items, of any item classes), in its order, None where
    there is none: one BatchGetItem for items a request needs at once, not a read each.

    Keys DynamoDB leaves unprocessed (throttling) are asked again, with backoff."""
    bind()
    table = get_settings().table_name
    keys = {(item.PK, item.SK): {"PK": {"S": item.PK}, "SK": {"S": item.SK}} for item in wanted}
    found: dict[tuple[str, str], dict[str, Any]] = {}
    request: dict[str, Any] = {table: {"Keys": list(keys.values()), "ConsistentRead": consistent}}
    for attempt in range(MAX_RETRY_ATTEMPTS + 1):
        answer = connection().dispatch("BatchGetItem", {"RequestItems": request})
        for raw in answer.get("Responses", {}).get(table, []):
            found[(raw["PK"]["S"], raw["SK"]["S"])] = raw
        request = answer.get("UnprocessedKeys") or {}
        if not request:
            break
        time.sleep(random.uniform(0, 0.05 * 2**attempt))  # noqa: S311 - jitter, not a secret
    else:
        raise RuntimeError(f"DynamoDB left {len(request[table]['Keys'])} keys unprocessed after every retry")
    raw_items = [found.get((item.PK, item.SK)) for item in wanted]
    return [None if raw is None else type(item).from_raw_data(raw) for item, raw in zip(wanted, raw_items, strict=True)]


CONFLICT_RETRIES = 6


def transact(write: Callable[[TransactWrite], object]) -> bool:
    """Run the transaction ``write`` puts together: True when made, False when a condition did not hold.

    Transactions that move a shared item (a dataset's live-file counter) at once cancel each other with
    ``TransactionConflict``, which no SDK retries: such a cancellation is retried here, with jittered backoff."""
    return not transact_refused(write)


def transact_refused(write: Callable[[TransactWrite], object]) -> set[int]:
    """``transact``, answering the positions of the writes whose condition did not hold (none: made)."""
    for attempt in range(CONFLICT_RETRIES):
        try:
            with TransactWrite(connection=connection()) as tx:
                write(tx)
        except TransactWriteError as exc:
            if refused := refused_writes(exc):
                return refused
            if not conflicted(exc) or attempt == CONFLICT_RETRIES - 1:
                raise
            time.sleep(random.uniform(0, 0.01 * 2**attempt))  # noqa: S311 - jitter, not a secret
            continue
        return set()
    raise AssertionError("unreachable")


def table_answers() -> bool:
    try:
        client("dynamodb").describe_table(TableName=get_settings().table_name)
    except Exception:  # noqa: BLE001 - health reports any failure as "not answering"
        return False
    return True
