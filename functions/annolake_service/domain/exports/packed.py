"""Packed shards: a snapshot's samples (media bytes + the pinned annotation JSON) in tar shards, with an index.

Each shard is a complete POSIX tar, as webdataset writes them, so ``tar``, Python's ``tarfile`` and webdataset read
it as it is: for each sample, ``<file id>.<ext>`` (the original's bytes) then ``<file id>.json`` (the item the
snapshot's stream pages carry for it, without URLs). Members have fixed metadata (mtime 0, mode 0644, no owner)
and 512-byte ustar headers, so the same snapshot and shard size give the same bytes.

The export's output, ``shards.jsonl``, is the index: a header line, then a line per shard in snapshot order with
its name, size, sha256 and, per sample, where its media and JSON start in the shard and how long they are, so a
reader can take a whole shard in one GET or any sample with a ranged one.

Pages (500 files) are cut into shards of at most ``shard_bytes`` (a sample larger than that is a shard alone);
a shard never spans two pages, so each page step writes its shards alone and a re-drive rewrites only the pages
that are missing. The page step does the I/O (``services.packs``); this module says what goes where.
"""

from __future__ import annotations

import json
import posixpath
import re
import tarfile
from typing import Any

from annolake_service.domain.exports.base import ExportContext, ExportFile, ExportFormat, register

FORMAT = "packed"
INDEX_FORMAT = "annolake-shards/1"
MIB = 1 << 20
DEFAULT_SHARD_BYTES = 64 * MIB
MIN_SHARD_BYTES = 1 * MIB
MAX_SHARD_BYTES = 1024 * MIB
BLOCK = 512
TAR_END = b"\0" * (2 * BLOCK)


def normalized_options(options: dict[str, Any]) -> dict[str, Any]:
    """``{"shard_bytes": n}`` with the default filled in (so asking with and without it is the same export)."""
    unknown = sorted(set(options) - {"shard_bytes"})
    if unknown:
        raise ValueError(f"packed shards take only shard_bytes; got {unknown}")
    size = options.get("shard_bytes", DEFAULT_SHARD_BYTES)
    if not isinstance(size, int) or isinstance(size, bool) or not MIN_SHARD_BYTES <= size <= MAX_SHARD_BYTES:
        raise ValueError(
            f"shard_bytes must be a whole number of bytes from {MIN_SHARD_BYTES} (1 MiB) to {MAX_SHARD_BYTES} "
            f"(1 GiB), not {size!r}; 64 MiB (the default) suits most loaders"
        )
    return {"shard_bytes": size}


def extension(name: str) -> str:
    """The media member's extension: the original name's, lower case (``jpg``, ``png``), as webdataset decodes by
    it; ``bin`` when it has none usable."""
    ext = posixpath.splitext(name)[1][1:].lower()
    return ext if re.fullmatch(r"[a-z0-9]{1,10}", ext) and ext != "json" else "bin"


def sample_json(item: dict[str, Any]) -> bytes:
    """The annotation member: the stream item without its URLs, canonical."""
    kept = {k: v for k, v in item.items() if k not in ("media_url", "thumbnail_url")}
    return json.dumps(kept, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def header(name: str, size: int) -> bytes:
    """One 512-byte ustar header with fixed metadata."""
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode, info.uid, info.gid, info.uname, info.gname = size, 0, 0o644, 0, 0, "", ""
    return info.tobuf(tarfile.USTAR_FORMAT, "utf-8", "strict")


def padding(size: int) -> bytes:
    return b"\0" * (-size % BLOCK)


def member_bytes(size: int) -> int:
    """A member's bytes in the tar: its header and its data padded to whole blocks."""
    return BLOCK + size + (-size % BLOCK)


def cut(sizes: list[int], shard_bytes: int) -> list[range]:
    """Consecutive runs of samples (by their bytes in the tar) of at most ``shard_bytes`` each, end blocks
    included; a sample larger than that alone. Greedy, so the cut depends on the sizes only."""
    runs: list[range] = []
    start, used = 0, len(TAR_END)
    for position, size in enumerate(sizes):
        if position > start and used + size > shard_bytes:
            runs.append(range(start, position))
            start, used = position, len(TAR_END)
        used += size
    if start < len(sizes):
        runs.append(range(start, len(sizes)))
    return runs


def shard_name(page: int, number: int) -> str:
    return f"{page:06d}-{number:04d}.tar"


def index_line(name: str, size: int, sha256: str, samples: list[list[Any]]) -> bytes:
    """A shard's index line; ``samples``: ``[index, file_id, ext, media_offset, media_size, json_offset,
    json_size]`` each (offsets of the data, after the header)."""
    line = {"shard": name, "size": size, "sha256": sha256, "count": len(samples), "samples": samples}
    return json.dumps(line, sort_keys=True, separators=(",", ":")).encode() + b"\n"


def _head(context: ExportContext) -> bytes:
    head = {
        "format": INDEX_FORMAT,
        "snapshot": context.snapshot_name,
        "digest": context.snapshot_digest,
        "dataset": context.dataset,
        "shard_bytes": context.options.get("shard_bytes", DEFAULT_SHARD_BYTES),
    }
    return json.dumps(head, sort_keys=True, separators=(",", ":")).encode() + b"\n"


def _not_rendered(files: list[ExportFile], context: ExportContext) -> dict[str, bytes]:
    raise RuntimeError("packed shards are written by services.packs (they read media), not rendered from records")


PACKED = register(
    ExportFormat(
        name=FORMAT,
        file_name="shards.jsonl",
        content_type="application/jsonl",
        fragments=("index",),
        render_page=_not_rendered,
        head=_head,
        options=normalized_options,
        writes_objects=True,
        no_references="its shards hold the originals' bytes themselves",
    )
)
