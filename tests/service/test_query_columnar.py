"""The columnar index (Parquet read by DuckDB) selects exactly what the reference evaluator selects.

Random files (tests/support/query_data.py) are written as index rows into a base file and a delta file that
re-writes some files, removes others and adds a label column the base does not have, and their evaluation
results (``eval.<run>.*``) are attached beside the index as the service attaches them; hypothesis draws
queries from the AST, renders them to text and parses them back, and DuckDB's answer over base + delta is
compared with brute force over the files as they now are.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest
from annolake_service.adapters.columnar_index import ColumnarIndex, write_index_file
from annolake_service.domain.query import FileView, Node, evaluate, format_query, parse_query
from annolake_service.domain.query.index_rows import index_row, tombstone
from hypothesis import HealthCheck, given, settings

from tests.support.query_data import LABELS, queries, random_files

EXAMPLES = int(os.environ.get("ANNOLAKE_QUERY_EXAMPLES", "500"))


class Files:
    """The files as they are after the delta, and an index over base + delta."""

    def __init__(self, directory: Path) -> None:
        original = random_files()
        base_labels = tuple(label for label in LABELS if label != "bus")  # "bus" arrives with the delta
        base_rows = [
            index_row(
                file_id,
                dataclasses.replace(view, label_counts=_without(view, "bus")),
                position=_position(file_id, view),
                seq=None,
                labels=base_labels,
            )
            for file_id, view in original.items()
        ]
        write_index_file(base_rows, directory / "base.parquet")
        self.views: dict[str, FileView] = {
            file_id: dataclasses.replace(view, label_counts=_without(view, "bus")) for file_id, view in original.items()
        }
        ids = sorted(original)
        delta_rows = []
        for file_id in ids[::5]:  # re-written with the new label and a new status
            view = dataclasses.replace(original[file_id], status="ready")
            self.views[file_id] = view
            delta_rows.append(index_row(file_id, view, position=_position(file_id, view), seq=2, labels=tuple(LABELS)))
        for file_id in ids[1::7]:  # left the dataset
            del self.views[file_id]
            delta_rows.append(tombstone(file_id, seq=3))
        stale = ids[2]  # an older change in the delta loses to a newer one in another delta
        delta_rows.append(index_row(stale, original[stale], position=_position(stale, original[stale]), seq=5))
        gone = dataclasses.replace(original[stale], name="stale")
        delta_rows.append(index_row(stale, gone, position=_position(stale, gone), seq=4))
        added = dataclasses.replace(original[ids[3]], name="added.jpg", created=datetime(2026, 3, 1, tzinfo=UTC))
        self.views["f999"] = added
        delta_rows.append(index_row("f999", added, position=_position("f999", added), seq=1, labels=tuple(LABELS)))
        write_index_file(delta_rows, directory / "delta-0001.parquet")
        self.index = ColumnarIndex([directory / "base.parquet", directory / "delta-0001.parquet"])
        evaluations: dict[str, dict[str, dict[str, float]]] = {}
        for file_id, view in self.views.items():
            for ref, values in view.evaluations.items():
                evaluations.setdefault(ref, {})[file_id] = values
        evaluations.setdefault("pr_a1", {})["f404"] = {"tp": 1, "fp": 1, "fn": 1, "disagreement": 0.5}  # not indexed
        self.index.attach_evaluations(evaluations)

    def brute_force(self, node: Node | None) -> set[str]:
        return {file_id for file_id, view in self.views.items() if node is None or evaluate(node, view)}


def _position(file_id: str, view: FileView) -> str:
    """As the dataset listing's sort key: creation time, then file id."""
    return f"{view.created.isoformat()}#{file_id}"


def _without(view: FileView, label: str) -> dict[str, int]:
    return {name: n for name, n in view.label_counts.items() if name != label}


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Files]:
    built = Files(tmp_path_factory.mktemp("index"))
    yield built
    built.index.close()


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(node=queries)
def test_duckdb_selects_what_the_evaluator_selects(files: Files, node: Node) -> None:
    text = format_query(node)
    parsed = parse_query(text)
    assert parsed == node, text
    assert set(files.index.file_ids(parsed)) == files.brute_force(parsed), text


@pytest.mark.parametrize(
    "text",
    [
        "labels.bus = 0",
        "labels.bus >= 1",
        "labels.absent = 0 and labels.car < 2",
        'attributes.score in [2.5, -1] and attributes.mixed = 3 and attributes.mixed != "3"',
        "attributes.flag = true or attributes.when = 2026-01-31",
        "attributes.score > 2 or attributes.nothing = 1",
        "file.created = 2026-01-31 or file.created > 2026-01-31T23:59:59Z",
        'file.width != 640 and file.name >= "b" and file.status in ["ready", "processing"]',
        'file.metadata.tags = 7 or file.metadata.tags = "rain" or file.metadata.reviewed = true',
        'not (labels.car > 1 or file.metadata.camera.model = "X100") and file.metadata.camera.iso > 100',
        'dataset.name = "test set" and dataset.id != "ds-1"',
        "eval.pr_a1.fp >= 1 or eval.det.disagreement > 0.5",
        "eval.pr_a1.tp != 0 and not eval.det.fn in [0, 1] and eval.pr_none.fp != 1",
        "frames.car >= 30 and labels.car >= 1",
        "frames.absent = 0 or frames.bus < 100",
    ],
)
def test_examples_agree(files: Files, text: str) -> None:
    node = parse_query(text)
    assert set(files.index.file_ids(node)) == files.brute_force(node)


