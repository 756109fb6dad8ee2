"""The steps of the review state machine (one Standard execution per file in a job).

    Prepare -> Annotate (Map over consensus slots, each waits on a task token)
      -> [completed by its submit?] end (one annotator, not sampled for review: ``services.tasks`` completed it)
      -> Consolidate -> [review needed?] Review (waits) -> approve: Complete
                     |                 \\-> request changes: Rework (waits, same annotator) -> Review ...
                     \\-> no review: Consolidate completes the file itself (one step and invocation fewer a file)

Every step's input and output is a small state of keys (``project_id, job_id, file_id, round, authors``).
``open_task`` runs with the execution's task token and stores it in the task's item; the execution then
waits until ``services.tasks`` submits or reviews that task.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from annolake_service.adapters import events
from annolake_service.adapters.dynamo import jobs as job_repo
from annolake_service.adapters.dynamo import tasks as task_repo
from annolake_service.domain.consolidation import consolidate as merge
from annolake_service.domain.video import segments as video_segments
from annolake_service.domain.workflow import (
    Job,
    Task,
    TaskKind,
    TaskStatus,
    least_loaded,
    needs_review,
    review_sampled,
    task_id,
)
from annolake_service.services import annotations as annotation_service
from annolake_service.services import files, jobs, tasks
from annolake_service.shared.errors import Conflict
from annolake_service.shared.observability import logger

CONSENSUS_AUTHOR = "workflow:consensus"


def _now() -> datetime:
    return datetime.now(UTC)


def _state(project_id: str, job_id: str, file_id: str, round_: int, authors: list[str]) -> dict[str, Any]:
    return {"project_id": project_id, "job_id": job_id, "file_id": file_id, "round": round_, "authors": authors}


def prepare(project_id: str, job_id: str, file_id: str) -> dict[str, Any]:
    """The annotate slots: one per consensus annotator, or for a segmented video one per segment."""
    job = jobs.get_job(project_id, job_id)
    segments = _segments(job, file_id)
    slots = list(range(job.spec.consensus if segments is None else len(segments)))
    return {**_state(project_id, job_id, file_id, 0, []), "slots": slots}


def _segments(job: Job, file_id: str) -> list[video_segments.Segment] | None:
    """The file's segments when the job splits videos and the file is one (None: one task for the file)."""
    if job.spec.video_segment is None:
        return None
    record = files.get_file(job.project_id, file_id)
    if record.media_type != "video" or record.video is None:
        return None
    return video_segments.plan(record.video.frame_count, job.spec.video_segment)


def open_task(
    project_id: str,
    job_id: str,
    file_id: str,
    *,
    kind: TaskKind,
    token: str,
    round_: int,
    slot: int = 0,
    authors: list[str] | None = None,
    send_back_to: str | None = None,
    comment: str | None = None,
) -> dict[str, Any]:
    """Create the task the execution now waits on (a retried step refreshes the token of the same task)."""
    job = jobs.get_job(project_id, job_id)
    now = _now()
    hold = timedelta(seconds=job.spec.task_timeout_seconds)
    authors = authors or []
    reserved_for: str | None = None
    excluded: list[str] = []
    if kind is TaskKind.REVIEW:
        excluded = authors
        load = {r: task_repo.open_load(project_id, job_id, r, TaskKind.REVIEW) for r in job.spec.reviewers}
        reserved_for = least_loaded(job.spec.reviewers, load, excluded=authors)
    elif send_back_to:
        reserved_for = send_back_to  # changes requested: back to the annotator who made them
    segments = _segments(job, file_id)
    segment = segments[slot] if segments is not None and slot < len(segments) else None
    task = Task(
        project_id=project_id,
        job_id=job_id,
        task_id=task_id(job_id, file_id, kind, round_, slot),
        file_id=file_id,
        kind=kind,
        slot=slot,
        round=round_,
        frame_start=segment.start if segment else None,
        frame_end=segment.end if segment else None,
        status=TaskStatus.RESERVED if reserved_for else TaskStatus.AVAILABLE,
        distinct_annotators=kind is TaskKind.ANNOTATE and round_ == 0 and job.spec.consensus > 1,
        reserved_for=reserved_for,
        excluded=excluded,
        authors=authors,
        comment=comment,
        created_at=now,
        task_token=token,
    )
    existing = task_repo.create_task(task, claimable_at=now + hold if reserved_for else now)
    progress = "reviewing" if kind is TaskKind.REVIEW else "annotating"
    job_repo.update_job_file(project_id, job_id, file_id, status=progress)
    if existing is not None and existing.status is TaskStatus.SUBMITTED:
        # A re-driven or retried step: the work was already done, so the result is handed over at once.
        tasks.hand_over_result(existing.model_copy(update={"task_token": token}))
    if existing is None:
        events.publish(
            "task_created",
            project_id,
            {
                "job_id": job_id,
                "task_id": task.task_id,
                "file_id": file_id,
                "kind": kind.value,
                "round": round_,
                "reserved_for": reserved_for,
            },
        )
    return {"task_id": task.task_id, "created": existing is None}


