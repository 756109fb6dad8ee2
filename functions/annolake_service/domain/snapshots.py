"""Snapshots: an immutable manifest of a dataset's files as they are now, addressed by a digest of its content.

The manifest is JSON Lines: a header (format, dataset, query, schema version, count), then one entry per file
sorted by file id: ``{"id", "sha256", "version", "labels"}`` (media hash, annotation version, label counts at
that version). It is written canonically (sorted keys, no spaces, ASCII), so the same files at the same
versions under the same schema and query give the same bytes and the same digest, wherever it is computed.

A fixed-width index of the same entries (``index_record``) lets a stream page read any range of them with one
ranged GET. ``diff`` merges two manifests read in file id order, holding one entry of each at a time.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import BaseModel

FORMAT = "annolake-snapshot/1"
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"
DIGEST_HEX = 64
MIN_DIGEST_PREFIX = 8
_DIGEST_PREFIX = re.compile(rf"^[0-9a-f]{{{MIN_DIGEST_PREFIX},{DIGEST_HEX}}}$")

ID_WIDTH = 32
HASH_WIDTH = 64
VERSION_WIDTH = 10
INDEX_RECORD = ID_WIDTH + 1 + HASH_WIDTH + 1 + VERSION_WIDTH + 1  # id, space, sha256, space, version, newline


STATUSES = ("pending", "ready", "failed")


class Snapshot(BaseModel):
    """A named snapshot: its manifest is found by ``digest``; names of the same content share it.

    A snapshot too large to build within one request is ``pending`` (no digest yet) while the snapshot state
    machine builds its manifest from ``chunks_total`` chunks of ``chunk_files`` files of its frozen file list,
    then ``ready`` or ``failed`` (``status_reason``). ``build_id`` names the build's working objects.
    """

    project_id: str
    name: str
    digest: str
    dataset: str
    query: str | None
    schema_version: int
    count: int
    label_histogram: dict[str, dict[str, int]]
    manifest_bytes: int
    created_by: str
    created_at: datetime
    status: str = "ready"
    status_reason: str | None = None
    build_id: str | None = None
    chunks_total: int = 0
    chunk_files: int = 0


class InvalidManifest(ValueError):
    """Manifest bytes that are not what ``encode_manifest`` writes."""


@dataclass(frozen=True, order=True)
class ManifestEntry:
    """One file as the snapshot pins it."""

    file_id: str
    sha256: str
    version: int
    labels: dict[str, int] = field(default_factory=dict, compare=False)

    def line(self) -> bytes:
        labels = {name: count for name, count in sorted(self.labels.items()) if count}
        return _canonical({"id": self.file_id, "labels": labels, "sha256": self.sha256, "version": self.version})


@dataclass(frozen=True)
class ManifestHeader:
    dataset: str
    query: str | None
    schema_version: int
    count: int

    def line(self) -> bytes:
        return _canonical(
            {
                "count": self.count,
                "dataset": self.dataset,
                "format": FORMAT,
                "query": self.query,
                "schema_version": self.schema_version,
            }
        )


def _canonical(value: dict[str, Any]) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode() + b"\n"


def is_digest_prefix(text: str) -> bool:
    """Whether ``text`` can name a snapshot by (a prefix of) its digest: 8 to 64 lowercase hex digits."""
    return bool(_DIGEST_PREFIX.match(text))


def sorted_entries(entries: Iterable[ManifestEntry]) -> list[ManifestEntry]:
    """Entries in file id order; a file listed twice (it cannot be in one dataset twice) is refused."""
    ordered = sorted(entries, key=lambda e: e.file_id)
    for before, after in zip(ordered, ordered[1:], strict=False):
        if before.file_id == after.file_id:
            raise InvalidManifest(f"file {before.file_id} is listed twice")
    return ordered


def encode_manifest(header: ManifestHeader, entries: list[ManifestEntry]) -> bytes:
    """The manifest's bytes; ``entries`` must be in file id order (``sorted_entries``)."""
    return header.line() + b"".join(entry.line() for entry in entries)


def digest(manifest: bytes) -> str:
    return hashlib.sha256(manifest).hexdigest()


def label_histogram(entries: Iterable[ManifestEntry]) -> dict[str, dict[str, int]]:
    """Per label: files with at least one instance of it and instances in all, by label name."""
    files: Counter[str] = Counter()
    instances: Counter[str] = Counter()
    for entry in entries:
        for name, count in entry.labels.items():
            if count > 0:
                files[name] += 1
                instances[name] += count
    return {name: {"files": files[name], "instances": instances[name]} for name in sorted(instances)}


def merge_histograms(parts: Iterable[dict[str, dict[str, int]]]) -> dict[str, dict[str, int]]:
    """The ``label_histogram`` of the union of disjoint sets of entries, from theirs."""
    files: Counter[str] = Counter()
    instances: Counter[str] = Counter()
    for part in parts:
        for name, tally in part.items():
            files[name] += tally["files"]
            instances[name] += tally["instances"]
    return {name: {"files": files[name], "instances": instances[name]} for name in sorted(instances)}


