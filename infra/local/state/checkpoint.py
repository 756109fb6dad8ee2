"""The checkpoint ``state.db``: every kept item, object and user pool, by the logical id of its resource.

An SQLite database (write-ahead log, ``synchronous=FULL``: a commit is on disk when it returns). The journal
is folded in by ``fold``: the entries of the segments since the last fold, applied in order in one
transaction that also records the last segment they came from (``journal_through``). A fold costs what its
entries cost, whatever the size of the store; a crash mid-fold leaves the previous checkpoint and the segments
as they were.

An entry (see ``capture``) is the state of one thing after a request: ``item`` (a table's item by key, or None
once deleted), ``object`` (a bucket's object by key, or None), ``pool`` (a user pool's users and groups,
whole). Applying one replaces what the checkpoint held for that key.

Items are keyed by ``key_identity`` of their key attributes, whose names each table's first entry tells; rows
that came in before they were known (imported from a format 1 ``state.json``, which did not record them) are
keyed by position until then and re-keyed once.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from infra.local.state.files import fsync_directory
from infra.local.state.model import FORMAT, VERSION, StateStoreError

log = logging.getLogger("local-runtime.state")

_SCHEMA = """
CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE items (resource TEXT NOT NULL, identity TEXT NOT NULL, item TEXT NOT NULL, UNIQUE (resource, identity));
CREATE TABLE key_names (resource TEXT PRIMARY KEY, names TEXT NOT NULL);
CREATE TABLE objects (
    resource TEXT NOT NULL, key TEXT NOT NULL, sha256 TEXT NOT NULL, entry TEXT NOT NULL, UNIQUE (resource, key)
);
CREATE INDEX objects_by_blob ON objects (sha256);
CREATE TABLE pools (resource TEXT PRIMARY KEY, state TEXT NOT NULL);
"""
_POSITIONAL = "#"  # the prefix of an identity by position (a key identity is a JSON object: it starts with "{")
_FORMAT_1_VERSION = 1
_READ_BATCH = 2_000
_WAL_KEPT = 16 << 20  # the log is cut back to this once a large fold has been written into the database


def key_identity(key: dict[str, Any]) -> str:
    """One text per DynamoDB key, whatever the spelling of its numbers."""

    def canonical(value: dict[str, Any]) -> Any:
        ((kind, content),) = value.items()
        if kind == "N":
            try:
                return {"N": str(Decimal(content).normalize())}
            except InvalidOperation:
                return value
        return value

    return json.dumps({name: canonical(value) for name, value in key.items()}, sort_keys=True)


def _text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


@dataclass
class Folded:
    """What a fold did: the entries applied, and the blobs that objects named before it and do not now."""

    applied: int = 0
    released: set[str] = field(default_factory=set)


class Checkpoint:
    """``state.db`` (see the module docstring); ``legacy`` is the format 1 ``state.json`` it takes over."""

    def __init__(self, path: Path, legacy: Path) -> None:
        self.path = Path(path)
        self.legacy = Path(legacy)
        self._db: sqlite3.Connection | None = None
        self._key_names: dict[str, list[str]] = {}
        self._lock = threading.Lock()  # one fold or read at a time on the connection

    def exists(self) -> bool:
        """Whether there is a checkpoint to recover from (this one, or a ``state.json`` it would import)."""
        return self.path.is_file() or self.legacy.is_file()

    # -- opening ----------------------------------------------------------------------------------------------

    def open(self) -> None:
        """Open the checkpoint, made empty or imported from ``legacy`` when there is none."""
        if self._db is not None:
            return
        if not self.path.is_file():
            self._create()
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            meta = self._read_meta(db)
            if meta.get("format") != FORMAT:
                raise StateStoreError(f"{self.path} is not an Annolake local state file")
            if meta.get("version") != str(VERSION):
                raise StateStoreError(
                    f"{self.path} has state format version {meta.get('version')}, this code reads version "
                    f"{VERSION}; move {self.path.parent} away to start afresh"
                )
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            db.execute(f"PRAGMA journal_size_limit={_WAL_KEPT}")
            self._key_names = _key_names(db)
        except BaseException:
            db.close()
            raise
        self._db = db

    def _read_meta(self, db: sqlite3.Connection) -> dict[str, str]:
        try:
            return dict(db.execute("SELECT name, value FROM meta"))
        except sqlite3.DatabaseError as error:
            raise StateStoreError(
                f"saved state {self.path} is unreadable ({error}); move {self.path.parent} away to start afresh"
            ) from None

    def _create(self) -> None:
        """A new database, in place only once it holds the schema (and what ``legacy`` held, if it is there):
        a crash meanwhile leaves no half-made checkpoint."""
        manifest = _load_format_1(self.legacy) if self.legacy.is_file() else None
        tmp = self.path.with_name(self.path.name + ".tmp")
        for leftover in (tmp, tmp.with_name(tmp.name + "-wal"), tmp.with_name(tmp.name + "-shm")):
            leftover.unlink(missing_ok=True)
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))  # it holds passwords
        db = sqlite3.connect(tmp, isolation_level=None)
        try:
            db.execute("PRAGMA synchronous=FULL")
            db.execute("BEGIN")
            for statement in filter(str.strip, _SCHEMA.split(";")):
                db.execute(statement)
            db.executemany(
                "INSERT INTO meta VALUES (?, ?)",
                [("format", FORMAT), ("version", str(VERSION)), ("journal_through", "-1")],
            )
            if manifest is not None:
                _import_format_1(db, manifest)
            db.execute("COMMIT")
        finally:
            db.close()
        os.replace(tmp, self.path)
        fsync_directory(self.path.parent)
        if manifest is not None:
            kept = self.legacy.with_name(self.legacy.name + ".format-1")
            os.replace(self.legacy, kept)
            log.warning(
                "saved state %s imported into %s; the old file is kept as %s (delete it at will)",
                self.legacy,
                self.path,
                kept,
            )

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    @property
    def db(self) -> sqlite3.Connection:
        if self._db is None:
            self.open()
        assert self._db is not None
        return self._db

    @property
    def journal_through(self) -> int:
        with self._lock:
            (value,) = self.db.execute("SELECT value FROM meta WHERE name = 'journal_through'").fetchone()
        return int(value)

    # -- folding ----------------------------------------------------------------------------------------------

    def fold(self, records: Iterable[list[dict[str, Any]]], through: int) -> Folded:
        """Apply every entry of ``records`` in order and record ``through`` as the last segment folded, all in
        one transaction."""
        folded = Folded()
        with self._lock:
            db = self.db
            db.execute("BEGIN IMMEDIATE")
            try:
                for entries in records:
                    for entry in entries:
                        self._apply(db, entry, folded)
                db.execute("UPDATE meta SET value = ? WHERE name = 'journal_through'", (str(through),))
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                self._key_names = _key_names(db)
                raise
        return folded

    def _apply(self, db: sqlite3.Connection, entry: dict[str, Any], folded: Folded) -> None:
        kind = entry["t"]
        if kind == "item":
            self._item(db, entry)
        elif kind == "object":
            self._object(db, entry, folded)
        elif kind == "pool":
            db.execute(
                "INSERT INTO pools VALUES (?, ?) ON CONFLICT (resource) DO UPDATE SET state = excluded.state",
                (entry["pool"], _text(entry["state"])),
            )
        else:
            raise ValueError(f"unknown journal entry {kind!r}")
        folded.applied += 1

    def _item(self, db: sqlite3.Connection, entry: dict[str, Any]) -> None:
        resource = entry["table"]
        if resource not in self._key_names:
            self._learn_key_names(db, resource, sorted(entry["key"]))
        identity = key_identity(entry["key"])
        if entry["item"] is None:
            db.execute("DELETE FROM items WHERE resource = ? AND identity = ?", (resource, identity))
        else:
            db.execute(
                "INSERT INTO items VALUES (?, ?, ?) "
                "ON CONFLICT (resource, identity) DO UPDATE SET item = excluded.item",
                (resource, identity, _text(entry["item"])),
            )

    def _learn_key_names(self, db: sqlite3.Connection, resource: str, names: list[str]) -> None:
        """Record the key attribute names of ``resource`` and re-key its rows kept by position."""
        rows = db.execute(
            "SELECT rowid, item FROM items WHERE resource = ? AND identity >= ? AND identity < ?",
            (resource, _POSITIONAL, chr(ord(_POSITIONAL) + 1)),
        ).fetchall()
        for rowid, text in rows:
            item = json.loads(text)
            identity = key_identity({name: item[name] for name in names if name in item})
            db.execute("DELETE FROM items WHERE resource = ? AND identity = ?", (resource, identity))
            db.execute("UPDATE items SET identity = ? WHERE rowid = ?", (identity, rowid))
        db.execute("INSERT INTO key_names VALUES (?, ?)", (resource, json.dumps(names)))
        self._key_names[resource] = names

    def _object(self, db: sqlite3.Connection, entry: dict[str, Any], folded: Folded) -> None:
        resource, key, new = entry["bucket"], entry["key"], entry["object"]
        row = db.execute("SELECT sha256 FROM objects WHERE resource = ? AND key = ?", (resource, key)).fetchone()
        if new is None:
            db.execute("DELETE FROM objects WHERE resource = ? AND key = ?", (resource, key))
        else:
            db.execute(
                "INSERT INTO objects VALUES (?, ?, ?, ?) ON CONFLICT (resource, key) "
                "DO UPDATE SET sha256 = excluded.sha256, entry = excluded.entry",
                (resource, key, new["sha256"], _text(new)),
            )
        if row is not None and (new is None or new["sha256"] != row[0]):
            folded.released.add(row[0])

    # -- reading ----------------------------------------------------------------------------------------------

    def resources(self, kind: str) -> list[str]:
        """The logical ids with saved data of ``kind`` (``tables``, ``buckets`` or ``user_pools``)."""
        table = {"tables": "items", "buckets": "objects", "user_pools": "pools"}[kind]
        with self._lock:
            return [resource for (resource,) in self.db.execute(f"SELECT DISTINCT resource FROM {table}")]  # noqa: S608

    def items(self, resource: str) -> Iterator[dict[str, Any]]:
        return self._rows("items", "identity", "item", resource)

    def objects(self, resource: str) -> Iterator[dict[str, Any]]:
        return self._rows("objects", "key", "entry", resource)

    def pool(self, resource: str) -> dict[str, Any]:
        with self._lock:
            (text,) = self.db.execute("SELECT state FROM pools WHERE resource = ?", (resource,)).fetchone()
        return json.loads(text)

    def _rows(self, table: str, key: str, column: str, resource: str) -> Iterator[dict[str, Any]]:
        """The rows of ``resource`` in order of ``key``, in batches each read under the lock (a long restore
        does not hold it throughout), each batch found through the ``(resource, key)`` index."""
        query = (
            f"SELECT {key}, {column} FROM {table} WHERE resource = ? AND {key} > ? "  # noqa: S608 - names of ours
            f"ORDER BY {key} LIMIT {_READ_BATCH}"
        )
        last = ""
        while True:
            with self._lock:
                batch = self.db.execute(query, (resource, last)).fetchall()
            if not batch:
                return
            for last, text in batch:  # noqa: B007 - the last key is where the next batch starts
                yield json.loads(text)

    def referenced_blobs(self) -> set[str]:
        with self._lock:
            return {digest for (digest,) in self.db.execute("SELECT DISTINCT sha256 FROM objects")}

    def references(self, digest: str) -> bool:
        with self._lock:
            return self.db.execute("SELECT 1 FROM objects WHERE sha256 = ? LIMIT 1", (digest,)).fetchone() is not None


def _key_names(db: sqlite3.Connection) -> dict[str, list[str]]:
    return {resource: json.loads(text) for resource, text in db.execute("SELECT resource, names FROM key_names")}


def _load_format_1(path: Path) -> dict[str, Any]:
    try:
        manifest = json.loads(path.read_bytes())
    except (ValueError, UnicodeDecodeError) as error:
        raise StateStoreError(
            f"saved state {path} is unreadable ({error}); move {path.parent} away to start afresh"
        ) from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise StateStoreError(f"{path} is not an Annolake local state file")
    if manifest.get("version") != _FORMAT_1_VERSION:
        raise StateStoreError(
            f"{path} has state format version {manifest.get('version')}, this code reads version {VERSION} "
            f"(and imports version {_FORMAT_1_VERSION}); move {path.parent} away to start afresh"
        )
    return manifest


def _import_format_1(db: sqlite3.Connection, manifest: dict[str, Any]) -> None:
    """What a format 1 ``state.json`` held: its items keyed by position (it did not record key names)."""
    for resource, table in manifest["tables"].items():
        db.executemany(
            "INSERT INTO items VALUES (?, ?, ?)",
            ((resource, f"{_POSITIONAL}{n:010d}", _text(item)) for n, item in enumerate(table["items"]) if item),
        )
    for resource, bucket in manifest["buckets"].items():
        db.executemany(
            "INSERT INTO objects VALUES (?, ?, ?, ?)",
            ((resource, obj["key"], obj["sha256"], _text(obj)) for obj in bucket["objects"] if obj),
        )
    db.executemany("INSERT INTO pools VALUES (?, ?)", ((r, _text(s)) for r, s in manifest["user_pools"].items()))
    db.execute(
        "UPDATE meta SET value = ? WHERE name = 'journal_through'", (str(int(manifest.get("journal_through", -1))),)
    )
