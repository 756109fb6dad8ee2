"""``StateStore``: snapshot and restore of the emulator's data, one at a time."""

from __future__ import annotations

import json
import logging
import threading
import time
from pathlib import Path

import boto3

from infra.local.state import restore, snapshot
from infra.local.state.aws import Clients
from infra.local.state.files import StateFiles
from infra.local.state.model import Inventory, SnapshotStats, Tally, empty_manifest

log = logging.getLogger("local-runtime.state")


class StateStore:
    """Snapshots of the emulator's data in ``home`` (``state.json`` + ``blobs/``); see the package docstring."""

    def __init__(self, home: Path) -> None:
        self.files = StateFiles(home)
        self.home = self.files.home
        self.manifest_path = self.files.manifest_path
        self.blobs_path = self.files.blobs_path
        # One snapshot or restore at a time: a periodic snapshot never interleaves with the shutdown one.
        self._lock = threading.Lock()
        # Wall-clock start of this process's last completed snapshot; see snapshot.BucketReader.
        self._previous_snapshot_started: float | None = None

    def exists(self) -> bool:
        """Whether a completed snapshot is there to restore (a leftover ``state.json.tmp`` does not count)."""
        return self.files.exists()

    def snapshot(self, session: boto3.Session, endpoint_url: str, inventory: Inventory) -> SnapshotStats:
        """Save the data of every resource in ``inventory``; returns what was saved."""
        with self._lock:
            started = time.monotonic()
            started_wall = time.time()
            tally = Tally()
            self.files.prepare()
            previous = self.files.load() if self.exists() else empty_manifest()
            clients = Clients(session, endpoint_url)
            buckets = snapshot.BucketReader(self.files, clients, self._previous_snapshot_started, tally)

            manifest = empty_manifest()
            for logical_id, table in sorted(inventory.tables.items()):
                manifest["tables"][logical_id] = snapshot.snapshot_table(clients, logical_id, table, tally)
            for logical_id, bucket in sorted(inventory.buckets.items()):
                cached = previous["buckets"].get(logical_id, {}).get("objects", [])
                manifest["buckets"][logical_id] = buckets.snapshot(logical_id, bucket, cached)
            for logical_id, pool_id in sorted(inventory.user_pools.items()):
                manifest["user_pools"][logical_id] = snapshot.snapshot_user_pool(clients, logical_id, pool_id, tally)
            snapshot.carry_over(previous, manifest, inventory)

            payload = json.dumps(manifest, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()
            if self.files.write_manifest(payload):
                tally.bytes_written += len(payload)
                tally.manifest_written = True
            tally.blobs_deleted = self.files.collect_garbage(manifest)
            self._previous_snapshot_started = started_wall
            stats = tally.stats(started)
            log.debug("snapshot: %s", stats)
            return stats

    def restore(self, session: boto3.Session, endpoint_url: str, inventory: Inventory) -> SnapshotStats:
        """Write the saved data into the resources of ``inventory`` (freshly provisioned, empty)."""
        with self._lock:
            started = time.monotonic()
            tally = Tally()
            manifest = self.files.load()
            clients = Clients(session, endpoint_url)
            for logical_id, saved in sorted(manifest["tables"].items()):
                table = restore.target("table", logical_id, inventory.tables, tally)
                if table is not None:
                    restore.restore_table(clients, logical_id, table, saved["items"], tally)
            for logical_id, saved in sorted(manifest["buckets"].items()):
                bucket = restore.target("bucket", logical_id, inventory.buckets, tally)
                if bucket is not None:
                    restore.restore_bucket(self.files, clients, logical_id, bucket, saved["objects"], tally)
            for logical_id, saved in sorted(manifest["user_pools"].items()):
                pool_id = restore.target("user pool", logical_id, inventory.user_pools, tally)
                if pool_id is not None:
                    restore.restore_user_pool(clients, logical_id, pool_id, saved, tally)
            stats = tally.stats(started)
            log.debug("restore: %s", stats)
            return stats
