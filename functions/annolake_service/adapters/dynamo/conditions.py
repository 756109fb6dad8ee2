"""Conditional writes: only DynamoDB's ConditionalCheckFailed means "the condition did not hold".

Any other failure (throttling, an item too large, a service error) says nothing of the item's state, so it
propagates to the caller unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pynamodb.exceptions import PynamoDBException, TransactWriteError


class AlreadyExists(Exception):
    """A create found the item there already."""


class ConditionFailed(Exception):
    """A conditional write found the item changed (someone else got there first)."""


class VersionConflict(Exception):
    """An optimistic write found a newer version; ``current`` is the version now stored."""

    def __init__(self, current: int) -> None:
        super().__init__(current)
        self.current = current


@dataclass(frozen=True)
class TransactionUpdate:
    """A conditional update to make inside another repository call's transaction."""

    item: Any
    actions: list[Any]
    condition: Any

    def write_in(self, tx: Any) -> None:
        tx.update(self.item, actions=self.actions, condition=self.condition)


@dataclass(frozen=True)
class TransactionPut:
    """A conditional put (the whole item) to make inside another repository call's transaction."""

    item: Any
    condition: Any

    def write_in(self, tx: Any) -> None:
        tx.save(self.item, condition=self.condition)


def refused_writes(exc: PynamoDBException) -> set[int]:
    """The positions (0 for a single write) of the writes whose condition did not hold; empty for any other
    failure."""
    if isinstance(exc, TransactWriteError):
        reasons = exc.cancellation_reasons or []
        return {n for n, r in enumerate(reasons) if r is not None and r.code == "ConditionalCheckFailed"}
    return {0} if exc.cause_response_code == "ConditionalCheckFailedException" else set()


def conflicted(exc: PynamoDBException) -> bool:
    """A transaction cancelled only because another one held one of its items meanwhile (worth retrying)."""
    reasons = exc.cancellation_reasons if isinstance(exc, TransactWriteError) else None
    codes = {r.code for r in reasons or [] if r is not None}
    return bool(codes) and codes <= {"TransactionConflict", "None"}


def applied(write: Callable[[], object]) -> bool:
    """Run a conditional write (or transaction): True when made, False when a condition did not hold."""
    try:
        write()
    except PynamoDBException as exc:
        if refused_writes(exc):
            return False
        raise
    return True