def consolidate(project_id: str, job_id: str, file_id: str, annotated: list[dict[str, Any]]) -> dict[str, Any]:
    """After the annotate slots: merge them (consensus > 1), then decide whether the file is reviewed (a
    segmented video's segments were each reviewed in their slot, as sampled)."""
    job = jobs.get_job(project_id, job_id)
    authors = sorted({str(a["annotator"]) for a in annotated if a.get("annotator")} | _authors_of(annotated))
    if any(a.get("frame_start") is not None for a in annotated):
        return _decided(project_id, job_id, file_id, authors, review=False, agreement=None)
    agreement = None
    if job.spec.consensus > 1:
        slots = sorted(
            (
                t
                for t in task_repo.job_tasks(project_id, job_id)
                if t.file_id == file_id
                and t.kind is TaskKind.ANNOTATE
                and t.round == 0
                and t.status is TaskStatus.SUBMITTED
            ),
            key=lambda t: t.slot,
        )
        merged = merge([t.submission or [] for t in slots])
        agreement = merged.agreement
        _save_consensus(project_id, file_id, merged.instance_list)
        job_repo.update_job_file(
            project_id,
            job_id,
            file_id,
            agreement=agreement,
            per_annotator={str(t.assignee): score for t, score in zip(slots, merged.per_annotator, strict=True)},
        )
    review = needs_review(
        sampled=review_sampled(job_id, file_id, job.spec.review_rate),
        consensus=job.spec.consensus,
        agreement=agreement,
        agreement_threshold=job.spec.agreement_threshold,
    )
    return _decided(project_id, job_id, file_id, authors, review=review, agreement=agreement)


def _decided(
    project_id: str, job_id: str, file_id: str, authors: list[str], *, review: bool, agreement: float | None
) -> dict[str, Any]:
    """Consolidate's output; a file that needs no review is completed here (``complete`` is idempotent, so a
    retried step completes it once)."""
    outcome = {**_state(project_id, job_id, file_id, 0, authors), "review": review, "agreement": agreement}
    if not review:
        outcome["completed"] = complete(project_id, job_id, file_id)["completed"]
    return outcome


def _authors_of(annotated: list[dict[str, Any]]) -> set[str]:
    return {str(who) for a in annotated for who in a.get("authors") or []}


def _save_consensus(project_id: str, file_id: str, instance_list: list[dict[str, Any]]) -> None:
    for _ in range(5):
        current = annotation_service.get_annotations(project_id, file_id)["version"]
        try:
            annotation_service.save_annotations(
                project_id,
                file_id,
                expected_version=current,
                instance_list=instance_list,
                author=CONSENSUS_AUTHOR,
                source="consensus",
            )
            return
        except Conflict:
            continue  # someone saved meanwhile: consolidate over the newest version
    raise RuntimeError(f"could not save the consensus of {file_id}: the file kept changing")


def complete(project_id: str, job_id: str, file_id: str) -> dict[str, Any]:
    """Mark the file complete in the job, once (``completed``: this call did); the table's change stream
    announces it and counts it into the job (``services/workflow_progress.py``)."""
    completed = job_repo.update_job_file(
        project_id, job_id, file_id, status="complete", completed_at=_now(), unless_status="complete"
    )
    return {"file_id": file_id, "completed": completed}


def fail(project_id: str, job_id: str, file_id: str, error: dict[str, Any]) -> dict[str, Any]:
    """A step kept failing: record why on the file's progress and take its open tasks out of the queues."""
    reason = f"{error.get('Error', 'Error')}: {error.get('Cause', '')}"[:2000]
    logger.error("review workflow failed", extra={"job_id": job_id, "file_id": file_id, "reason": reason})
    job_repo.update_job_file(project_id, job_id, file_id, status="failed", failure=reason)
    task_repo.cancel_open_tasks(project_id, job_id, file_id)
    return {"recorded": True}
