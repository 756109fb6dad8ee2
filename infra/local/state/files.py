"""The state on disk: the manifest ``state.json`` and the content-addressed object bodies in ``blobs/``.

A blob is written once (temporary file, fsync, rename) and never rewritten. The manifest is written to
``state.json.tmp``, fsynced and renamed over the old one, then the directory is fsynced; a leftover
``state.json.tmp`` from a crash is ignored. Blobs the manifest no longer references are deleted only after
it is in place.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import uuid
from pathlib import Path
from typing import Any

from infra.local.state.model import FORMAT, VERSION, StateStoreError

MANIFEST_NAME = "state.json"
BLOBS_NAME = "blobs"
_CHUNK = 1 << 20


class StateFiles:
    """``home/state.json`` and ``home/blobs/``."""

    def __init__(self, home: Path) -> None:
        self.home = Path(home)
        self.manifest_path = self.home / MANIFEST_NAME
        self.blobs_path = self.home / BLOBS_NAME

    def exists(self) -> bool:
        """Whether a completed snapshot is there (a leftover ``state.json.tmp`` does not count)."""
        return self.manifest_path.is_file()

    def prepare(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.blobs_path.mkdir(exist_ok=True, mode=0o700)

    def has_blob(self, digest: str) -> bool:
        return (self.blobs_path / digest).is_file()

    def load(self) -> dict[str, Any]:
        try:
            manifest = json.loads(self.manifest_path.read_bytes())
        except FileNotFoundError:
            raise StateStoreError(f"no saved state at {self.manifest_path}") from None
        except (ValueError, UnicodeDecodeError) as error:
            raise StateStoreError(
                f"saved state {self.manifest_path} is unreadable ({error}); move {self.home} away to start afresh"
            ) from None
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise StateStoreError(f"{self.manifest_path} is not an Annolake local state file")
        if manifest.get("version") != VERSION:
            raise StateStoreError(
                f"{self.manifest_path} has state format version {manifest.get('version')}, this code reads "
                f"version {VERSION}; move {self.home} away to start afresh"
            )
        return manifest

    def write_manifest(self, payload: bytes) -> bool:
        """Put ``payload`` in place as the manifest, unless it is already there; whether it was written."""
        if self.exists() and self.manifest_path.read_bytes() == payload:
            return False
        tmp = self.manifest_path.with_name(self.manifest_path.name + ".tmp")
        descriptor = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            os.fchmod(handle.fileno(), 0o600)  # it holds passwords, and a leftover .tmp may have other modes
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        # Blobs first: the manifest must never reference a blob that is not on disk.
        fsync_directory(self.blobs_path)
        os.replace(tmp, self.manifest_path)
        fsync_directory(self.home)
        return True

    def store_blob(self, body: Any) -> tuple[str, int, bool]:
        """Stream ``body`` into ``blobs/<sha256>``; returns (sha256, size, whether a new blob was written)."""
        tmp = self.blobs_path / f".incoming-{uuid.uuid4().hex}.tmp"
        digest = hashlib.sha256()
        size = 0
        try:
            with tmp.open("wb") as handle:
                for chunk in body.iter_chunks(_CHUNK):
                    digest.update(chunk)
                    handle.write(chunk)
                    size += len(chunk)
                handle.flush()
                os.fsync(handle.fileno())
            final = self.blobs_path / digest.hexdigest()
            if final.exists():  # content-addressed: never rewritten
                tmp.unlink()
                return digest.hexdigest(), size, False
            os.replace(tmp, final)
            return digest.hexdigest(), size, True
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()


def fsync_directory(path: Path) -> None:
    """Make the renames in ``path`` durable (POSIX; a no-op where directories cannot be opened or synced)."""
    with contextlib.suppress(OSError):
        descriptor = os.open(path, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
