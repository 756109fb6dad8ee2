"""What the state store keeps and reports: the inventory of resources, the stats of a run, its errors."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

FORMAT = "annolake-local-state"
VERSION = 1


class StateStoreError(RuntimeError):
    """A snapshot or restore that cannot go on (unreadable state, a resource the emulator does not have...)."""


@dataclass(frozen=True)
class Inventory:
    """The provisioned resources whose data is kept, by logical id (``Stack/LogicalId``)."""

    tables: dict[str, str]  # logical id -> physical table name
    buckets: dict[str, str]  # logical id -> physical bucket name
    user_pools: dict[str, str]  # logical id -> user pool id


@dataclass(frozen=True)
class SnapshotStats:
    """What a snapshot or restore did. ``bytes_written``: to disk (snapshot) or to the emulator (restore)."""

    items: int = 0
    objects: int = 0
    users: int = 0
    bytes_written: int = 0
    seconds: float = 0.0
    blobs_written: int = 0
    blobs_deleted: int = 0
    manifest_written: bool = False
    skipped: tuple[str, ...] = field(default=())

    def __str__(self) -> str:
        text = (
            f"{self.items} items, {self.objects} objects, {self.users} users, "
            f"{self.bytes_written} bytes written in {self.seconds:.2f} s"
        )
        if self.blobs_written or self.blobs_deleted:
            text += f" ({self.blobs_written} new blobs, {self.blobs_deleted} deleted)"
        if self.skipped:
            text += f"; skipped: {', '.join(self.skipped)}"
        return text


@dataclass
class Tally:
    """The running counts of a snapshot or restore, frozen into ``SnapshotStats`` at the end."""

    items: int = 0
    objects: int = 0
    users: int = 0
    bytes_written: int = 0
    blobs_written: int = 0
    blobs_deleted: int = 0
    manifest_written: bool = False
    skipped: list[str] = field(default_factory=list)

    def stats(self, started: float) -> SnapshotStats:
        return SnapshotStats(
            items=self.items,
            objects=self.objects,
            users=self.users,
            bytes_written=self.bytes_written,
            seconds=time.monotonic() - started,
            blobs_written=self.blobs_written,
            blobs_deleted=self.blobs_deleted,
            manifest_written=self.manifest_written,
            skipped=tuple(self.skipped),
        )


def empty_manifest() -> dict[str, Any]:
    return {"format": FORMAT, "version": VERSION, "tables": {}, "buckets": {}, "user_pools": {}}
