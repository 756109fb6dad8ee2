"""``StateStore``: the emulator's data kept on disk: a checkpoint, the journal after it, and the bodies."""

from __future__ import annotations

import contextlib
import gc
import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import boto3

from infra.local.state import capture, restore
from infra.local.state.aws import Clients
from infra.local.state.blobs import BlobStore
from infra.local.state.checkpoint import Checkpoint
from infra.local.state.journal import Journal, read_segment, segment_numbers, segment_path
from infra.local.state.model import Inventory, RestoreStats, StateStoreError, Tally

log = logging.getLogger("local-runtime.state")

CHECKPOINT_NAME = "state.db"
LEGACY_NAME = "state.json"  # the checkpoint of format 1, imported once


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
        gc.freeze()  # (what the restore read among them; it is freed all the same when released)
        if enabled:
            gc.enable()


class StateStore:
    """The checkpoint ``state.db``, the journal and the bodies in ``blobs/`` (see the package docstring)."""

    def __init__(self, home: Path) -> None:
        self.home = Path(home)
        self.checkpoint_path = self.home / CHECKPOINT_NAME
        self.blobs_path = self.home / "blobs"
        self.journal_path = self.home / "journal"
        self.blobs = BlobStore(self.blobs_path)
        self.saved = Checkpoint(self.checkpoint_path, legacy=self.home / LEGACY_NAME)
        self.journal: Journal | None = None
        self.capture: capture.Capture | None = None
        # One recovery or checkpoint at a time: a periodic checkpoint never interleaves with the shutdown one.
        self._lock = threading.Lock()
        self._next_segment = 0
        # Blobs an object named before a checkpoint and none does after it, not yet old enough to delete.
        self._garbage: set[str] = set()

    def exists(self) -> bool:
        """Whether a checkpoint is there to recover from."""
        return self.saved.exists()

    def has_saved_data(self) -> bool:
        """A checkpoint or a journal to recover from."""
        return self.exists() or bool(segment_numbers(self.journal_path))

    def _prepare(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.blobs.prepare()

    def recover(self, session: boto3.Session, endpoint_url: str, inventory: Inventory) -> RestoreStats:
        """Fold every journal segment after the checkpoint into it, then write what it holds into the (empty)
        resources of ``inventory``; the journal starts a new segment."""
        with self._lock, _bulk_allocation():
            self._prepare()
            self.saved.open()
            pending = [n for n in segment_numbers(self.journal_path) if n > self.saved.journal_through]
            folded = self.saved.fold(
                (record for number in pending for record in read_segment(segment_path(self.journal_path, number))),
                through=max([self.saved.journal_through, *pending]),
            )
            self._drop_segments()
            stats = self._restore(session, endpoint_url, inventory)
            self._next_segment = self.saved.journal_through + 1
            # a full sweep once a start: blobs of bodies whose object never reached the journal (a crash)
            self.blobs.collect_garbage(self.saved.referenced_blobs())
            log.info("recovered: checkpoint + %d journal entries replayed", folded.applied)
            return stats

    def _restore(self, session: boto3.Session, endpoint_url: str, inventory: Inventory) -> RestoreStats:
        started = time.monotonic()
        tally = Tally()
        clients = Clients(session, endpoint_url)
        saved = self.saved
        for logical_id in sorted(saved.resources("tables")):
            table = restore.target("table", logical_id, inventory.tables, tally)
            if table is not None and not restore.restore_table_in_process(
                clients.region, logical_id, table, saved.items(logical_id), tally
            ):
                restore.restore_table(clients, logical_id, table, saved.items(logical_id), tally)
        for logical_id in sorted(saved.resources("buckets")):
            bucket = restore.target("bucket", logical_id, inventory.buckets, tally)
            if bucket is not None and not restore.restore_bucket_in_process(
                self.blobs, logical_id, bucket, saved.objects(logical_id), tally
            ):
                restore.restore_bucket(self.blobs, clients, logical_id, bucket, saved.objects(logical_id), tally)
        for logical_id in sorted(saved.resources("user_pools")):
            pool_id = restore.target("user pool", logical_id, inventory.user_pools, tally)
            if pool_id is not None:
                restore.restore_user_pool(clients, logical_id, pool_id, saved.pool(logical_id), tally)
        stats = tally.stats(started)
        log.debug("restore: %s", stats)
        return stats

    def start_journal(self, inventory: Inventory, *, durable: bool = True) -> capture.Capture:
        """Journal every change from now on (call after ``recover``); returns what the emulator's recorder uses."""
        if self.journal is not None:
            raise StateStoreError("the journal is already open")
        self._prepare()
        self.saved.open()
        self.journal = Journal(self.journal_path, durable=durable, before_sync=self.blobs.sync_directory)
        self.journal.open(max(self._next_segment, self.saved.journal_through + 1))
        self.capture = capture.Capture(self.journal, self.blobs, inventory)
        return self.capture

    def checkpoint(self, *, force: bool = False) -> int:
        """Fold the journal written so far into the checkpoint and delete it; returns the entries folded.

        Its cost is the journal's since the last one, whatever the size of the store."""
        journal = self.journal
        if journal is None:
            raise StateStoreError("the journal is not open")
        with self._lock:
            if not force and journal.records_in_segment == 0:
                return 0
            closed = journal.rotate()
            through = self.saved.journal_through
            numbers = [n for n in segment_numbers(self.journal_path) if through < n <= closed]
            folded = self.saved.fold(
                (record for number in numbers for record in read_segment(segment_path(self.journal_path, number))),
                through=max(through, closed),
            )
            self._drop_segments()
            self._garbage |= folded.released
            self._collect_garbage()
            return folded.applied

    def _drop_segments(self) -> None:
        """The journal segments the checkpoint holds, deleted (only once it holds them: a crash in between
        replays nothing twice, since it records the last one)."""
        through = self.saved.journal_through
        for number in segment_numbers(self.journal_path):
            if number <= through:
                segment_path(self.journal_path, number).unlink(missing_ok=True)

    def _collect_garbage(self, min_age_s: float = 60.0) -> None:
        """Delete the blobs released by checkpoints that neither the checkpoint nor a live object names now;
        one younger than ``min_age_s`` (being written, or written just before its object was made) waits for
        a later checkpoint."""
        horizon = time.time() - min_age_s
        live = self.blobs.live()
        for digest in sorted(self._garbage):
            if digest in live or self.saved.references(digest) or self.blobs.delete_if_older(digest, horizon):
                self._garbage.discard(digest)

    def close(self) -> None:
        """A last checkpoint, and the journal and the checkpoint closed."""
        if self.journal is None:
            return
        self.checkpoint()
        self.journal.close()
        self.journal = None
        self.capture = None
        self.saved.close()
