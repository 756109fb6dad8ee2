"""S3 object bodies on disk: moto's objects keep their bytes in content-addressed files, not in memory.

moto's ``FakeKey`` holds its body in a ``tempfile.SpooledTemporaryFile`` that stays in memory up to ~5 MB:
every object of a bucket in the platform's resident memory. ``install`` gives moto's S3 models a
``tempfile`` whose ``SpooledTemporaryFile`` is a ``BlobBuffer`` instead: the body is written once to
``blobs/<sha256>`` (temporary file, fsync, rename) and read from there on demand. The same files are the
checkpoint's and the journal's bodies, so recording a write names the object's digest and copies nothing.

A blob is deleted only by ``collect_garbage``, when no live object, checkpoint or journal names it.

A copy shares its source's blob: moto copies an object by reading the source's body and writing it into the
new object, and a body read whole comes out as ``BlobBytes``, which names its blob, so the write points at
that blob instead of hashing and storing the bytes again. An object's ETag (the MD5 of its body) is likewise
worked out once per blob, not once per object.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import threading
import time
import uuid
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from infra.local.state.files import fsync_directory

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


_MD5S_KEPT = 16384  # the ETags of the blobs used last (about 2 MB)


class BlobBytes(bytes):
    """A blob's whole body, naming the blob (``digest``): written into another object, it is shared."""

    digest: str

    def __copy__(self) -> BlobBytes:
        return self  # immutable, like bytes (moto copies every body it reads)

    def __deepcopy__(self, memo: dict[int, Any]) -> BlobBytes:
        return self