def test_the_delta_wins_and_tombstones_remove(files: Files) -> None:
    every = set(files.index.file_ids())
    assert every == set(files.views)
    assert "f999" in every and "f001" not in every
    assert files.index.count(parse_query('file.name = "stale"')) == 0


def test_pages_are_newest_first_and_carry_on(files: Files) -> None:
    node = parse_query("labels.car >= 0")
    expected = sorted(files.views.items(), key=lambda kv: _position(kv[0], kv[1]), reverse=True)
    seen: list[str] = []
    after = None
    while True:
        page = files.index.page(node, limit=7, after=after)
        assert page.count == len(expected)
        if not page.file_ids:
            break
        seen += page.file_ids
        after = page.positions[-1]
    assert seen == [file_id for file_id, _ in expected]


def test_label_chart_sums_the_matching_files(files: Files) -> None:
    node = parse_query('file.status = "ready"')
    matching = [v for v in files.views.values() if evaluate(node, v)]
    expected = {
        label: (
            sum(1 for v in matching if v.label_counts.get(label, 0) > 0),
            sum(v.label_counts.get(label, 0) for v in matching),
        )
        for label in LABELS
    }
    chart = files.index.label_counts(node)
    assert chart.files == len(matching) and chart.labels == expected


def test_compaction_keeps_the_live_rows(files: Files, tmp_path: Path) -> None:
    rows = files.index.compact(tmp_path / "base-2.parquet")
    assert rows == len(files.views)
    with ColumnarIndex([tmp_path / "base-2.parquet"]) as compacted:
        for text in ("labels.bus >= 1", 'file.metadata.tags = "rain"', "attributes.score > 2"):
            node = parse_query(text)
            assert compacted.file_ids(node) == files.index.file_ids(node)


def test_compaction_writes_the_listing_order(files: Files, tmp_path: Path) -> None:
    files.index.compact(tmp_path / "base-3.parquet")
    with ColumnarIndex([tmp_path / "base-3.parquet"]) as compacted:
        stored = [row[0] for row in compacted._db.execute(f"SELECT position FROM {compacted._rows}").fetchall()]
    assert stored == sorted(stored, reverse=True)  # a first page reads the first row groups only


def test_readers_in_threads_answer_as_the_index_does(files: Files) -> None:
    """An API worker keeps an index open and gives each request a reader on its own cursor."""
    node = parse_query("labels.car >= 1 or eval.pr_a1.fp >= 1")
    expected = (files.index.file_ids(node), files.index.page(node, limit=5), files.index.label_counts(node))

    def answer(_: int) -> tuple[list[str], object, object]:
        with files.index.reader() as reader:
            reader.attach_evaluations({"pr_a1": {fid: v["pr_a1"] for fid, v in _evaluated(files).items()}})
            return reader.file_ids(node), reader.page(node, limit=5), reader.label_counts(node)

    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(answer, range(8)))
    assert all(got == expected for got in answers)
    with files.index.reader() as bare:  # evaluations belong to the reader they were attached to
        assert set(bare.file_ids(parse_query("eval.pr_a1.fp >= 0"))) == set()
    assert files.index.file_ids(node) == expected[0]  # closing readers leaves the index open


def _evaluated(files: Files) -> dict[str, dict[str, dict[str, float]]]:
    return {fid: view.evaluations for fid, view in files.views.items() if "pr_a1" in view.evaluations}


def test_delta_writes_share_one_database_each_on_a_connection_of_its_own(
    files: Files, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The updater writes a delta file at every batch of the change stream, and opening a DuckDB database cost
    some 20 ms of CPU each time: writes take connections of their own to the process's one database for them,
    side by side in threads, and what they wrote reads back whole."""
    import duckdb

    opened: list[int] = []
    open_database = duckdb.connect
    monkeypatch.setattr(duckdb, "connect", lambda *a, **k: opened.append(1) or open_database(*a, **k))
    chosen = sorted(files.views)[:8]

    def write(n: int) -> Path:
        file_id = chosen[n]
        view = files.views[file_id]
        path = tmp_path / f"delta-{n}.parquet"
        write_index_file([index_row(file_id, view, position=_position(file_id, view), seq=n + 1)], path)
        return path

    with ThreadPoolExecutor(4) as pool:
        written = list(pool.map(write, range(len(chosen))))
    assert opened == []  # the database the module's first write opened serves them all
    with ColumnarIndex(written) as index:
        assert sorted(index.file_ids(None)) == chosen
    assert opened == [1]  # an index opens a database of its own


def test_a_delta_write_opens_a_new_database_when_the_shared_one_is_gone(files: Files, tmp_path: Path) -> None:
    """The shared database closed (or invalidated by DuckDB after a fatal error, which refuses every later
    statement) does not fail every later write of the process: the write opens a new one and goes on."""
    from annolake_service.adapters import columnar_index

    file_id = sorted(files.views)[0]
    row = index_row(file_id, files.views[file_id], position=_position(file_id, files.views[file_id]), seq=1)
    write_index_file([row], tmp_path / "before.parquet")
    broken = columnar_index._writing
    assert broken is not None
    broken.close()
    assert write_index_file([row], tmp_path / "after.parquet") == 1
    assert columnar_index._writing is not None and columnar_index._writing is not broken
    with ColumnarIndex([tmp_path / "after.parquet"]) as index:
        assert index.file_ids(None) == [file_id]
