"""The workflow's progress from the table's change stream: announce each task submitted, review decided and
file completed, count the completed files into their jobs and complete a job whose last file that was
(``domain/workflow_progress.py`` says why the stream, not the request, does this)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from annolake_service.adapters import events
from annolake_service.adapters.dynamo import streams
from annolake_service.domain.workflow_progress import progress_of
from annolake_service.services import jobs


def apply(records: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Publish then count (a failure raises, so the stream delivers the batch again: at least once)."""
    progress = progress_of(streams.workflow_changes(records))
    events.publish_all(progress.events, required=True)
    completed_jobs = [
        job_id
        for (project_id, job_id), count in sorted(progress.completed.items())
        if jobs.files_completed(project_id, job_id, count)
    ]
    return {"events": len(progress.events), "jobs_completed": completed_jobs}
