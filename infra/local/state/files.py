"""Making renames durable: what the checkpoint, the journal and the blobs rely on after an ``os.replace``."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


def fsync_directory(path: Path) -> None:
    """Make the renames in ``path`` durable (POSIX; a no-op where directories cannot be opened or synced)."""
    with contextlib.suppress(OSError):
        descriptor = os.open(path, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
