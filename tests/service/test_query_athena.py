"""The Athena path of the columnar index: the same statements compiled for Trino, the adapter on moto's Athena and
Glue, and which engine a request gets.

No Trino runs offline, so the Trino statements are checked two ways: their shape (literals instead of parameters,
Trino's list and JSON functions, no DuckDB-only syntax), and, for every query without metadata fields, by running
them on DuckDB over the same base + delta files with Trino's one missing list function (``any_match``) defined as
a macro: they must select exactly what the reference evaluator selects, as the DuckDB dialect does.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from datetime import date, datetime
from typing import Any

import boto3
import duckdb
import pytest
from annolake_service.adapters import athena_index
from annolake_service.adapters.athena_index import AthenaIndex, AthenaQueryFailed, AthenaTarget, run_query
from annolake_service.domain.query import Node, parse_query
from annolake_service.domain.query.index_rows import BASE_COLUMNS
from annolake_service.domain.query.index_sql import IndexStatements, chart_of
from annolake_service.domain.query.nodes import Compare, InList, Metadata, walk
from annolake_service.domain.query.sql import athena_supports, to_sql, trino_literal
from hypothesis import HealthCheck, assume, given, settings
from moto.athena.models import QueryResults, athena_backends
from moto.moto_api import state_manager

from infra.constructs.query_index import INDEX_COLUMNS, INDEX_TABLE
from tests.service.test_query_columnar import Files
from tests.support.query_data import queries

EXAMPLES = int(os.environ.get("ANNOLAKE_QUERY_EXAMPLES", "300"))
ACCOUNT = "123456789012"


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Files]:
    built = Files(tmp_path_factory.mktemp("index"))
    yield built
    built.index.close()


class TrinoOnDuckDB:
    """The Trino statements over the index's files, run by DuckDB with ``any_match`` defined."""

    def __init__(self, files: Files) -> None:
        self.db = duckdb.connect()
        self.db.execute("SET lambda_syntax='ENABLE_SINGLE_ARROW'")  # Trino's lambdas are ``x -> …``
        self.db.execute("CREATE MACRO any_match(l, f) AS len(list_filter(l, f)) > 0")
        listing = ", ".join(f"'{path}'" for path in files.index.files)
        self.statements = IndexStatements(
            f"read_parquet([{listing}], union_by_name=true)", files.index.columns, "trino"
        )

    def rows(self, statement: Any) -> list[tuple[Any, ...]]:
        assert statement.params == [] and "?" not in statement.text
        return self.db.execute(statement.text).fetchall()


@pytest.fixture(scope="module")
def trino(files: Files) -> Iterator[TrinoOnDuckDB]:
    engine = TrinoOnDuckDB(files)
    yield engine
    engine.db.close()


def _has_metadata(node: Node) -> bool:
    return any(isinstance(p, Compare | InList) and isinstance(p.field, Metadata) for p in walk(node))


@settings(
    max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]
)
@given(node=queries)
def test_trino_statements_select_what_the_evaluator_selects(files: Files, trino: TrinoOnDuckDB, node: Node) -> None:
    assume(athena_supports(node) and not _has_metadata(node))
    found = {row[0] for row in trino.rows(trino.statements.file_ids(node, listing_order=True))}
    assert found == files.brute_force(node)


def test_trino_pages_counts_and_charts_match_duckdb(files: Files, trino: TrinoOnDuckDB) -> None:
    node = parse_query('labels.car >= 1 or attributes.colour in ["red", "blue"] or file.created > 2026-01-31')
    after = None
    while True:
        page = files.index.page(node, limit=5, after=after)
        rows = trino.rows(trino.statements.page(node, limit=5, after=after))
        assert [r[0] for r in rows] == page.file_ids and [r[1] for r in rows] == page.positions
        assert all(r[2] == page.count for r in rows)
        if not rows:
            break
        after = rows[-1][1]
    assert trino.rows(trino.statements.count(node))[0][0] == files.index.count(node)
    labels = files.index.labels()
    files_matching, per_label = chart_of(trino.rows(trino.statements.label_counts(node, labels))[0], labels)
    chart = files.index.label_counts(node)
    assert (files_matching, per_label) == (chart.files, chart.labels)


