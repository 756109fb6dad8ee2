"""The single table's key table and cursor codec (``adapters/dynamo``), without a table.

The key table in ``keys.py``'s docstring is the one place keys are documented: every item class has a row, every
builder writes keys of the shape its row says, and no two rows can produce the same key.
"""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime, timedelta

import pytest
from annolake_service.adapters.dynamo import cursors, keys
from annolake_service.adapters.dynamo.items import MODELS
from hypothesis import given
from hypothesis import strategies as st

WHEN = datetime(2025, 3, 4, 5, 6, 7, 89, tzinfo=UTC)

# One key of each kind, made by the builders (placeholder values without '#', as ids are).
BUILT: dict[str, tuple[str, str]] = {
    "project": (keys.project_pk("p1"), keys.PROJECT_SK),
    "member": (keys.project_pk("p1"), keys.member_sk("user:ann")),
    "api_key": (keys.api_key_pk("ak_1"), keys.API_KEY_SK),
    "dataset": (keys.project_pk("p1"), keys.dataset_sk("train")),
    "schema": (keys.project_pk("p1"), keys.SCHEMA_SK),
    "upload": (keys.project_pk("p1"), keys.upload_sk("up_1")),
    "file": (keys.file_pk("p1", "f1"), keys.FILE_SK),
    "annotation_version": (keys.file_pk("p1", "f1"), keys.version_sk(3)),
    "dataset_member": (keys.shard_pk("p1", "ds_1", keys.shard_of("f1")), keys.dataset_member_sk(WHEN, "f1")),
    "dataset_count": (keys.dataset_count_pk("p1", "ds_1"), keys.dataset_count_sk(3)),
    "import": (keys.project_pk("p1"), keys.import_sk("im_1")),
    "import_outcome": (keys.import_outcomes_pk("p1", "im_1"), keys.import_outcome_sk(7)),
    "arrival": keys.arrival_key("p1", "train", "street/a"),
    "job": (keys.project_pk("p1"), keys.job_sk("job_1")),
    "task": (keys.job_pk("p1", "job_1"), keys.task_sk("job_1.abc")),
    "job_file": (keys.job_pk("p1", "job_1"), keys.job_file_sk("f1")),
    "annotator_mark": (keys.job_pk("p1", "job_1"), keys.annotator_mark_sk("f1", "user:ann")),
    "webhook": (keys.project_pk("p1"), keys.webhook_sk("wh_1")),
    "webhook_failure": (keys.webhook_failures_pk("p1", "wh_1"), keys.failure_sk(keys.failure_id(WHEN, "ev:wh_1"))),
    "query_index": (keys.project_pk("p1"), keys.query_index_sk("ds_1")),
    "snapshot": (keys.project_pk("p1"), keys.snapshot_sk("v1")),
    "export": (keys.project_pk("p1"), keys.export_sk("ex_1")),
    "model": (keys.project_pk("p1"), keys.model_sk("det")),
    "model_version": (keys.model_versions_pk("p1", "det"), keys.model_version_sk(2)),
    "prediction_run": (keys.project_pk("p1"), keys.run_sk("pr_1")),
    "prediction": (keys.run_pk("p1", "pr_1"), keys.prediction_sk("f1")),
}
BUILT_GSI1: dict[str, tuple[str, str]] = {
    "project": (keys.PROJECTS_INDEX_PK, "p1"),
    "member": (keys.principal_index_pk("user:ann"), keys.project_pk("p1")),
    "api_key": (keys.project_keys_index_pk("p1"), WHEN.isoformat()),
    "dataset_member": (keys.file_pk("p1", "f1"), keys.dataset_index_sk("ds_1")),
    "task": (keys.assignee_index_pk("p1", "user:ann"), keys.open_index_sk("job_1", "annotate", "job_1.abc")),
    "snapshot": (keys.snapshots_index_pk("p1"), keys.snapshot_index_sk("ab12", "v1")),
}


def _table() -> dict[str, list[str]]:
    """The first table of ``keys``' docstring: kind -> [PK, SK, GSI1PK / GSI1SK]."""
    doc = keys.__doc__ or ""
    rows = [line for line in doc.split("\n\n", 2)[1].splitlines() if line.startswith("|")]
    cells = [[cell.strip() for cell in row.strip("|").split("|")] for row in rows[2:]]  # past header, rule
    return {kind: rest for kind, *rest in cells}


def _pattern(documented: str) -> re.Pattern[str]:
    """``P#<p>#F#<file>`` -> a regex where each placeholder stands for one '#'-free value."""
    parts = re.split(r"<[^>]+>", documented)
    return re.compile("[^#]+".join(re.escape(part) for part in parts) + r"\Z")


def _literal_prefix(documented: str) -> str:
    return documented.split("<", 1)[0]


def test_every_item_class_has_one_row_and_a_distinct_kind():
    kinds = [model.KIND for model in MODELS]
    assert len(set(kinds)) == len(kinds)
    assert set(_table()) == set(kinds) == set(BUILT)


@pytest.mark.parametrize("kind", sorted(BUILT))
def test_the_builders_write_the_documented_keys_and_no_other_kinds(kind):
    table = _table()
    pk, sk = BUILT[kind]
    matching = [
        k for k, (doc_pk, doc_sk, _) in table.items() if _pattern(doc_pk).match(pk) and _pattern(doc_sk).match(sk)
    ]
    assert matching == [kind], f"{kind} keys {pk!r}/{sk!r} match the rows {matching}"


