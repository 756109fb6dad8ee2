"""Slices: a dataset filtered by a query, read page by page (predicates pushed down to DynamoDB)."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import islice
from typing import Any

from annolake_service.adapters import store
from annolake_service.domain import query as q
from annolake_service.domain.entities import FileRecord
from annolake_service.services import schema as schema_service
from annolake_service.services.files import MAX_PAGE, describe
from annolake_service.services.projects import get_dataset
from annolake_service.shared.errors import BadRequest

_BATCH = 100


def compile_query(project_id: str, text: str) -> q.Plan:
    """Parse and check against the schema; errors are 400s with the position and a suggestion."""
    node = q.parse_query(text)
    schema, _ = schema_service.get_schema(project_id)
    q.check_query(node, label_names=schema.label_names, attribute_groups={g.name for g in schema.attribute_groups})
    return q.plan(node)


def _matches(project_id: str, dataset_id: str, plan: q.Plan, after: str | None) -> Iterator[tuple[str, FileRecord]]:
    """(sort key, record) of the matching files in listing order, the residual evaluated in batches."""
    dynamo_filter = plan.filter.as_kwargs() if plan.filter else None
    members = store.iter_dataset_members(project_id, dataset_id, after=after, dynamo_filter=dynamo_filter)
    datasets = {d.dataset_id: d.name for d in store.list_datasets(project_id)} if plan.residual else {}
    while batch := list(islice(members, _BATCH)):
        records = store.get_files(project_id, [file_id for _, file_id in batch])
        for sort_key, file_id in batch:
            record = records.get(file_id)
            if record is None or record.deleted_at is not None:
                continue
            if plan.residual is not None:
                ids = store.datasets_of_file(project_id, file_id) if _mentions_datasets(plan) else [dataset_id]
                view = q.FileView.from_record(record, [datasets.get(i, "") for i in ids], ids)
                if not plan.matches(view):
                    continue
            yield sort_key, record


def _mentions_datasets(plan: q.Plan) -> bool:
    return "dataset." in q.format_query(plan.residual) if plan.residual is not None else False


def query_files(project_id: str, dataset_name: str, text: str, *, limit: int, cursor: str | None) -> dict[str, Any]:
    if not 1 <= limit <= MAX_PAGE:
        raise BadRequest(f"limit must be between 1 and {MAX_PAGE}")
    plan = compile_query(project_id, text)
    dataset = get_dataset(project_id, dataset_name)
    try:
        after = store.decode_cursor(cursor) if cursor else None
    except store.InvalidCursor as exc:
        raise BadRequest(str(exc)) from None
    page = list(islice(_matches(project_id, dataset.dataset_id, plan, after), limit + 1))
    next_cursor = store.encode_cursor(page[limit - 1][0]) if len(page) > limit else None
    return {
        "dataset": dataset.name,
        "query": text,
        "files": [describe(record) for _, record in page[:limit]],
        "cursor": next_cursor,
    }


def count_files(project_id: str, dataset_name: str, text: str) -> int:
    plan = compile_query(project_id, text)
    dataset = get_dataset(project_id, dataset_name)
    return sum(1 for _ in _matches(project_id, dataset.dataset_id, plan, None))
