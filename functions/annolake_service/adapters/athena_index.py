"""A dataset's columnar index queried with Athena: the same statements as the embedded engine, in Trino's dialect.

The Glue table (declared in ``infra/constructs/query_index.py``) lies over every index's Parquet files
(``index/<project>/<dataset>/``, partitions projected from the key, nothing registered); a query reads only the
manifest's files (``"$path"``), as DuckDB does, so a base a compaction retired and a delta it folded are never
read twice. Label and attribute columns come and go with the schema: before a query the table is given any
column the query reads that it lacks (Glue's ``UpdateTable``, versioned; Athena matches Parquet columns by
name, case-insensitively, and a file without the column reads NULL, which the predicates take as 0).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from botocore.exceptions import ClientError

from annolake_service.adapters.aws_clients import client
from annolake_service.adapters.columnar_index import IndexPage, LabelChart
from annolake_service.domain.query.index_rows import BASE_COLUMNS, column_type
from annolake_service.domain.query.index_sql import IndexStatements, chart_of
from annolake_service.domain.query.nodes import Node
from annolake_service.domain.query.sql import SqlPredicate, label_column, quote_identifier, quote_text

GLUE_TYPES = {
    "VARCHAR": "string",
    "BIGINT": "bigint",
    "BOOLEAN": "boolean",
    "TIMESTAMP": "timestamp",
    "JSON": "string",  # Trino reads it with json_parse
    "VARCHAR[]": "array<string>",
    "DOUBLE[]": "array<double>",
}
_TABLE_INPUT_KEYS = (
    "Name",
    "Description",
    "Owner",
    "Retention",
    "StorageDescriptor",
    "PartitionKeys",
    "TableType",
    "Parameters",
)
_WAIT_S = 25.0  # under API Gateway's 29 s integration timeout, with room for the page's reads
_FIRST_POLL_S = 0.1
_LONGEST_POLL_S = 1.0


class AthenaQueryFailed(RuntimeError):
    """Athena ended a query without results (failed, cancelled, or still running past the wait)."""


@dataclass(frozen=True)
class AthenaTarget:
    database: str
    table: str
    workgroup: str


def glue_type(column: str) -> str:
    return GLUE_TYPES[column_type(column)]


def ensure_columns(target: AthenaTarget, wanted: Iterable[str]) -> None:
    """Give the Glue table every column of ``wanted`` it lacks (names compare case-insensitively, as in Glue)."""
    glue = client("glue")
    for _ in range(5):  # another request may add columns between our read and write
        table = glue.get_table(DatabaseName=target.database, Name=target.table)["Table"]
        columns = table["StorageDescriptor"].get("Columns", [])
        have = {column["Name"].lower() for column in columns}
        missing = sorted({name for name in wanted if name.lower() not in have})
        if not missing:
            return
        table_input = {key: table[key] for key in _TABLE_INPUT_KEYS if key in table}
        table_input["StorageDescriptor"] = {
            **table["StorageDescriptor"],
            "Columns": [*columns, *({"Name": name.lower(), "Type": glue_type(name)} for name in missing)],
        }
        try:
            glue.update_table(
                DatabaseName=target.database,
                TableInput=table_input,
                **({"VersionId": table["VersionId"]} if "VersionId" in table else {}),
            )
            return
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConcurrentModificationException":
                raise
    raise AthenaQueryFailed(f"the Glue table {target.database}.{target.table} kept changing while adding columns")


def run_query(target: AthenaTarget, sql: str, *, wait_s: float = _WAIT_S) -> list[list[str | None]]:
    """Run ``sql`` in the workgroup, poll with backoff until it ends, and return every row (text, None for NULL)."""
    athena = client("athena")
    started = athena.start_query_execution(
        QueryString=sql, WorkGroup=target.workgroup, QueryExecutionContext={"Database": target.database}
    )
    query_id = started["QueryExecutionId"]
    deadline = time.monotonic() + wait_s
    delay = _FIRST_POLL_S
    while True:
        status = athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]["Status"]
        state = status["State"]
        if state == "SUCCEEDED":
            break
        if state in ("FAILED", "CANCELLED"):
            reason = status.get("StateChangeReason", "no reason given")
            raise AthenaQueryFailed(f"Athena query {query_id} {state.lower()}: {reason}")
        if time.monotonic() + delay > deadline:
            athena.stop_query_execution(QueryExecutionId=query_id)
            raise AthenaQueryFailed(f"Athena query {query_id} did not finish within {wait_s:.0f} s; it was stopped")
        time.sleep(delay)
        delay = min(delay * 2, _LONGEST_POLL_S)
    rows: list[list[str | None]] = []
    token: str | None = None
    first = True
    while True:
        page = athena.get_query_results(QueryExecutionId=query_id, **({"NextToken": token} if token else {}))
        found = page["ResultSet"].get("Rows", [])
        if first:
            found = found[1:]  # a SELECT's first row holds the column labels
            first = False
        rows += [[cell.get("VarCharValue") for cell in row.get("Data", [])] for row in found]
        token = page.get("NextToken")
        if not token:
            return rows


class AthenaIndex:
    """The ``ColumnarIndex`` reads (count, page, ids, label chart) answered by Athena over the same files."""

    def __init__(
        self,
        target: AthenaTarget,
        *,
        bucket: str,
        project_id: str,
        dataset_id: str,
        keys: Sequence[str],
        labels: Sequence[str],
        query_columns: Iterable[str] = (),
    ) -> None:
        self.target = target
        self._labels = list(labels)
        wanted = {*(label_column(name) for name in self._labels), *query_columns}
        ensure_columns(target, wanted)
        paths = ", ".join(quote_text(f"s3://{bucket}/{key}") for key in keys)
        table = f"{quote_identifier(target.database)}.{quote_identifier(target.table)}"
        source = (
            f"(SELECT * FROM {table} WHERE project = {quote_text(project_id)} "
            f'AND dataset = {quote_text(dataset_id)} AND "$path" IN ({paths}))'
        )
        self.columns = {*BASE_COLUMNS, *wanted}
        self.statements = IndexStatements(source, self.columns, "trino", single_file=len(keys) == 1)

    def labels(self) -> list[str]:
        return list(self._labels)

    def _rows(self, statement: SqlPredicate) -> list[list[str | None]]:
        assert not statement.params, "Trino statements carry their values as literals"
        return run_query(self.target, statement.text)

    def count(self, query: Node | None = None) -> int:
        return int(self._rows(self.statements.count(query))[0][0] or 0)

    def page(self, query: Node | None = None, *, limit: int = 100, after: str | None = None) -> IndexPage:
        rows = self._rows(self.statements.page(query, limit=limit, after=after))
        count = int(rows[0][2] or 0) if rows else self.count(query)
        return IndexPage(count=count, file_ids=[str(r[0]) for r in rows], positions=[str(r[1]) for r in rows])

    def file_ids(
        self, query: Node | None = None, *, listing_order: bool = False, up_to: str | None = None
    ) -> list[str]:
        statement = self.statements.file_ids(query, listing_order=listing_order, up_to=up_to)
        return [str(row[0]) for row in self._rows(statement)]

    def count_up_to(self, position: str) -> int:
        return int(self._rows(self.statements.count_up_to(position))[0][0] or 0)

    def label_counts(self, query: Node | None = None) -> LabelChart:
        row = self._rows(self.statements.label_counts(query, self._labels))[0]
        files, per_label = chart_of([value or 0 for value in row], self._labels)
        return LabelChart(files=files, labels=per_label)

    def newest_position(self) -> str | None:
        rows = self._rows(self.statements.newest_position())
        return rows[0][0] if rows else None

    def close(self) -> None:
        """Nothing held between queries (``ColumnarIndex`` compatibility)."""

    def __enter__(self) -> AthenaIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


__all__ = ["AthenaIndex", "AthenaQueryFailed", "AthenaTarget", "ensure_columns", "glue_type", "run_query"]
