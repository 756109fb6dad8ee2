"""The single table's change stream, read as the workflow's items before and after each change (the stream
carries both images; ``infra/constructs/tables.py``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from annolake_service.adapters.dynamo.items import JobFileItem, TaskItem
from annolake_service.adapters.dynamo.jobs import job_file_from_image
from annolake_service.adapters.dynamo.tasks import task_from_image
from annolake_service.domain.workflow_progress import Change


def workflow_changes(records: Iterable[Mapping[str, Any]]) -> list[Change]:
    """The task and job-file changes among stream ``records``, in their order (a deleted item is no change of
    progress)."""
    changes: list[Change] = []
    for record in records:
        images = record.get("dynamodb") or {}
        new, old = images.get("NewImage"), images.get("OldImage")
        if not new:
            continue
        kind = (new.get("kind") or {}).get("S")
        if kind == TaskItem.KIND:
            changes.append((task_from_image(old) if old else None, task_from_image(new)))
        elif kind == JobFileItem.KIND:
            changes.append((job_file_from_image(old) if old else None, job_file_from_image(new)))
    return changes
