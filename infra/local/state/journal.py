"""The write-ahead journal: what changed since the checkpoint, appended and fsynced before the answer leaves.

Segments ``journal/<n>.log`` are append-only. A record is ``length (u32 LE) | crc32 (u32 LE) | JSON``; one
record holds the entries of one request, so a request's changes are replayed all or not at all. A crash can
leave a torn record at the tail of the newest segment: reading stops there (the request it held was not
answered, since its answer waits for the fsync).

Group commit: each request appends its record (one ``write`` under a lock) and then waits until some fsync
has covered it. The first waiter fsyncs for everyone whose record is written by then; the others wait for
that fsync or the next, so N concurrent requests cost about one fsync, not N.
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
        self._cond = threading.Condition()
        self._fd: int | None = None
        self.segment = 0
        self._written = 0  # records written (a sequence, across segments)
        self._synced = 0  # records covered by an fsync
        self._syncing = False
        self.records_in_segment = 0
        self.bytes_in_segment = 0
        self.fsyncs = 0

    def open(self, segment: int) -> None:
        """Start writing at segment ``segment`` (a new, empty file)."""
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        with self._cond:
            self._open(segment)

    def _open(self, segment: int) -> None:
        path = segment_path(self.directory, segment)
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_TRUNC, 0o600)
        fsync_directory(self.directory)
        self.segment = segment
        self.records_in_segment = 0
        self.bytes_in_segment = 0

    def append(self, entries: list[dict[str, Any]]) -> int:
        """Write one record; returns its sequence number, for ``commit``."""
        payload = json.dumps(entries, ensure_ascii=False, separators=(",", ":")).encode()
        record = _HEADER.pack(len(payload), zlib.crc32(payload)) + payload
        with self._cond:
            if self._fd is None:
                raise RuntimeError("the journal is closed")
            os.write(self._fd, record)
            self._written += 1
            self.records_in_segment += 1
            self.bytes_in_segment += len(record)
            return self._written

    def commit(self, sequence: int) -> None:
        """Return once record ``sequence`` (and every one before it) is on disk."""
        if not self.durable:
            return
        with self._cond:
            while self._synced < sequence:
                if self._syncing:
                    self._cond.wait()
                    continue
                self._syncing = True
                target, fd = self._written, self._fd
                self._cond.release()
                try:
                    if self._before_sync is not None:
                        self._before_sync()
                    if fd is not None:
                        os.fsync(fd)
                finally:
                    self._cond.acquire()
                    self._syncing = False
                    self.fsyncs += 1
                    self._synced = max(self._synced, target)
                    self._cond.notify_all()

    def rotate(self) -> int:
        """Close the current segment (durably) and start the next; returns the number of the closed one."""
        with self._cond:
            while self._syncing:
                self._cond.wait()
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
        self._cond.notify_all()

    def close(self) -> None:
        with self._cond:
            while self._syncing:
                self._cond.wait()
            self._close()
