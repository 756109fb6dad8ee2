"""What the workflow's committed changes announce, read from the table's change stream (each item's image
before and after a write): a task submitted, a review decided, a file of a job completed.

Taking them from the stream, not from the request that made the write, means an event goes out exactly when
its write committed (never for a request that failed after publishing, never lost when one fails after its
write), and the request answers without the calls that announce and count it. The stream delivers at least
once, so an event may go out twice and a completion be counted twice: ``files_done`` is a hint that says when
to make the exact check, which an over-count only makes early.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from annolake_service.domain.entities import JobFile
from annolake_service.domain.workflow import Task, TaskKind, TaskStatus

Event = tuple[str, str, dict[str, Any]]  # (event type, project id, detail), as ``adapters/events.publish_all`` takes


@dataclass(frozen=True)
class Progress:
    events: list[Event] = field(default_factory=list)
    completed: Counter[tuple[str, str]] = field(default_factory=Counter)  # (project, job) -> files completed


def _at(moment: datetime | None) -> dict[str, str]:
    return {"occurred_at": moment.isoformat()} if moment is not None else {}


def submitted_event(task: Task) -> Event:
    """``task_submitted`` for annotate work; ``review_approved`` / ``changes_requested`` for a review."""
    keys = {"job_id": task.job_id, "task_id": task.task_id, "file_id": task.file_id, **_at(task.submitted_at)}
    if task.kind is TaskKind.ANNOTATE:
        return "task_submitted", task.project_id, {**keys, "annotator": task.assignee, "kind": task.kind.value}
    result = task.result or {}
    kind = "review_approved" if result.get("decision") == "approve" else "changes_requested"
    return kind, task.project_id, {**keys, "reviewer": task.assignee, **result}


Change = tuple[Task | None, Task] | tuple[JobFile | None, JobFile]  # (before, after); before None: a new item


def progress_of(changes: Iterable[Change]) -> Progress:
    """The events (in the order of the changes) and completions in a batch of changes.

    A task counts when it becomes submitted, a file when it becomes complete; any other change (a lease
    renewed, a submitted task's item written again) announces nothing.
    """
    progress = Progress()
    for before, after in changes:
        if isinstance(after, Task):
            if after.status is TaskStatus.SUBMITTED and (
                not isinstance(before, Task) or before.status is not TaskStatus.SUBMITTED
            ):
                progress.events.append(submitted_event(after))
        elif after.status == "complete" and (not isinstance(before, JobFile) or before.status != "complete"):
            detail = {"job_id": after.job_id, "file_id": after.file_id, **_at(after.completed_at)}
            progress.events.append(("task_completed", after.project_id, detail))
            progress.completed[(after.project_id, after.job_id)] += 1
    return progress