COLUMNS = [*BASE_COLUMNS, "label:car", "attr_str:weather", "attr_num:weather", "label:it's"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("labels.car > 3", ['(COALESCE("label:car", 0) > 3)']),
        ('labels."it\'s" >= 1', ['COALESCE("label:it\'s", 0) >= 1']),
        ("labels.bus = 0", ["(0 = 0)"]),  # a label no file has yet reads 0
        ('attributes.weather = "it\'s"', ["contains(\"attr_str:weather\", 'it''s')"]),
        ("attributes.weather > 2.5", ["any_match(\"attr_num:weather\", x -> x > DOUBLE '2.5')"]),
        ('dataset.name != "test set"', ["(NOT COALESCE(contains(dataset_names, 'test set'), FALSE))"]),
        ("file.created = 2026-01-31", ["CAST(created AS DATE) = DATE '2026-01-31'"]),
        ("file.created > 2026-01-31T12:00:00+02:00", ["created > TIMESTAMP '2026-01-31 10:00:00.000000'"]),
        (
            'file.metadata."camera.id" = "x"',
            [
                "json_extract(json_parse(metadata), '$[\"camera.id\"]')",
                "any_match(CAST(",
                "TRY_CAST(x AS VARCHAR) = 'x'",
            ],
        ),
        ("file.metadata.iso >= 100", ["regexp_like(json_format(", "TRY_CAST(x AS DOUBLE) >= DOUBLE '100.0'"]),
    ],
)
def test_the_trino_predicate_writes_literals_and_trino_functions(text: str, expected: list[str]) -> None:
    predicate = to_sql(parse_query(text), COLUMNS, "trino")
    assert predicate.params == []
    for part in expected:
        assert part in predicate.text
    for duckdb_only in ("list_contains", "list_filter", "lambda x", "json_type", "?"):
        assert duckdb_only not in predicate.text


def test_trino_statements_rank_without_duckdb_syntax() -> None:
    statements = IndexStatements("t", COLUMNS, "trino")
    for statement in (
        statements.count(parse_query("labels.car > 1")),
        statements.page(None, limit=10, after="2026#f1"),
        statements.file_ids(None, listing_order=True),
        statements.label_counts(None, ["car", "bus"]),
    ):
        assert "QUALIFY" not in statement.text and "EXCLUDE" not in statement.text
        assert "row_number() OVER (PARTITION BY file_id ORDER BY seq DESC) AS row_rank" in statement.text
    assert "position < '2026#f1'" in statements.page(None, limit=10, after="2026#f1").text
    assert ", 0, 0 FROM live" in statements.label_counts(None, ["bus"]).text  # a label without a column


def test_what_athena_does_not_read() -> None:
    assert not athena_supports(parse_query("eval.pr_a1.fp >= 1"))
    assert not athena_supports(parse_query('file.metadata."say \\"hi\\"" = 1'))
    assert athena_supports(parse_query('file.metadata."camera.id" = 1 and labels.car > 0'))
    with pytest.raises(ValueError, match="embedded engine only"):
        to_sql(parse_query("eval.pr_a1.fp >= 1"), COLUMNS, "trino")


def test_trino_literals() -> None:
    assert trino_literal(datetime(2026, 1, 31, 12, 0, 1, 5)) == "TIMESTAMP '2026-01-31 12:00:01.000005'"
    assert trino_literal(date(2026, 1, 31)) == "DATE '2026-01-31'"
    assert trino_literal("a'b") == "'a''b'"
    assert trino_literal(True) == "TRUE" and trino_literal(-3) == "-3" and trino_literal(1e300) == "DOUBLE '1e+300'"
    assert trino_literal(float("inf")) == "infinity()"


