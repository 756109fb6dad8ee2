"""What the state store keeps and reports: the inventory of resources, the stats of a run, its errors."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

FORMAT = "annolake-local-state"
VERSION = 2  # 1: one ``state.json``, rewritten whole by each checkpoint (imported by ``checkpoint``)


class StateStoreError(RuntimeError):
    """A recovery or checkpoint that cannot go on (unreadable state, a resource the emulator does not have...)."""


@dataclass(frozen=True)
class Inventory:
    """The provisioned resources whose data is kept, by logical id (``Stack/LogicalId``)."""

    tables: dict[str, str]  # logical id -> physical table name
    buckets: dict[str, str]  # logical id -> physical bucket name
    user_pools: dict[str, str]  # logical id -> user pool id


@dataclass(frozen=True)
class RestoreStats:
    """What a restore wrote into the emulator."""

    items: int = 0
    objects: int = 0
    users: int = 0
    bytes_written: int = 0
    seconds: float = 0.0
    skipped: tuple[str, ...] = field(default=())

    def __str__(self) -> str:
        text = (
            f"{self.items} items, {self.objects} objects, {self.users} users, "
            f"{self.bytes_written} bytes written in {self.seconds:.2f} s"
        )
        if self.skipped:
            text += f"; skipped: {', '.join(self.skipped)}"
        return text


@dataclass
class Tally:
    """The running counts of a restore, frozen into ``RestoreStats`` at the end."""

    items: int = 0
    objects: int = 0
    users: int = 0
    bytes_written: int = 0
    skipped: list[str] = field(default_factory=list)

    def stats(self, started: float) -> RestoreStats:
        return RestoreStats(
            items=self.items,
            objects=self.objects,
            users=self.users,
            bytes_written=self.bytes_written,
            seconds=time.monotonic() - started,
            skipped=tuple(self.skipped),
        )
