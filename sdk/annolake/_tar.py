"""Tar archives read as a stream, a member at a time.

``tarfile`` keeps every member it has read in ``TarFile.members`` for later random access; an export's
archive of a million annotation files would then be held whole. A stream needs none of them."""

from __future__ import annotations

import tarfile
from collections.abc import Iterator
from pathlib import Path


def stream_members(archive_path: Path) -> Iterator[tuple[tarfile.TarFile, tarfile.TarInfo]]:
    """Each member in the archive's order, with the open archive (its data readable until the next one)."""
    with tarfile.open(archive_path, "r|") as archive:
        for member in archive:
            archive.members.clear()  # type: ignore[attr-defined]  # not in the stubs
            yield archive, member


def extract_all(archive_path: Path, folder: Path) -> None:
    """``extractall(folder, filter="data")`` without holding the member list: a path out of ``folder``, a link
    out of it or a device is refused as ``extractall`` refuses it."""
    for archive, member in stream_members(archive_path):
        archive.extract(member, folder, filter="data")
