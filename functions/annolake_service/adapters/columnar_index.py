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
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb

from annolake_service.domain.query.index_rows import column_type
from annolake_service.domain.query.nodes import Node
from annolake_service.domain.query.sql import LABEL_PREFIX, quote_identifier, quote_text, to_sql


@dataclass(frozen=True)
class IndexPage:
    """Matching file ids, newest first (by creation time, then id), and the count of every match."""

    count: int
    file_ids: list[str]
    last: tuple[datetime, str] | None
    """The position of the last id (the keyset cursor of the next page), or None when the page is empty."""


def write_index_file(rows: Iterable[Mapping[str, Any]], path: Path) -> int:
    """Write rows (``domain/query/index_rows.py``) as one Parquet file; returns the number of rows."""
    path.parent.mkdir(parents=True, exist_ok=True)
    columns: dict[str, str] = {}
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
        with duckdb.connect() as db:
            struct = "{" + ", ".join(f"{quote_text(name)}: {quote_text(kind)}" for name, kind in columns.items()) + "}"
            source = f"read_json({quote_text(str(spool_path))}, format='newline_delimited', columns={struct})"
            if count == 0:
                source = f"(SELECT * FROM {source} LIMIT 0)"
            db.execute(f"COPY (SELECT * FROM {source}) TO {quote_text(str(path))} (FORMAT parquet)")
    finally:
        spool_path.unlink(missing_ok=True)
    return count


class ColumnarIndex:
    """Queries over the live rows of a set of index files (base first, deltas after, any order works)."""

    def __init__(self, files: Sequence[Path]) -> None:
        if not files:
            raise ValueError("an index has at least one file (write an empty base for an empty dataset)")
        self.files = list(files)
        self._db = duckdb.connect()
        listing = "[" + ", ".join(quote_text(str(f)) for f in self.files) + "]"
        self._rows = f"read_parquet({listing}, union_by_name=true)"
        self.columns = [row[0] for row in self._db.execute(f"DESCRIBE SELECT * FROM {self._rows}").fetchall()]
        live = "SELECT * EXCLUDE (deleted) FROM rows WHERE NOT deleted"
        if len(self.files) > 1:
            live = (
                "SELECT * EXCLUDE (deleted) FROM rows "
                "QUALIFY row_number() OVER (PARTITION BY file_id ORDER BY seq DESC) = 1 AND NOT deleted"
            )
        self._live = f"WITH rows AS (SELECT * FROM {self._rows}), live AS ({live})"

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> ColumnarIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def labels(self) -> list[str]:
        return [c.removeprefix(LABEL_PREFIX) for c in self.columns if c.startswith(LABEL_PREFIX)]

    def count(self, query: Node | None = None) -> int:
        where, params = self._where(query)
        row = self._db.execute(f"{self._live} SELECT count(*) FROM live WHERE {where}", params).fetchone()
        assert row is not None
        return int(row[0])

    def page(
        self, query: Node | None = None, *, limit: int = 100, after: tuple[datetime, str] | None = None
    ) -> IndexPage:
        """One page of matches in listing order (newest first) after the ``after`` position, and the total count."""
        where, params = self._where(query)
        keyset, keyset_params = "TRUE", []
        if after is not None:
            keyset, keyset_params = "(created, file_id) < (?, ?)", [after[0], after[1]]
        sql = (
            f"{self._live}, matches AS (SELECT file_id, created FROM live WHERE {where}) "
            f"SELECT file_id, created, (SELECT count(*) FROM matches) FROM matches WHERE {keyset} "
            "ORDER BY created DESC, file_id DESC LIMIT ?"
        )
        rows = self._db.execute(sql, [*params, *keyset_params, limit]).fetchall()
        count = int(rows[0][2]) if rows else self.count(query)
        last = (rows[-1][1], rows[-1][0]) if rows else None
        return IndexPage(count=count, file_ids=[r[0] for r in rows], last=last)

    def file_ids(self, query: Node | None = None) -> list[str]:
        """Every matching file id, sorted (what freezing a slice or a snapshot needs)."""
        where, params = self._where(query)
        sql = f"{self._live} SELECT file_id FROM live WHERE {where} ORDER BY file_id"
        return [row[0] for row in self._db.execute(sql, params).fetchall()]

    def label_counts(self, query: Node | None = None) -> dict[str, int]:
        """Per label: the instances in the matching files (the explorer's label chart)."""
        labels = self.labels()
        if not labels:
            return {}
        where, params = self._where(query)
        sums = ", ".join(f"COALESCE(sum({quote_identifier(LABEL_PREFIX + name)}), 0)" for name in labels)
        row = self._db.execute(f"{self._live} SELECT {sums} FROM live WHERE {where}", params).fetchone()
        assert row is not None
        return {name: int(total) for name, total in zip(labels, row, strict=True)}

    def compact(self, path: Path) -> int:
        """Write the live rows as one new base file; returns its row count. The caller swaps the file list."""
        path.parent.mkdir(parents=True, exist_ok=True)
        sql = (
            f"COPY ({self._live} SELECT *, FALSE AS deleted FROM live ORDER BY file_id) "
            f"TO {quote_text(str(path))} (FORMAT parquet)"
        )
        self._db.execute(sql)
        row = self._db.execute(f"SELECT count(*) FROM read_parquet({quote_text(str(path))})").fetchone()
        assert row is not None
        return int(row[0])

    def _where(self, query: Node | None) -> tuple[str, list[Any]]:
        if query is None:
            return "TRUE", []
        predicate = to_sql(query, self.columns)
        return predicate.text, predicate.params
