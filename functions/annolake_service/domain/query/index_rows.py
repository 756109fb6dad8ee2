"""``index_row``: one file as a row of its dataset's columnar index (the columns ``sql.to_sql`` reads).

Rows carry ``file_id``, ``position`` (the file's place in the dataset's listing, newest first: the sort key
the listing's cursors hold), ``seq`` (text that sorts after every earlier change of the file: the change's
stream sequence number, zero-padded; a row read straight from the table has the lowest, ``""``) and
``deleted`` (a tombstone: the file left the dataset). The newest row of a file wins wherever it appears.
Attribute values are split by kind as ``evaluate`` compares them: text (booleans as "true"/"false") and
numbers; values of other kinds can never match and are left out.
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

from annolake_service.domain.query.evaluator import FileView, _as_attribute_literal, _kind
from annolake_service.domain.query.sql import attribute_columns, frames_column, label_column

SEQ_WIDTH = 48
BASE_COLUMNS: dict[str, str] = {
    "file_id": "VARCHAR",
    "position": "VARCHAR",
    "seq": "VARCHAR",
    "deleted": "BOOLEAN",
    "name": "VARCHAR",
    "type": "VARCHAR",
    "status": "VARCHAR",
    "width": "BIGINT",
    "height": "BIGINT",
    "created": "TIMESTAMP",
    "metadata": "JSON",
    "dataset_names": "VARCHAR[]",
    "dataset_ids": "VARCHAR[]",
}
"""The columns every index file has, with their DuckDB types."""


def column_type(column: str) -> str:
    """The DuckDB type of any index column (label and attribute columns included)."""
    if column in BASE_COLUMNS:
        return BASE_COLUMNS[column]
    if column.startswith(("label:", "frames:")):
        return "BIGINT"
    if column.startswith("attr_num:"):
        return "DOUBLE[]"
    return "VARCHAR[]"


def seq_text(sequence_number: int | str) -> str:
    """A change's sequence number as text that sorts as the number does."""
    text = str(sequence_number)
    if not text.isdigit() or len(text) > SEQ_WIDTH:
        raise ValueError(f"a sequence number is at most {SEQ_WIDTH} digits, not {text!r}")
    return text.zfill(SEQ_WIDTH)


def index_row(
    file_id: str, view: FileView, *, position: str, seq: int | str | None, labels: tuple[str, ...] = ()
) -> dict[str, Any]:
    """The row of a live file (``seq`` None: read from the table, not from a change). ``labels`` are the
    schema's labels: each gets its column, 0 when absent."""
    row: dict[str, Any] = {
        "file_id": file_id,
        "position": position,
        "seq": "" if seq is None else seq_text(seq),
        "deleted": False,
        "name": view.name,
        "type": view.type,
        "status": view.status,
        "width": view.width,
        "height": view.height,
        "created": view.created.astimezone(UTC).replace(tzinfo=None).isoformat(),
        "metadata": dict(view.metadata),
        "dataset_names": sorted(view.dataset_names),
        "dataset_ids": sorted(view.dataset_ids),
    }
    for name in {*labels, *view.label_counts}:
        row[label_column(name)] = int(view.label_counts.get(name, 0))
    for name, frames in view.frame_counts.items():
        row[frames_column(name)] = int(frames)
    for group, values in view.attribute_values.items():
        text_column, number_column = attribute_columns(group)
        literals = [_as_attribute_literal(value) for value in values]
        row[text_column] = [v for v in literals if _kind(v) == "str"]
        row[number_column] = [float(v) for v in literals if _kind(v) == "number"]
    return row


def tombstone(file_id: str, *, seq: int | str) -> dict[str, Any]:
    """The row that removes a file from the index (deleted, or no longer in the dataset)."""
    return {"file_id": file_id, "seq": seq_text(seq), "deleted": True}
