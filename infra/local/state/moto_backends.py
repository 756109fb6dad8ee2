"""moto's in-process models, for what its API does not give: passwords, user subs, stream triggers.

Each lookup returns None when the emulator is not in this process; callers then do without (and say so).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Any

from infra.local.state.model import StateStoreError

log = logging.getLogger("local-runtime.state")


def _in_process_backends(backends: Any, region: str) -> Iterator[Any]:
    for account_id in list(backends.keys()):
        try:
            yield backends[account_id][region]
        except KeyError:
            continue


def moto_user_pool(pool_id: str) -> Any | None:
    """moto's in-process model of a user pool, or None when the emulator runs elsewhere."""
    try:
        from moto.cognitoidp.models import cognitoidp_backends
    except ImportError:
        return None
    region = pool_id.split("_", 1)[0]
    for backend in _in_process_backends(cognitoidp_backends, region):
        pool = backend.user_pools.get(pool_id)
        if pool is not None:
            return pool
    return None


def moto_table(region: str, table: str) -> Any | None:
    """moto's in-process model of a table, or None when the emulator runs elsewhere."""
    try:
        from moto.dynamodb.models import dynamodb_backends
    except ImportError:
        return None
    for backend in _in_process_backends(dynamodb_backends, region):
        found = backend.tables.get(table)
        if found is not None:
            return found
    return None


def pin_identity(pool: Any, created: str, username: str, sub: str | None) -> None:
    """Give the re-created user its old ``sub`` and username (a generated one, in email-sign-in pools)."""
    user = pool.users[created]
    if created != username:
        if username in pool.users:
            raise StateStoreError(f"cannot restore user {username}: another user of {pool.id} has that name")
        del pool.users[created]
        user.username = username
        pool.users[username] = user
    if sub:
        user.id = sub
        user.update_attributes([{"Name": "sub", "Value": sub}])


@contextlib.contextmanager
def stream_triggers_detached(region: str, table: str) -> Iterator[None]:
    """The table's stream triggers detached meanwhile: moto 5.2.5 invokes stream-triggered functions
    synchronously and ignores ``Enabled=False`` on the mapping."""
    found = moto_table(region, table)
    mappings = getattr(found, "lambda_event_source_mappings", None)
    if not mappings:
        if found is None:
            log.debug("table %s is not in this process's moto backend; stream triggers stay attached", table)
        yield
        return
    saved = dict(mappings)
    mappings.clear()
    try:
        yield
    finally:
        mappings.update(saved)
        stream = getattr(found, "stream_shard", None)
        if stream is not None:
            stream.items.clear()  # the restored records must not reach the triggers with the next change either