# --- reading a manifest back -------------------------------------------------------------------------


def parse_header(line: bytes) -> ManifestHeader:
    try:
        value = json.loads(line)
        if value.get("format") != FORMAT:
            raise InvalidManifest(f"not a snapshot manifest of format {FORMAT}: {value.get('format')!r}")
        return ManifestHeader(value["dataset"], value["query"], int(value["schema_version"]), int(value["count"]))
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise InvalidManifest(f"unreadable manifest header: {exc}") from None


def parse_entry(line: bytes) -> ManifestEntry:
    try:
        value = json.loads(line)
        return ManifestEntry(value["id"], value["sha256"], int(value["version"]), dict(value["labels"]))
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidManifest(f"unreadable manifest entry: {exc}") from None


def read_manifest(lines: Iterable[bytes]) -> tuple[ManifestHeader, Iterator[ManifestEntry]]:
    """The header, and the entries as the lines arrive (a streamed object's lines are read one at a time)."""
    stream = iter(lines)
    first = next(stream, None)
    if first is None:
        raise InvalidManifest("the manifest is empty")
    return parse_header(first), (parse_entry(line) for line in stream if line.strip())


# --- the fixed-width index ---------------------------------------------------------------------------


def index_record(entry: ManifestEntry) -> bytes:
    if len(entry.file_id) > ID_WIDTH or len(entry.sha256) != HASH_WIDTH:
        raise InvalidManifest(f"file {entry.file_id}: ids of up to {ID_WIDTH} and sha256 of {HASH_WIDTH} hex only")
    return f"{entry.file_id:<{ID_WIDTH}} {entry.sha256} {entry.version:0{VERSION_WIDTH}d}\n".encode()


@dataclass(frozen=True)
class Pin:
    """What a stream page needs of an entry: the file, its media hash and the annotation version to serve."""

    file_id: str
    sha256: str
    version: int


def parse_index(body: bytes) -> list[Pin]:
    if len(body) % INDEX_RECORD:
        raise InvalidManifest(f"index ranges come in records of {INDEX_RECORD} bytes, not {len(body)}")
    text = body.decode("ascii")
    pins = []
    for start in range(0, len(text), INDEX_RECORD):
        file_id, sha256, version = text[start : start + INDEX_RECORD].split()
        pins.append(Pin(file_id, sha256, int(version)))
    return pins


# --- diff --------------------------------------------------------------------------------------------


@dataclass
class Diff:
    """What changed from snapshot ``a`` to snapshot ``b``; the id lists hold at most ``limit`` ids each."""

    added: int = 0
    removed: int = 0
    changed: int = 0
    unchanged: int = 0
    added_ids: list[str] = field(default_factory=list)
    removed_ids: list[str] = field(default_factory=list)
    changed_ids: list[str] = field(default_factory=list)
    # label → instances in b minus instances in a, split by where the difference comes from
    label_deltas: dict[str, dict[str, int]] = field(default_factory=dict)
    limit: int = 1000

    def _count(self, label: str, part: str, delta: int) -> None:
        if delta:
            row = self.label_deltas.setdefault(label, {"added": 0, "removed": 0, "changed": 0, "total": 0})
            row[part] += delta
            row["total"] += delta

    def _note(self, ids: list[str], file_id: str) -> None:
        if len(ids) < self.limit:
            ids.append(file_id)


def diff(a: Iterable[ManifestEntry], b: Iterable[ManifestEntry], *, limit: int = 1000) -> Diff:
    """Added, removed and changed files (media or annotation version differ) and per-label instance deltas.

    Both inputs are in file id order (as manifests are stored); they are merged in one pass.
    """
    result = Diff(limit=limit)
    left, right = _in_order(a, "a"), _in_order(b, "b")
    x, y = next(left, None), next(right, None)
    while x is not None or y is not None:
        if y is None or (x is not None and x.file_id < y.file_id):
            assert x is not None
            result.removed += 1
            result._note(result.removed_ids, x.file_id)
            for label, count in x.labels.items():
                result._count(label, "removed", -count)
            x = next(left, None)
        elif x is None or y.file_id < x.file_id:
            result.added += 1
            result._note(result.added_ids, y.file_id)
            for label, count in y.labels.items():
                result._count(label, "added", count)
            y = next(right, None)
        else:
            if (x.sha256, x.version) == (y.sha256, y.version):
                result.unchanged += 1
            else:
                result.changed += 1
                result._note(result.changed_ids, x.file_id)
                for label in sorted({*x.labels, *y.labels}):
                    result._count(label, "changed", y.labels.get(label, 0) - x.labels.get(label, 0))
            x, y = next(left, None), next(right, None)
    result.label_deltas = dict(sorted(result.label_deltas.items()))
    return result


def _in_order(entries: Iterable[ManifestEntry], which: str) -> Iterator[ManifestEntry]:
    previous = ""
    for entry in entries:
        if entry.file_id <= previous:
            raise InvalidManifest(f"manifest {which} is not in file id order at {entry.file_id}")
        previous = entry.file_id
        yield entry