@pytest.mark.parametrize("kind", sorted(BUILT_GSI1))
def test_the_gsi1_keys_are_the_documented_ones(kind):
    doc_pk, doc_sk = _table()[kind][2].split(" / ")
    pk, sk = BUILT_GSI1[kind]
    assert _pattern(doc_pk).match(pk) and _pattern(doc_sk).match(sk)


def test_kinds_sharing_a_partition_have_sort_key_prefixes_no_query_confuses():
    """A ``begins_with`` query for one kind never reads another kind's items of the same partition."""
    by_partition: dict[str, list[str]] = {}
    for doc_pk, doc_sk, _ in _table().values():
        by_partition.setdefault(doc_pk, []).append(_literal_prefix(doc_sk))
    for partition, prefixes in by_partition.items():
        if len(prefixes) == 1:
            continue
        assert all(prefixes), f"{partition}: a kind without a literal sort key prefix shares the partition"
        for a in prefixes:
            assert [b for b in prefixes if b.startswith(a)] == [a], f"{partition}: {a!r} is a prefix of another"


def test_gsi1_partitions_of_different_kinds_cannot_meet():
    shapes = [_pattern(gsi.split(" / ")[0]) for *_, gsi in _table().values() if gsi]
    for pk, _ in BUILT_GSI1.values():
        assert sum(bool(shape.match(pk)) for shape in shapes) == 1, pk


def test_queue_keys_sort_by_time_and_the_upper_bound_is_above_every_task_due_now():
    earlier, later = keys.queue_sk(WHEN, "job_1.zzz"), keys.queue_sk(WHEN.replace(second=8), "job_1.aaa")
    assert earlier < later < keys.queue_upto(WHEN.replace(second=8))
    assert keys.queue_upto(WHEN) < later


# --- cursors ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "position",
    ["2025-03-04T05:06:07+00:00#f1", {"PK": {"S": "P#p1#J#job_1"}, "SK": {"S": "T#job_1.abc"}}, 1500, "ünï#code"],
)
def test_a_cursor_decodes_to_the_position_it_was_made_of(position):
    cursor = cursors.encode("dataset-files:p1/ds_1", position)
    assert cursors.decode("dataset-files:p1/ds_1", cursor) == position
    assert cursor.isascii() and "=" not in cursor and "+" not in cursor and "/" not in cursor


def test_a_cursor_of_another_listing_is_refused():
    cursor = cursors.encode("dataset-files:p1/ds_1", "sk")
    for other in ("dataset-files:p1/ds_2", "dataset-files:p2/ds_1", "job-tasks:p1/ds_1"):
        with pytest.raises(cursors.InvalidCursor, match="start again without a cursor"):
            cursors.decode(other, cursor)


def _reencoded(cursor: str, edit) -> str:
    body, checksum = cursor.split(".")
    raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    return base64.urlsafe_b64encode(edit(raw)).decode().rstrip("=") + "." + checksum


@pytest.mark.parametrize(
    "tamper",
    [
        lambda c: _reencoded(c, lambda raw: raw.replace(b"2025", b"2026")),  # another position, same checksum
        lambda c: _reencoded(c, lambda raw: raw.replace(b'"v":1', b'"v":2')),  # another version
        lambda c: c.split(".")[0],  # checksum cut off
        lambda c: c[:-2] + ("AA" if not c.endswith("AA") else "BB"),  # checksum altered
        lambda c: "%%%",
        lambda c: "",
        lambda c: "é." + c,
        lambda c: base64.urlsafe_b64encode(b'{"after": "2025"}').decode(),  # a cursor of the former format
    ],
)
def test_a_tampered_or_foreign_cursor_is_refused_with_the_one_error(tamper):
    cursor = cursors.encode("dataset-files:p1/ds_1", "2025-03-04T05:06:07+00:00#f1")
    with pytest.raises(cursors.InvalidCursor) as refused:
        cursors.decode("dataset-files:p1/ds_1", tamper(cursor))
    assert isinstance(refused.value, ValueError)


def test_stream_keys_name_their_file_or_dataset_and_nothing_else():
    assert keys.parse_file_pk(keys.file_pk("p1", "f1")) == ("p1", "f1")
    assert keys.parse_shard_pk(keys.shard_pk("p1", "ds_1", 5)) == ("p1", "ds_1")
    others = (keys.project_pk("p1"), keys.job_pk("p1", "job_1"), keys.webhook_failures_pk("p1", "wh_1"))
    for other in (*others, keys.dataset_count_pk("p1", "ds_1")):
        assert keys.parse_file_pk(other) is None and keys.parse_shard_pk(other) is None
    assert keys.parse_file_pk(keys.shard_pk("p1", "ds_1", 5)) is None
    assert keys.parse_shard_pk(keys.file_pk("p1", "f1")) is None


_times = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC))


@given(listed=_times, newest=_times, margin=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=2)))
def test_a_listing_cutoff_splits_the_listing_by_time(listed, newest, margin):
    """A freeze reads the files listed after the cutoff from the table: exactly those listed after
    ``newest - margin``, whatever their ids (positions whose times lack microseconds included)."""
    cutoff = keys.listing_position_before(keys.dataset_member_sk(newest, "f" * 32), margin)
    for file_id in ("0" * 32, "f" * 32):
        assert (keys.dataset_member_sk(listed, file_id) > cutoff) == (listed >= newest - margin)
