"""A dataset's columnar index on disk, read and written with DuckDB (embedded; nothing is downloaded).

An index is a list of Parquet files: a base and the delta files written since it. A file's newest row
(highest ``seq``) wins wherever it appears, and a tombstone row removes it; ``compact`` folds them into one
base. Files written at different times may have different label and attribute columns (a label added to
the schema later): they are read by column name, and a column a file lacks reads as NULL, which the
predicates of ``domain/query/sql.py`` take as 0 or the empty set.
"""

from __future__ import annotations

import json
import tempfile
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from annolake_service.domain.query.index_rows import BASE_COLUMNS, column_type
from annolake_service.domain.query.index_sql import IndexStatements, chart_of
from annolake_service.domain.query.nodes import EVAL_METRICS, Node
from annolake_service.domain.query.sql import EVAL_TABLE, LABEL_PREFIX, SqlPredicate, quote_identifier, quote_text

if TYPE_CHECKING:
    import duckdb


def _connect() -> duckdb.DuckDBPyConnection:
    """A fresh in-memory database. DuckDB is imported here, by the requests that query, not at every cold start."""
    import duckdb

    return duckdb.connect()


_writing: duckdb.DuckDBPyConnection | None = None
_writing_lock = threading.Lock()


def _writer() -> duckdb.DuckDBPyConnection:
    """The process's one database for writing index files (opened at the first write); each write takes a
    connection of its own to it.

    Opening a database costs some 20 ms of CPU, a connection to an open one 0.3 ms, and the query index's
    updater writes a delta file at every batch of the change stream. A write keeps nothing in the database (it
    reads JSON and writes Parquet), and each connection may run beside the others in other threads. Indexes
    open databases of their own: a database caches what it read of each Parquet file for its lifetime."""
    global _writing
    with _writing_lock:
        if _writing is None:
            _writing = _connect()
        return _writing


def _forget_writer(broken: duckdb.DuckDBPyConnection) -> None:
    """Open a new database at the next write: ``broken`` was closed, or DuckDB invalidated it after a fatal error
    (it then refuses every later statement, which would fail every delta write until the process ends)."""
    global _writing
    with _writing_lock:
        if _writing is broken:
            _writing = None


def _write_with_shared_database(statement: str) -> None:
    import duckdb

    for attempt in range(2):
        database = _writer()
        try:
            with database.cursor() as db:
                db.execute(statement)
            return
        except (duckdb.FatalException, duckdb.ConnectionException):
            _forget_writer(database)
            if attempt:
                raise


@dataclass(frozen=True)
class IndexPage:
    """Matching file ids in listing order (``position`` descending: newest first) and the count of every match."""

    count: int
    file_ids: list[str]
    positions: list[str]
    """Each id's position in the listing (a cursor continues after one)."""


@dataclass(frozen=True)
class LabelChart:
    files: int
    labels: dict[str, tuple[int, int]]
    """Per label: (files that have it, instances)."""


def write_index_file(rows: Iterable[Mapping[str, Any]], path: Path) -> int:
    """Write rows (``domain/query/index_rows.py``) as one Parquet file; returns the number of rows."""
    path.parent.mkdir(parents=True, exist_ok=True)
    columns: dict[str, str] = dict(BASE_COLUMNS)  # an empty file still has every column
    count = 0
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", dir=path.parent, delete=False) as spool:
        for row in rows:
            for column in row:
                if column not in columns:
                    columns[column] = column_type(column)
            spool.write(json.dumps(row, separators=(",", ":"), default=str))
            spool.write("\n")
            count += 1
    spool_path = Path(spool.name)
    try:
        struct = "{" + ", ".join(f"{quote_text(name)}: {quote_text(kind)}" for name, kind in columns.items()) + "}"
        source = f"read_json({quote_text(str(spool_path))}, format='newline_delimited', columns={struct})"
        _write_with_shared_database(f"COPY (SELECT * FROM {source}) TO {quote_text(str(path))} (FORMAT parquet)")
    finally:
        spool_path.unlink(missing_ok=True)
    return count


_EVAL_TABLE_SQL = (
    f"CREATE TEMP TABLE {EVAL_TABLE} (ref VARCHAR, file_id VARCHAR, "
    + ", ".join(f"{quote_identifier(m)} DOUBLE" for m in EVAL_METRICS)
    + ")"
)


