"""``StateStore``: the emulator's data kept on disk: checkpoint + journal (and full snapshots), one at a time."""

from __future__ import annotations

import contextlib
import gc
import json
import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import boto3

from infra.local.state import capture, restore, snapshot
from infra.local.state.aws import Clients
from infra.local.state.blobs import BlobStore
from infra.local.state.checkpoint import Folder, referenced_blobs
from infra.local.state.files import StateFiles
from infra.local.state.journal import Journal, read_segment, segment_numbers, segment_path
from infra.local.state.model import Inventory, SnapshotStats, StateStoreError, Tally, empty_manifest

log = logging.getLogger("local-runtime.state")


@contextlib.contextmanager
def _bulk_allocation() -> Iterator[None]:
    """The cyclic garbage collector off while a checkpoint is read and restored, and what was restored
    frozen after: millions of objects that live as long as the process (moto's items and objects) are
    otherwise scanned again and again by the collections their own allocation triggers, and by every full
    collection after."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()  # (the manifest's dicts among them; they are freed all the same when released)
        if enabled:
            gc.enable()


class StateStore:
    """Snapshots of the emulator's data in ``home`` (``state.json`` + ``blobs/``); see the package docstring."""

    def __init__(self, home: Path) -> None:
        self.files = StateFiles(home)
        self.home = self.files.home
        self.manifest_path = self.files.manifest_path
        self.blobs_path = self.files.blobs_path
        self.journal_path = self.home / "journal"
        self.blobs = BlobStore(self.blobs_path)
        self.journal: Journal | None = None
        self.capture: capture.Capture | None = None
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
            # never the body of an object the emulator holds (its blob may be newer than this snapshot)
            tally.blobs_deleted = self.blobs.collect_garbage(referenced_blobs(manifest), min_age_s=0)
            self._previous_snapshot_started = started_wall
            stats = tally.stats(started)
            log.debug("snapshot: %s", stats)
            return stats

    def restore(self, session: boto3.Session, endpoint_url: str, inventory: Inventory) -> SnapshotStats:
        """Write the saved data into the resources of ``inventory`` (freshly provisioned, empty)."""
        with self._lock:
            return self._restore(self.files.load(), session, endpoint_url, inventory)

    def _restore(
        self, manifest: dict, session: boto3.Session, endpoint_url: str, inventory: Inventory
    ) -> SnapshotStats:
        started = time.monotonic()
        tally = Tally()
        clients = Clients(session, endpoint_url)
        for logical_id, saved in sorted(manifest["tables"].items()):
            table = restore.target("table", logical_id, inventory.tables, tally)
            if table is not None and not restore.restore_table_in_process(
                clients.region, logical_id, table, saved["items"], tally
            ):
                restore.restore_table(clients, logical_id, table, saved["items"], tally)
        for logical_id, saved in sorted(manifest["buckets"].items()):
            bucket = restore.target("bucket", logical_id, inventory.buckets, tally)
            if bucket is not None and not restore.restore_bucket_in_process(
                self.blobs, logical_id, bucket, saved["objects"], tally
            ):
                restore.restore_bucket(self.files, clients, logical_id, bucket, saved["objects"], tally)
        for logical_id, saved in sorted(manifest["user_pools"].items()):
            pool_id = restore.target("user pool", logical_id, inventory.user_pools, tally)
            if pool_id is not None:
                restore.restore_user_pool(clients, logical_id, pool_id, saved, tally)
        stats = tally.stats(started)
        log.debug("restore: %s", stats)
        return stats

    # -- checkpoint + journal ----------------------------------------------------------------------------------

    def has_saved_data(self) -> bool:
        """A checkpoint or a journal to recover from."""
        return self.exists() or bool(segment_numbers(self.journal_path))

    def recover(self, session: boto3.Session, endpoint_url: str, inventory: Inventory) -> SnapshotStats:
        """Write the last checkpoint with every journal segment after it replayed into the (empty) resources of
        ``inventory``, then make that the checkpoint; the journal starts a new segment."""
        with self._lock, _bulk_allocation():
            self.files.prepare()
            manifest = self.files.load() if self.exists() else empty_manifest()
            through = int(manifest.get("journal_through", -1))
            folder = Folder(manifest)
            pending = [n for n in segment_numbers(self.journal_path) if n > through]
            for number in pending:
                for record in read_segment(segment_path(self.journal_path, number)):
                    folder.apply(record)
            manifest = folder.finish()
            stats = self._restore(manifest, session, endpoint_url, inventory)
            last = max([through, *pending])
            if folder.applied:
                manifest["journal_through"] = last
                self._write_checkpoint(manifest)
            else:
                # Empty segments (every clean stop leaves the one it opened last; a crash may leave one with a
                # torn, unanswered record): nothing to fold, so the checkpoint is not rewritten (at 100,000
                # files that rewrite was a fifth of a start).
                for number in pending:
                    segment_path(self.journal_path, number).unlink(missing_ok=True)
            self._next_segment = last + 1
            log.info("recovered: checkpoint + %d journal entries replayed", folder.applied)
            return stats

    def start_journal(self, inventory: Inventory, *, durable: bool = True) -> capture.Capture:
        """Journal every change from now on (call after ``recover``); returns what the emulator's recorder uses."""
        if self.journal is not None:
            raise StateStoreError("the journal is already open")
        self.files.prepare()
        self.journal = Journal(self.journal_path, durable=durable, before_sync=self.blobs.sync_directory)
        self.journal.open(getattr(self, "_next_segment", 0))
        self.capture = capture.Capture(self.journal, self.blobs, inventory)
        return self.capture

    def checkpoint(self, *, force: bool = False) -> int:
        """Fold the journal written so far into the checkpoint and delete it; returns the entries folded."""
        journal = self.journal
        if journal is None:
            raise StateStoreError("the journal is not open")
        with self._lock:
            if not force and journal.records_in_segment == 0:
                return 0
            closed = journal.rotate()
            manifest = self.files.load() if self.exists() else empty_manifest()
            through = int(manifest.get("journal_through", -1))
            folder = Folder(manifest)
            for number in segment_numbers(self.journal_path):
                if through < number <= closed:
                    for record in read_segment(segment_path(self.journal_path, number)):
                        folder.apply(record)
            manifest = folder.finish()
            manifest["journal_through"] = closed
            self._write_checkpoint(manifest)
            return folder.applied

    def _write_checkpoint(self, manifest: dict) -> None:
        """The manifest in place, then the journal segments it holds deleted, then unreferenced blobs."""
        payload = json.dumps(manifest, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()
        self.files.write_manifest(payload)
        through = int(manifest["journal_through"])
        for number in segment_numbers(self.journal_path):
            if number <= through:
                segment_path(self.journal_path, number).unlink(missing_ok=True)
        self.blobs.collect_garbage(referenced_blobs(manifest))

    def close(self) -> None:
        """A last checkpoint, and the journal closed."""
        if self.journal is None:
            return
        self.checkpoint()
        self.journal.close()
        self.journal = None
        self.capture = None
