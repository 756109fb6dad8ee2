"""A byte-bounded two-level cache (memory LRU, then a directory on disk) for media bytes.

Entries are keyed by ``(file_id, content_hash)``, never by URL: presigned URLs change on every page
request, the content of one file version does not. The disk level is shared by later epochs and
processes (DataLoader workers, a second run): each ``ByteCache`` indexes the directory when it is made.
Several processes may share one directory; each keeps it within the bound as far as it knows of it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import struct
import threading
import time
import uuid
import zlib
from collections import OrderedDict
from typing import Any

MIB = 1 << 20

Key = tuple[str, str]

# Disk entry: magic, crc32 and length of the payload, then the payload; a mismatch means a corrupt entry.
_MAGIC = b"ALC1"
_HEADER = struct.Struct(">4sIQ")
_ENTRY_NAME = re.compile(r"[0-9a-f]{64}")
_TEMP_PREFIX = ".tmp-"
_STALE_TEMP_SECONDS = 3600  # a temp file this old was left by a process that died mid-write


class ByteCache:
    """Media bytes by ``(file_id, content_hash)``, bounded in bytes in memory and on disk.

    The disk level is off unless both ``disk_dir`` and ``disk_bytes > 0`` are given. Thread-safe;
    picklable (a copy starts with an empty memory level and re-indexes the directory).
    """

    def __init__(
        self,
        memory_bytes: int = 256 * MIB,
        disk_dir: str | os.PathLike[str] | None = None,
        disk_bytes: int = 0,
    ) -> None:
        if memory_bytes < 0 or disk_bytes < 0:
            raise ValueError("cache bounds must be >= 0 bytes")
        self.memory_bytes = memory_bytes
        self.disk_dir = os.fspath(disk_dir) if disk_dir is not None else None
        self.disk_bytes = disk_bytes
        self._lock = threading.Lock()
        self._memory: OrderedDict[Key, bytes] = OrderedDict()
        self._memory_size = 0
        self._disk: OrderedDict[str, int] = OrderedDict()  # entry name → size on disk, oldest access first
        self._disk_size = 0
        if self._disk_enabled:
            os.makedirs(self.disk_dir, exist_ok=True)  # type: ignore[arg-type]
            self._index_disk()

    @property
    def _disk_enabled(self) -> bool:
        return self.disk_dir is not None and self.disk_bytes > 0

    @property
    def memory_size(self) -> int:
        """Bytes held in memory now."""
        return self._memory_size

    @property
    def disk_size(self) -> int:
        """Bytes held on disk now (entries this cache knows of, headers included)."""
        return self._disk_size

    # -- public -------------------------------------------------------------------------------
    def get(self, key: Key) -> bytes | None:
        """The bytes for ``key``, or None. A disk hit is promoted to memory."""
        with self._lock:
            data = self._memory.get(key)
            if data is not None:
                self._memory.move_to_end(key)
                return data
        if not self._disk_enabled:
            return None
        data = self._read_disk(key)
        if data is not None:
            with self._lock:
                self._remember(key, data)
        return data

    def put(self, key: Key, data: bytes) -> None:
        """Keep ``data`` in memory (if it fits the bound) and write it through to disk (if it fits there)."""
        if not isinstance(data, bytes):
            data = bytes(data)
        with self._lock:
            self._remember(key, data)
        if self._disk_enabled:
            self._write_disk(key, data)

    def __contains__(self, key: object) -> bool:
        """Whether ``key`` is held, without reading it or changing the eviction order."""
        if not (isinstance(key, tuple) and len(key) == 2):
            return False
        with self._lock:
            if key in self._memory:
                return True
            if not self._disk_enabled:
                return False
            name = _entry_name(key)
            if name in self._disk:
                return True
        return os.path.isfile(self._path(name))  # written by another process since this one indexed

    def __repr__(self) -> str:
        return (
            f"ByteCache(memory {self._memory_size}/{self.memory_bytes} B, "
            f"disk {self._disk_size}/{self.disk_bytes} B at {self.disk_dir!r})"
        )

    # -- pickling -----------------------------------------------------------------------------
    def __getstate__(self) -> dict[str, Any]:
        return {"memory_bytes": self.memory_bytes, "disk_dir": self.disk_dir, "disk_bytes": self.disk_bytes}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["memory_bytes"], state["disk_dir"], state["disk_bytes"])  # type: ignore[misc]

    # -- memory level (caller holds the lock) -------------------------------------------------
    def _remember(self, key: Key, data: bytes) -> None:
        old = self._memory.pop(key, None)
        if old is not None:
            self._memory_size -= len(old)
        if len(data) > self.memory_bytes:
            return  # larger than the whole bound: keeping it would evict everything else
        self._memory[key] = data
        self._memory_size += len(data)
        while self._memory_size > self.memory_bytes:
            _, evicted = self._memory.popitem(last=False)
            self._memory_size -= len(evicted)

    # -- disk level ---------------------------------------------------------------------------
    def _path(self, name: str) -> str:
        return os.path.join(self.disk_dir, name)  # type: ignore[arg-type]

    def _index_disk(self) -> None:
        """Index the entries already in the directory, oldest access (mtime) first, and trim to the bound."""
        found: list[tuple[int, str, int]] = []
        now = time.time()
        with os.scandir(self.disk_dir) as entries:
            for entry in entries:
                try:
                    if not entry.is_file(follow_symlinks=False):
                        continue
                    stat = entry.stat(follow_symlinks=False)
                    if _ENTRY_NAME.fullmatch(entry.name):
                        found.append((stat.st_mtime_ns, entry.name, stat.st_size))
                    elif entry.name.startswith(_TEMP_PREFIX) and now - stat.st_mtime > _STALE_TEMP_SECONDS:
                        os.remove(entry.path)
                except OSError:
                    continue  # removed meanwhile by another process
        found.sort()
        with self._lock:
            for _, name, size in found:
                self._disk[name] = size
                self._disk_size += size
            self._trim_disk()

    def _trim_disk(self) -> None:
        """Evict oldest-access-first until within the bound (caller holds the lock)."""
        while self._disk_size > self.disk_bytes and self._disk:
            name, size = self._disk.popitem(last=False)
            self._disk_size -= size
            _remove(self._path(name))

    def _forget_disk(self, name: str) -> None:
        with self._lock:
            size = self._disk.pop(name, None)
            if size is not None:
                self._disk_size -= size
            _remove(self._path(name))

    def _read_disk(self, key: Key) -> bytes | None:
        name = _entry_name(key)
        path = self._path(name)
        try:
            with open(path, "rb") as file:
                raw = file.read()
        except FileNotFoundError:
            with self._lock:
                if not os.path.exists(path):  # evicted by another process (not just written by a thread here)
                    size = self._disk.pop(name, None)
                    if size is not None:
                        self._disk_size -= size
            return None
        except OSError:
            self._forget_disk(name)  # unreadable: a miss, and out of the way of the next write
            return None
        data = _decode(raw)
        if data is None:
            self._forget_disk(name)
            return None
        with contextlib.suppress(OSError):
            os.utime(path)  # the access order survives into the next process's index
        with self._lock:
            if name in self._disk:
                self._disk.move_to_end(name)
            else:  # written by another process after this one indexed, or by a thread here that is not done
                with contextlib.suppress(FileNotFoundError):
                    self._disk[name] = os.stat(path).st_size
                    self._disk_size += self._disk[name]
                    self._trim_disk()
        return data

    def _write_disk(self, key: Key, data: bytes) -> None:
        name = _entry_name(key)
        size = _HEADER.size + len(data)
        if size > self.disk_bytes:
            return
        with self._lock:
            if name in self._disk:  # same key, same content: already there
                self._disk.move_to_end(name)
                return
        path = self._path(name)
        temp = self._path(f"{_TEMP_PREFIX}{name}-{uuid.uuid4().hex}")
        try:
            with open(temp, "wb") as file:
                file.write(_HEADER.pack(_MAGIC, zlib.crc32(data), len(data)))
                file.write(data)
            os.replace(temp, path)
        except OSError:
            _remove(temp)  # a full or read-only disk costs the cache, not the caller
            return
        with self._lock:
            old = self._disk.pop(name, None)
            if old is not None:
                self._disk_size -= old
            try:
                size = os.stat(path).st_size  # files are only removed under the lock: this is what is there
            except FileNotFoundError:
                return  # a concurrent writer of the same key had it indexed, and it was evicted meanwhile
            self._disk[name] = size
            self._disk_size += size
            self._trim_disk()


def _entry_name(key: Key) -> str:
    file_id, content_hash = key
    return hashlib.sha256(f"{file_id}:{content_hash}".encode()).hexdigest()


def _decode(raw: bytes) -> bytes | None:
    if len(raw) < _HEADER.size:
        return None
    magic, crc, length = _HEADER.unpack_from(raw)
    data = raw[_HEADER.size :]
    if magic != _MAGIC or length != len(data) or zlib.crc32(data) != crc:
        return None
    return data


def _remove(path: str) -> None:
    with contextlib.suppress(OSError):
        os.remove(path)