class ColumnarIndex:
    """Queries over the live rows of a set of index files (base first, deltas after, any order works)."""

    def __init__(self, files: Sequence[Path]) -> None:
        if not files:
            raise ValueError("an index has at least one file (write an empty base for an empty dataset)")
        self.files = list(files)
        self._db = _connect()
        self._db.execute("SET parquet_metadata_cache = true")  # index files never change under their name
        listing = "[" + ", ".join(quote_text(str(f)) for f in self.files) + "]"
        self._rows = f"read_parquet({listing}, union_by_name=true)"
        self.columns = [row[0] for row in self._db.execute(f"DESCRIBE SELECT * FROM {self._rows}").fetchall()]
        self.statements = IndexStatements(self._rows, self.columns, "duckdb", single_file=len(self.files) == 1)
        self._db.execute(_EVAL_TABLE_SQL)

    def reader(self) -> ColumnarIndex:
        """Another reader of the same files on its own DuckDB cursor (one per request, safe beside others in other
        threads), without opening a database or reading the files' schemas again: what an API worker keeps an
        opened index for. Closing it closes only its cursor."""
        reader = object.__new__(ColumnarIndex)
        reader.files, reader._rows = self.files, self._rows
        reader.columns, reader.statements = self.columns, self.statements
        reader._db = self._db.cursor()
        reader._db.execute(_EVAL_TABLE_SQL)  # temporary tables belong to their cursor
        return reader

    def attach_evaluations(self, evaluations: Mapping[str, Mapping[str, Mapping[str, float]]]) -> None:
        """What ``eval.<ref>.<metric>`` reads: ``{ref: {file id: {metric: value}}}`` (a file left out has none)."""
        rows = [
            (ref, file_id, *(values.get(m) for m in EVAL_METRICS))
            for ref, files in evaluations.items()
            for file_id, values in files.items()
        ]
        self._db.execute(f"DELETE FROM {EVAL_TABLE}")
        if rows:
            marks = ", ".join("?" * (2 + len(EVAL_METRICS)))
            self._db.executemany(f"INSERT INTO {EVAL_TABLE} VALUES ({marks})", rows)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> ColumnarIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def labels(self) -> list[str]:
        return [c.removeprefix(LABEL_PREFIX) for c in self.columns if c.startswith(LABEL_PREFIX)]

    def newest_position(self) -> str | None:
        """The newest listing position any row holds (files listed later are not in the index yet)."""
        row = self._fetch_one(self.statements.newest_position())
        return None if row is None else row[0]

    def count(self, query: Node | None = None) -> int:
        row = self._fetch_one(self.statements.count(query))
        assert row is not None
        return int(row[0])

    def page(self, query: Node | None = None, *, limit: int = 100, after: str | None = None) -> IndexPage:
        """One page of matches in listing order after the ``after`` position, and the count of all matches."""
        statement = self.statements.page(query, limit=limit, after=after)
        rows = self._db.execute(statement.text, statement.params).fetchall()
        count = int(rows[0][2]) if rows else self.count(query)
        return IndexPage(count=count, file_ids=[r[0] for r in rows], positions=[r[1] for r in rows])

    def file_ids(
        self, query: Node | None = None, *, listing_order: bool = False, up_to: str | None = None
    ) -> list[str]:
        """Every matching file id (listed at or before ``up_to`` if given), sorted by id or in listing order (what
        freezing a slice needs)."""
        statement = self.statements.file_ids(query, listing_order=listing_order, up_to=up_to)
        return [row[0] for row in self._db.execute(statement.text, statement.params).fetchall()]

    def count_up_to(self, position: str) -> int:
        """The live files of any status listed at or before ``position``."""
        row = self._fetch_one(self.statements.count_up_to(position))
        assert row is not None
        return int(row[0])

    def label_counts(self, query: Node | None = None) -> LabelChart:
        """How many files match, and per label the matching files that have it and its instances in them."""
        labels = self.labels()
        row = self._fetch_one(self.statements.label_counts(query, labels))
        assert row is not None
        files, per_label = chart_of(row, labels)
        return LabelChart(files=files, labels=per_label)

    def compact(self, path: Path) -> int:
        """Write the live rows as one new base file, in listing order; returns its row count. The caller swaps the
        file list. In listing order, a first page (``ORDER BY position DESC LIMIT n``) reads only the first row
        groups: DuckDB skips the others by their position statistics (4x faster at a million files)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        sql = (
            f"COPY ({self.statements.prefix} SELECT * EXCLUDE (deleted), FALSE AS deleted FROM live "
            "ORDER BY position DESC) "
            f"TO {quote_text(str(path))} (FORMAT parquet)"
        )
        self._db.execute(sql)
        row = self._db.execute(f"SELECT count(*) FROM read_parquet({quote_text(str(path))})").fetchone()
        assert row is not None
        return int(row[0])

    def _fetch_one(self, statement: SqlPredicate) -> tuple[Any, ...] | None:
        return self._db.execute(statement.text, statement.params).fetchone()
