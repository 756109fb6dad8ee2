"""The write-ahead journal: what changed since the checkpoint, appended and fsynced before the answer leaves.

Segments ``journal/<n>.log`` are append-only. A record is ``length (u32 LE) | crc32 (u32 LE) | JSON``; one
record holds the entries of one request, so a request's changes are replayed all or not at all. A crash can
leave a torn record at the tail of the newest segment: reading stops there (the request it held was not
answered, since its answer waits for the fsync).

Group commit: each request queues its record and then waits until it is written and some fsync has covered
it. One waiter at a time writes every record queued by then, in queue order, and fsyncs for all of them; the
others wait for that write or the next, so N concurrent requests cost about one ``write`` and one fsync, not
N. A record may be queued as a function that makes its entries: the writer calls it, so the JSON is made
outside the locks of whoever queued it (the emulator's one DynamoDB lock among them).
"""

from __future__ import annotations

import json
import logging
import os
import struct
import threading
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from infra.local.state.files import fsync_directory

log = logging.getLogger("local-runtime.state")
Entries = list[dict[str, Any]] | Callable[[], list[dict[str, Any]]]
_HEADER = struct.Struct("<II")
SUFFIX = ".log"


def segment_numbers(directory: Path) -> list[int]:
    if not directory.is_dir():
        return []
    return sorted(int(p.stem) for p in directory.iterdir() if p.suffix == SUFFIX and p.stem.isdigit())


def segment_path(directory: Path, number: int) -> Path:
    return directory / f"{number:08d}{SUFFIX}"


def read_segment(path: Path) -> Iterator[list[dict[str, Any]]]:
    """The records of one segment, each a list of entries; stops at a torn or corrupt tail."""
    data = path.read_bytes()
    offset = 0
    while offset + _HEADER.size <= len(data):
        length, crc = _HEADER.unpack_from(data, offset)
        start, end = offset + _HEADER.size, offset + _HEADER.size + length
        payload = data[start:end]
        if end > len(data) or zlib.crc32(payload) != crc:
            log.warning("journal %s: torn record at byte %d (an unanswered request); replay stops there", path, offset)
            return
        yield json.loads(payload)
        offset = end
    if offset != len(data):
        log.warning("journal %s: %d trailing bytes of a torn record ignored", path, len(data) - offset)


class Journal:
    """Appends records to the current segment; ``commit`` makes them durable (see the module docstring).

    ``durable=False`` skips the fsync (what survives is then what the OS had written: a killed process
    loses nothing, a power cut may); ``before_sync`` runs before each fsync (the blob directory's fsync,
    so the renames of the bodies an entry names are durable with it).
    """

    def __init__(self, directory: Path, *, durable: bool = True, before_sync: Callable[[], None] | None = None) -> None:
        self.directory = directory
        self.durable = durable
        self._before_sync = before_sync
        self._lock = threading.Lock()  # the queue, the counters and the open segment
        self._fd: int | None = None
        self.segment = 0
        self._pending: list[Entries] = []  # queued, not yet written
        self._queued = 0  # records queued (a sequence, across segments)
        self._written = 0  # records written
        self._synced = 0  # records covered by an fsync
        self._writing = threading.Lock()  # one writer at a time: it writes what is queued, in order, then fsyncs
        self._failed: dict[int, BaseException] = {}  # records whose entries could not be made
        self.records_in_segment = 0
        self.bytes_in_segment = 0
        self.fsyncs = 0

    def open(self, segment: int) -> None:
        """Start writing at segment ``segment`` (a new, empty file)."""
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        with self._lock:
            self._open(segment)

    def _open(self, segment: int) -> None:
        path = segment_path(self.directory, segment)
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_TRUNC, 0o600)
        fsync_directory(self.directory)
        self.segment = segment
        self.records_in_segment = 0
        self.bytes_in_segment = 0

    def append(self, entries: Entries) -> int:
        """Queue one record: its entries, or a function that makes them (called once, in queue order, by the
        ``commit`` that writes it); returns its sequence number, for ``commit``."""
        with self._lock:
            if self._fd is None:
                raise RuntimeError("the journal is closed")
            self._pending.append(entries)
            self._queued += 1
            return self._queued

    def commit(self, sequence: int) -> None:
        """Return once record ``sequence`` (and every one before it) is written and, ``durable``, on disk."""
        if not self._done(sequence):
            with self._writing:
                if not self._done(sequence):
                    self._write_queued()
                    if self.durable:
                        self._sync()
        failure = self._failed.pop(sequence, None)
        if failure is not None:
            raise RuntimeError(f"journal record {sequence} could not be made: {failure}") from failure

    def _done(self, sequence: int) -> bool:
        return self._written >= sequence and (not self.durable or self._synced >= sequence)

    def _write_queued(self) -> None:
        """Write every queued record, in order (the caller holds ``_writing``)."""
        with self._lock:
            batch, self._pending = self._pending, []
            first = self._written + 1
        if not batch:
            return
        records = []
        for offset, entries in enumerate(batch):
            try:
                made = entries() if callable(entries) else entries
            except Exception as exc:  # noqa: BLE001 - its request fails at its commit; the others are written
                self._failed[first + offset] = exc
                continue
            payload = json.dumps(made, ensure_ascii=False, separators=(",", ":")).encode()
            records.append(_HEADER.pack(len(payload), zlib.crc32(payload)) + payload)
        data = b"".join(records)
        with self._lock:
            if self._fd is None:
                raise RuntimeError("the journal is closed")
            if data:
                os.write(self._fd, data)
            self._written += len(batch)
            self.records_in_segment += len(records)
            self.bytes_in_segment += len(data)

    def _sync(self) -> None:
        target, fd = self._written, self._fd
        if self._before_sync is not None:
            self._before_sync()
        if fd is not None:
            os.fsync(fd)
        self.fsyncs += 1
        self._synced = max(self._synced, target)

    def rotate(self) -> int:
        """Close the current segment (durably, with every record queued so far) and start the next; returns the
        number of the closed one."""
        with self._writing:
            self._write_queued()
            with self._lock:
                closed = self.segment
                self._close()
                self._open(closed + 1)
                return closed

    def _close(self) -> None:
        if self._fd is None:
            return
        if self._before_sync is not None:
            self._before_sync()
        os.fsync(self._fd)
        os.close(self._fd)
        self._fd = None
        self._synced = self._written

    def close(self) -> None:
        with self._writing:
            self._write_queued()
            with self._lock:
                self._close()