def test_the_glue_table_declares_every_base_column() -> None:
    assert {name: athena_index.glue_type(name) for name in BASE_COLUMNS} == INDEX_COLUMNS


# --- the adapter on moto's Athena and Glue ----------------------------------------------------------------------


@pytest.fixture
def catalog(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[AthenaTarget]:
    from tests.support.auth import reset_service_caches

    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    reset_service_caches()
    session = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1")
    glue = session.client("glue", endpoint_url=moto_endpoint)
    target = AthenaTarget(f"annolake_{uuid.uuid4().hex[:8]}", INDEX_TABLE, f"wg-{uuid.uuid4().hex[:8]}")
    glue.create_database(DatabaseInput={"Name": target.database})
    glue.create_table(
        DatabaseName=target.database,
        TableInput={
            "Name": target.table,
            "TableType": "EXTERNAL_TABLE",
            "PartitionKeys": [{"Name": "project", "Type": "string"}, {"Name": "dataset", "Type": "string"}],
            "StorageDescriptor": {
                "Location": "s3://media/index/",
                "Columns": [{"Name": n, "Type": t} for n, t in INDEX_COLUMNS.items()],
            },
        },
    )
    session.client("athena", endpoint_url=moto_endpoint).create_work_group(Name=target.workgroup)
    yield target
    monkeypatch.undo()
    reset_service_caches()


def _queue(*results: list[list[str | None]]) -> None:
    """What moto's Athena answers the next queries with: a header row, then the rows (as Athena pages them)."""
    queue = athena_backends[ACCOUNT]["us-east-1"].query_results_queue
    for rows in results:
        width = len(rows[0]) if rows else 1
        header = {"Data": [{"VarCharValue": f"_col{i}"} for i in range(width)]}
        body = [{"Data": [{"VarCharValue": v} if v is not None else {} for v in row]} for row in rows]
        queue.append(QueryResults(rows=[header, *body], column_info=[]))


def _sent() -> list[str]:
    executions = athena_backends[ACCOUNT]["us-east-1"].executions
    return [e.query for e in executions.values()]


def test_the_adapter_runs_the_compiled_sql_on_the_manifests_files(catalog: AthenaTarget) -> None:
    index = AthenaIndex(
        catalog,
        bucket="media",
        project_id="p1",
        dataset_id="ds1",
        keys=["index/p1/ds1/base-a.parquet", "index/p1/ds1/delta-1-b.parquet"],
        labels=["car", "Traffic Light"],
        query_columns={"label:car", "attr_str:weather", "attr_num:weather"},
    )
    node = parse_query('labels.car > 1 and attributes.weather = "rain"')
    _queue([["f2", "2026-02#f2", "2"], ["f1", "2026-01#f1", "2"]])
    page = index.page(node, limit=2)
    assert (page.count, page.file_ids, page.positions) == (2, ["f2", "f1"], ["2026-02#f2", "2026-01#f1"])
    sql = _sent()[-1]
    assert sql == index.statements.page(node, limit=2, after=None).text
    assert "project = 'p1' AND dataset = 'ds1'" in sql
    assert "\"$path\" IN ('s3://media/index/p1/ds1/base-a.parquet', 's3://media/index/p1/ds1/delta-1-b.parquet')" in sql
    assert "contains(\"attr_str:weather\", 'rain')" in sql

    _queue([["3", "2", "5", None, None]])  # files, then per label: files with it, instances
    chart = index.label_counts(None)
    assert chart.files == 3 and chart.labels == {"car": (2, 5), "Traffic Light": (0, 0)}

    glue = boto3.client("glue", endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name="us-east-1")
    columns = glue.get_table(DatabaseName=catalog.database, Name=catalog.table)["Table"]["StorageDescriptor"]["Columns"]
    added = {c["Name"]: c["Type"] for c in columns if c["Name"] not in INDEX_COLUMNS}
    assert added == {
        "label:car": "bigint",
        "label:traffic light": "bigint",  # Glue's names are lower case; Athena matches Parquet's case-insensitively
        "attr_str:weather": "array<string>",
        "attr_num:weather": "array<double>",
    }
    versions = len(glue.get_table_versions(DatabaseName=catalog.database, TableName=catalog.table)["TableVersions"])
    AthenaIndex(catalog, bucket="media", project_id="p1", dataset_id="ds1", keys=["k"], labels=["Car"])
    again = len(glue.get_table_versions(DatabaseName=catalog.database, TableName=catalog.table)["TableVersions"])
    assert again == versions  # nothing to add: no update


def test_an_empty_answer_counts_separately_and_ids_come_in_order(catalog: AthenaTarget) -> None:
    index = AthenaIndex(catalog, bucket="media", project_id="p", dataset_id="d", keys=["index/p/d/b"], labels=[])
    _queue([], [["0"]])
    page = index.page(parse_query("labels.car > 9"), limit=10, after="2026#f9")
    assert page.count == 0 and page.file_ids == []
    assert re.search(r"SELECT count\(\*\) FROM live WHERE", _sent()[-1])
    _queue([["f3"], ["f1"]])
    assert index.file_ids(None, listing_order=True) == ["f3", "f1"]


@pytest.fixture
def slow_athena() -> Iterator[None]:
    """moto's query executions stay QUEUED, then RUNNING, for two status reads each (as a real query takes time)."""
    state_manager.set_transition(model_name="athena::execution", transition={"progression": "manual", "times": 2})
    yield
    state_manager.unset_transition("athena::execution")


def test_the_adapter_polls_until_the_query_ends(catalog: AthenaTarget, slow_athena: None) -> None:
    _queue([["7"]])
    assert run_query(catalog, "SELECT 7") == [["7"]]
    assert list(athena_backends[ACCOUNT]["us-east-1"].executions.values())[-1].status == "SUCCEEDED"


def test_a_query_past_the_wait_is_stopped(catalog: AthenaTarget, slow_athena: None) -> None:
    with pytest.raises(AthenaQueryFailed, match="did not finish"):
        run_query(catalog, "SELECT 1", wait_s=0)
    assert list(athena_backends[ACCOUNT]["us-east-1"].executions.values())[-1].status == "CANCELLED"


# --- which engine answers ---------------------------------------------------------------------------------------


@pytest.fixture
def athena_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    from annolake_service.shared.settings import get_settings

    def configure(**env: str) -> None:
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        get_settings.cache_clear()

    configure(STAGE="prod", ATHENA_WORKGROUP="wg", ATHENA_MIN_INDEX_BYTES="1000")
    yield configure
    monkeypatch.undo()
    get_settings.cache_clear()


def test_the_engine_follows_the_index_size_and_the_request(athena_settings: Any) -> None:
    from annolake_service.services.query_index import choose_runner

    plain, evaluated = parse_query("labels.car > 1"), parse_query("eval.pr_a1.fp > 1")
    assert choose_runner("auto", 999, plain) == ("duckdb", None)
    assert choose_runner("auto", 1000, plain) == ("athena", None)
    assert choose_runner("athena", 10, plain) == ("athena", None)
    assert choose_runner("embedded", 10**12, plain) == ("duckdb", None)
    runner, note = choose_runner("athena", 10, evaluated)
    assert runner == "duckdb" and note is not None and "eval.*" in note
    assert choose_runner("auto", 10**12, evaluated) == ("duckdb", None)
    athena_settings(STAGE="local")
    runner, note = choose_runner("athena", 10**12, plain)
    assert runner == "duckdb" and note is not None and "locally" in note
    athena_settings(STAGE="prod", ATHENA_WORKGROUP="")
    assert choose_runner("auto", 10**12, plain) == ("duckdb", None)