class BlobStore:
    """``blobs/<sha256>`` files, and how many live moto objects hold each one."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._live: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._md5s: OrderedDict[str, str] = OrderedDict()

    def prepare(self) -> None:
        self.path.mkdir(parents=True, exist_ok=True, mode=0o700)

    def file(self, digest: str) -> Path:
        return self.path / digest

    def put(self, data: bytes) -> str:
        """Store ``data`` (durably, bar the directory entry: see ``sync_directory``); returns its sha256."""
        digest = hashlib.sha256(data).hexdigest()
        final = self.path / digest
        if final.exists():
            with contextlib.suppress(FileNotFoundError):
                os.utime(final)  # young again: garbage collection leaves it to the object that names it now
                return digest
        tmp = self.path / f".incoming-{uuid.uuid4().hex}.tmp"
        try:
            descriptor = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, final)
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
        return digest

    def share(self, digest: str) -> bool:
        """Whether the blob ``digest`` is there to be named by one more object (made young again, as ``put``
        does for a body it already holds)."""
        try:
            os.utime(self.path / digest)
        except FileNotFoundError:
            return False
        return True

    def md5_of(self, digest: str) -> str | None:
        with self._lock:
            return self._md5s.get(digest)

    def note_md5(self, digest: str, md5: str) -> None:
        with self._lock:
            self._md5s[digest] = md5
            self._md5s.move_to_end(digest)
            if len(self._md5s) > _MD5S_KEPT:
                self._md5s.popitem(last=False)

    def sync_directory(self) -> None:
        """Make the renames of blobs written so far durable (the journal calls it before its fsync)."""
        fsync_directory(self.path)

    def retain(self, digest: str) -> None:
        with self._lock:
            self._live[digest] += 1

    def release(self, digest: str) -> None:
        with self._lock:
            self._live[digest] -= 1
            if self._live[digest] <= 0:
                del self._live[digest]

    def present(self) -> set[str]:
        """The digests of the blobs on disk (one directory listing)."""
        return {name for name in os.listdir(self.path) if not name.startswith(".")}

    def live(self) -> set[str]:
        with self._lock:
            return set(self._live)

    def delete_if_older(self, digest: str, horizon: float) -> bool:
        """Delete blob ``digest`` unless it was made or named again after ``horizon`` (a wall-clock time) or a
        live object holds it; whether that is settled (deleted, gone, or held), not too young to tell yet."""
        path = self.path / digest
        try:
            if path.stat().st_mtime > horizon:
                return False
        except FileNotFoundError:
            return True
        if digest not in self.live():
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        return True

    def collect_garbage(self, referenced: Iterable[str], min_age_s: float = 60.0) -> int:
        """Delete blobs that neither ``referenced`` nor a live object names, and older than ``min_age_s``."""
        keep = set(referenced) | self.live()
        deleted = 0
        horizon = time.time() - min_age_s
        for path in self.path.iterdir():
            name = path.name
            if name in keep:
                continue
            with contextlib.suppress(FileNotFoundError):
                if path.stat().st_mtime > horizon:
                    continue  # being written, or written just before its object was made
                if name in self.live():
                    continue
                path.unlink()
                deleted += 1
        return deleted


class BlobBuffer:
    """The file-like body of one moto object, kept in ``store`` (what ``FakeKey`` calls: seek, truncate,
    write, read, tell, close). moto writes a body whole, after ``seek(0)`` and ``truncate()``."""

    def __init__(self, store: BlobStore) -> None:
        self._store = store
        self.digest: str | None = None
        self.size = 0
        self._position = 0
        self.closed = False

    def _set(self, digest: str | None, size: int) -> None:
        if digest is not None:
            self._store.retain(digest)
        if self.digest is not None:
            self._store.release(self.digest)
        self.digest, self.size = digest, size

    def adopt(self, digest: str, size: int) -> None:
        """Point at a blob already in the store (a restored object)."""
        self._set(digest, size)

    def _all(self) -> bytes:
        if self.digest is None:
            return b""
        return self._store.file(self.digest).read_bytes()

    def _check_open(self) -> None:
        if self.closed:
            raise ValueError("I/O operation on closed file.")

    def seek(self, offset: int, whence: int = 0) -> int:
        self._check_open()
        base = {0: 0, 1: self._position, 2: self.size}[whence]
        self._position = max(0, base + offset)
        return self._position

    def tell(self) -> int:
        return self._position

    def truncate(self, size: int | None = None) -> int:
        self._check_open()
        size = self._position if size is None else size
        if size == 0:
            self._set(None, 0)
        elif size < self.size:
            data = self._all()[:size]
            self._set(self._store.put(data), len(data))
        return size

    def write(self, data: Any) -> int:
        self._check_open()
        if (
            isinstance(data, BlobBytes)
            and self._position == 0
            and self.size <= len(data)
            and self._store.share(data.digest)
        ):
            self._set(data.digest, len(data))  # a copy of another object's body: its blob, shared
            self._position = len(data)
            return len(data)
        data = bytes(data)
        if not data:  # changes nothing (a new object's empty start, every restored object's)
            return 0
        if self._position == 0 and data and self.size <= len(data):
            body = data
        else:
            current = self._all()
            current = current + b"\0" * max(0, self._position - len(current))
            body = current[: self._position] + data + current[self._position + len(data) :]
        self._set(self._store.put(body), len(body))
        self._position += len(data)
        return len(data)

    def read(self, size: int | None = -1) -> bytes:
        self._check_open()
        if self.digest is None or self._position >= self.size:
            return b""
        whole = self._position == 0 and (size is None or size < 0)
        with self._store.file(self.digest).open("rb") as handle:
            handle.seek(self._position)
            data = handle.read(-1 if size is None or size < 0 else size)
        self._position += len(data)
        if whole:
            body = BlobBytes(data)
            body.digest = self.digest
            return body
        return data

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._set(None, 0)

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.close()


class _TempfileForMoto:
    """What ``moto.s3.models`` sees as ``tempfile``: its spooled files are ``BlobBuffer``s."""

    def __init__(self, store: BlobStore) -> None:
        self._store = store

    def SpooledTemporaryFile(self, *_: Any, **__: Any) -> BlobBuffer:  # noqa: N802 - tempfile's name
        return BlobBuffer(self._store)

    def __getattr__(self, name: str) -> Any:
        return getattr(tempfile, name)


def install(store: BlobStore) -> None:
    """Objects moto creates from now on keep their bodies in ``store``."""
    import moto.s3.models

    store.prepare()
    moto.s3.models.tempfile = _TempfileForMoto(store)  # type: ignore[assignment]
    key_class = moto.s3.models.FakeKey
    global _MOTO_ETAG  # noqa: PLW0603 - moto's own property, kept to put back
    if _MOTO_ETAG is None:
        _MOTO_ETAG = key_class.__dict__["etag"]
    worked_out: Callable[[Any], str] = _MOTO_ETAG.fget

    def etag(key: Any) -> str:
        """moto's ETag of ``key``, its MD5 taken from the blob's when another object worked it out already."""
        blob = key._value_buffer  # noqa: SLF001 - moto's body of the object
        digest = blob.digest if isinstance(blob, BlobBuffer) else None
        if digest is None or key._etag is not None:  # noqa: SLF001 - a multipart object's is set when made
            return worked_out(key)
        known = store.md5_of(digest)
        if known is not None:
            key._etag = known  # noqa: SLF001
            return worked_out(key)
        answer = worked_out(key)
        if key._etag is not None:  # noqa: SLF001
            store.note_md5(digest, key._etag)  # noqa: SLF001
        return answer

    key_class.etag = property(etag)  # type: ignore[method-assign, assignment]


_MOTO_ETAG: Any = None  # moto's ``FakeKey.etag`` property


def uninstall() -> None:
    import moto.s3.models

    moto.s3.models.tempfile = tempfile
    if _MOTO_ETAG is not None:
        moto.s3.models.FakeKey.etag = _MOTO_ETAG  # type: ignore[method-assign]
