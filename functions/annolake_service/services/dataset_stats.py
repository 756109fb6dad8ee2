"""Summaries of a dataset (or of the files of it that match a query) for people looking at it."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from annolake_service.adapters.dynamo import datasets as dataset_repo
from annolake_service.domain import query as q
from annolake_service.services import query_index, slices
from annolake_service.services import schema as schema_service
from annolake_service.services.projects import get_dataset


def label_counts(
    project_id: str, dataset_name: str, query: str | None = None, *, engine: query_index.EngineChoice = "auto"
) -> dict[str, Any]:
    """Per label: how many files have at least one live instance of it, and how many instances in all.

    Every label of the schema is listed (in schema order, zeros included), then any other label name
    the files still carry. Reads only the per-file summaries unless the query needs Python evaluation.
    """
    dataset = get_dataset(project_id, dataset_name)
    node = slices.checked_query(project_id, query) if query else None
    files = 0
    with_label: Counter[str] = Counter()
    instances: Counter[str] = Counter()
    indexed = query_index.open_index(project_id, dataset.dataset_id, node, engine=engine)
    if indexed is not None:
        with indexed.index as index:
            chart = index.label_counts(node)
        files = chart.files
        for name, (having, total) in chart.labels.items():
            if total > 0:
                with_label[name], instances[name] = having, total
        answered = indexed.describe()
    else:
        plan = q.plan(node) if node is not None else None
        per_file: Iterable[dict[str, int]]
        if plan is None or plan.residual is None:
            dynamo_filter = plan.filter.as_kwargs() if plan is not None and plan.filter else None
            per_file = dataset_repo.iter_dataset_label_counts(
                project_id, dataset.dataset_id, dynamo_filter=dynamo_filter
            )
        else:
            per_file = (record.label_counts for record in slices.iter_matching(project_id, dataset_name, plan))
        for counts in per_file:
            files += 1
            for name, count in counts.items():
                if count > 0:
                    with_label[name] += 1
                    instances[name] += count
        answered = query_index.TABLE_ENGINE
    schema, _ = schema_service.get_schema(project_id)
    colours = {label.name: label.colour for label in schema.labels}
    names = [label.name for label in schema.labels] + sorted(set(instances) - set(colours))
    return {
        "dataset": dataset.name,
        "query": query,
        "files": files,
        "labels": [
            {"name": name, "colour": colours.get(name), "files": with_label[name], "instances": instances[name]}
            for name in names
        ],
        "engine": answered,
    }
