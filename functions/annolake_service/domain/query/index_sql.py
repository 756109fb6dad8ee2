"""The statements a dataset's columnar index answers (count, a page, every id, the label chart), in either dialect.

Both engines run these same statements over the same Parquet files: the embedded engine (DuckDB) over the
downloaded files, Athena (Trino) over the Glue table of the index's prefix restricted to the manifest's files.
``source`` is the relation of every row of those files. A file's newest row (highest ``seq``) wins and a
tombstone removes it; with one file (a base alone) every row is already live.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from annolake_service.domain.query.nodes import Node
from annolake_service.domain.query.sql import LABEL_PREFIX, Compiler, Dialect, SqlPredicate, quote_identifier


class IndexStatements:
    def __init__(
        self, source: str, columns: Collection[str], dialect: Dialect = "duckdb", *, single_file: bool = False
    ) -> None:
        self.columns = frozenset(columns)
        self.dialect = dialect
        if single_file:
            live = "SELECT * FROM rows WHERE NOT deleted"
        elif dialect == "duckdb":
            live = (
                "SELECT * FROM rows "
                "QUALIFY row_number() OVER (PARTITION BY file_id ORDER BY seq DESC) = 1 AND NOT deleted"
            )
        else:  # Trino has no QUALIFY
            live = (
                "SELECT * FROM (SELECT *, row_number() OVER (PARTITION BY file_id ORDER BY seq DESC) AS row_rank "
                "FROM rows) ranked WHERE row_rank = 1 AND NOT deleted"
            )
        self.prefix = f"WITH rows AS (SELECT * FROM {source}), live AS ({live})"

    def _compiler(self) -> Compiler:
        return Compiler(self.columns, self.dialect)

    @staticmethod
    def _where(compiler: Compiler, query: Node | None) -> str:
        return "TRUE" if query is None else compiler.node(query)

    def count(self, query: Node | None) -> SqlPredicate:
        compiler = self._compiler()
        where = self._where(compiler, query)
        return SqlPredicate(f"{self.prefix} SELECT count(*) FROM live WHERE {where}", compiler.params)

    def page(self, query: Node | None, *, limit: int, after: str | None) -> SqlPredicate:
        """Columns: file_id, position, and the count of every match (on each row)."""
        compiler = self._compiler()
        where = self._where(compiler, query)
        keyset = "TRUE" if after is None else f"position < {compiler.bind(after)}"
        text = (
            f"{self.prefix}, matches AS (SELECT file_id, position FROM live WHERE {where}) "
            f"SELECT file_id, position, (SELECT count(*) FROM matches) FROM matches WHERE {keyset} "
            f"ORDER BY position DESC LIMIT {int(limit)}"
        )
        return SqlPredicate(text, compiler.params)

    def file_ids(self, query: Node | None, *, listing_order: bool, up_to: str | None = None) -> SqlPredicate:
        """Every matching file id; with ``up_to``, only those listed at or before that position."""
        compiler = self._compiler()
        where = self._where(compiler, query)
        if up_to is not None:
            where = f"({where}) AND position <= {compiler.bind(up_to)}"
        order = "position DESC" if listing_order else "file_id"
        return SqlPredicate(f"{self.prefix} SELECT file_id FROM live WHERE {where} ORDER BY {order}", compiler.params)

    def label_counts(self, query: Node | None, labels: Sequence[str]) -> SqlPredicate:
        """Columns: the matching files, then per label the matching files that have it and its instances."""
        compiler = self._compiler()
        where = self._where(compiler, query)
        parts = []
        for name in labels:
            column = quote_identifier(LABEL_PREFIX + name)
            if LABEL_PREFIX + name not in self.columns:
                parts.append(", 0, 0")
            else:
                parts.append(f", count(*) FILTER (WHERE {column} > 0), COALESCE(sum({column}), 0)")
        text = f"{self.prefix} SELECT count(*){''.join(parts)} FROM live WHERE {where}"
        return SqlPredicate(text, compiler.params)

    def newest_position(self) -> SqlPredicate:
        return SqlPredicate(f"{self.prefix} SELECT max(position) FROM rows")

    def count_up_to(self, position: str) -> SqlPredicate:
        """The live files (of any status) listed at or before ``position``."""
        compiler = self._compiler()
        bound = compiler.bind(position)
        return SqlPredicate(f"{self.prefix} SELECT count(*) FROM live WHERE position <= {bound}", compiler.params)


def chart_of(row: Sequence[Any], labels: Sequence[str]) -> tuple[int, dict[str, tuple[int, int]]]:
    """The label chart statement's one row as (files, {label: (files with it, instances)})."""
    return int(row[0]), {name: (int(row[1 + 2 * i]), int(row[2 + 2 * i])) for i, name in enumerate(labels)}
