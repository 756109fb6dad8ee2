"""Job use cases: create, change, launch (a Step Functions job with a Map over chunks of files), watch
datasets for new files, complete, and report statistics."""

from __future__ import annotations

import json
import secrets
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from annolake_service.adapters import events, storage, workflows
from annolake_service.adapters.dynamo import datasets as dataset_repo
from annolake_service.adapters.dynamo import jobs as job_repo
from annolake_service.adapters.dynamo import projects as project_repo
from annolake_service.adapters.dynamo import tasks as task_repo
from annolake_service.domain.entities import UnreadableRecord
from annolake_service.domain.permissions import Action, can
from annolake_service.domain.prelabels import rates
from annolake_service.domain.schema import did_you_mean
from annolake_service.domain.workflow import (
    Job,
    JobSpec,
    JobStatus,
    TaskKind,
    TaskStatus,
    rejection_rate,
    status_change_allowed,
)
from annolake_service.services import prelabels
from annolake_service.services import schema as schema_service
from annolake_service.shared.errors import BadRequest, Conflict, NotFound
from annolake_service.shared.kept import Kept
from annolake_service.shared.observability import logger
from annolake_service.shared.settings import get_settings

LAUNCH_CHUNK = 200  # file ids per Map item of the launch job
_EDITABLE_WHEN_LIVE = frozenset({"name", "instructions", "task_timeout_seconds", "review_rate", "agreement_threshold"})


def _now() -> datetime:
    return datetime.now(UTC)


def get_job(project_id: str, job_id: str) -> Job:
    job = job_repo.get_job(project_id, job_id)
    if job is None:
        raise NotFound(f"job {job_id!r} not found in project {project_id!r}")
    return job


#: How long a process keeps a job it read to hand out its tasks (``job_for_claims``): under load a job is read
#: once per process this often, not by every ``next``. A job paused, archived or edited in another process
#: (another API process or Lambda container) is seen within this many seconds; the process that changed it
#: sees the change at once.
JOB_TTL_SECONDS = 2
_claiming: Kept[Job] = Kept(JOB_TTL_SECONDS)


def job_for_claims(project_id: str, job_id: str) -> Job:
    """The job as ``next`` needs it: its status (does it hand out tasks?) and who may take which task."""
    job = _claiming.get((project_id, job_id), lambda: job_repo.get_job(project_id, job_id))
    if job is None:
        raise NotFound(f"job {job_id!r} not found in project {project_id!r}")
    return job


def forget_jobs() -> None:
    """Read every job again on its next claim."""
    _claiming.forget()


def _update_job(project_id: str, job_id: str, **changes: Any) -> bool:
    """``job_repo.update_job``; this process then reads the job again for its next claim."""
    try:
        return job_repo.update_job(project_id, job_id, **changes)
    finally:
        _claiming.forget((project_id, job_id))


def list_jobs(project_id: str) -> list[Job]:
    """Newest first; a job whose stored record no longer validates is left out (``listing`` reports it)."""
    return listing(project_id)[0]


def listing(project_id: str) -> tuple[list[Job], list[UnreadableRecord]]:
    """The readable jobs, newest first, and the records that could not be read, each with its reason."""
    readable, unreadable = job_repo.list_jobs(project_id)
    for record in unreadable:
        logger.error("stored job does not validate", extra={"project_id": project_id, **record.model_dump()})
    return sorted(readable, key=lambda j: j.created_at, reverse=True), unreadable


def _check_people(project_id: str, principals: list[str], action: Action, what: str) -> None:
    problems = []
    for principal in principals:
        role = project_repo.get_member_role(project_id, principal)
        if role is None:
            problems.append(f"{principal} is not a member of {project_id!r}")
        elif not can(role, action):
            problems.append(f"{principal} is {role.value}, which may not {action.value}")
    if problems:
        raise BadRequest(f"{what}: " + "; ".join(problems), details={"problems": problems})


def _check_spec(project_id: str, spec: JobSpec) -> list[str]:
    """Validate names against the project; returns the datasets' ids."""
    dataset_ids = []
    for name in spec.datasets:
        dataset = dataset_repo.get_dataset(project_id, name)
        if dataset is None:
            names = [d.name for d in dataset_repo.list_datasets(project_id)]
            raise BadRequest(
                f"dataset {name!r} does not exist in {project_id!r}{did_you_mean(name, names)}",
                details={"datasets": names},
            )
        dataset_ids.append(dataset.dataset_id)
    schema, _ = schema_service.get_schema(project_id)
    known = [label.name for label in schema.labels]
    unknown = [n for n in spec.label_names if n not in known]
    if unknown:
        hints = "; ".join(f"{n!r}{did_you_mean(n, known)}" for n in unknown)
        raise BadRequest(f"labels not in the project's schema: {hints}", details={"unknown_labels": unknown})
    _check_people(project_id, spec.annotators, Action.TASK_ANNOTATE, "annotators")
    _check_people(project_id, spec.reviewers, Action.TASK_REVIEW, "reviewers")
    if spec.prelabel is not None:
        prelabels.check_run(project_id, spec.prelabel)
    return dataset_ids


def create_job(project_id: str, spec: JobSpec, *, author: str) -> Job:
    job = Job(
        project_id=project_id,
        job_id=f"job_{secrets.token_hex(5)}",
        spec=spec,
        dataset_ids=_check_spec(project_id, spec),
        status=JobStatus.DRAFT,
        created_by=author,
        created_at=_now(),
    )
    job_repo.create_job(job)
    return job


def update_job(project_id: str, job_id: str, *, changes: dict[str, Any], status: JobStatus | None) -> Job:
    """Settings change freely in a draft; once launched, only the name, instructions, timeout and review
    settings (new values apply to tasks created from then on). Status: pause, resume, archive."""
    job = get_job(project_id, job_id)
    if changes:
        if job.status is not JobStatus.DRAFT and set(changes) - _EDITABLE_WHEN_LIVE:
            fixed = sorted(set(changes) - _EDITABLE_WHEN_LIVE)
            raise Conflict(f"job {job_id} is {job.status.value}: {fixed} can only change while it is a draft")
        try:
            spec = JobSpec.model_validate({**job.spec.model_dump(), **changes})
        except ValueError as exc:
            raise BadRequest(f"invalid job settings: {exc}") from None
        dataset_ids = _check_spec(project_id, spec)
        if dataset_ids != job.dataset_ids and job.status is not JobStatus.DRAFT:
            raise Conflict("the datasets of a launched job cannot change; create another job")
        if not _update_job(project_id, job_id, spec=spec, expect_status={job.status}):
            raise Conflict(f"job {job_id} changed meanwhile; reload it")
    if status is not None and status is not job.status:
        if not status_change_allowed(job.status, status):
            hint = " (launch it to make it active)" if job.status is JobStatus.DRAFT else ""
            raise Conflict(f"a {job.status.value} job cannot become {status.value}{hint}")
        if not _update_job(project_id, job_id, status=status, expect_status={job.status}):
            raise Conflict(f"job {job_id} changed meanwhile; reload it")
    return get_job(project_id, job_id)


def launch(project_id: str, job_id: str) -> Job:
    """Make a draft job active and start its launch workflow, which gives every file a review workflow."""
    job = get_job(project_id, job_id)
    if job.status is not JobStatus.DRAFT:
        raise Conflict(f"job {job_id} is already {job.status.value}; only a draft can be launched")
    if not _update_job(
        project_id,
        job_id,
        status=JobStatus.ACTIVE,
        expect_status={JobStatus.DRAFT},
        launch_status="launching",
        launched_at=_now(),
    ):
        raise Conflict(f"job {job_id} was launched meanwhile")
    _start_launch(project_id, job_id, attempt="1")
    return get_job(project_id, job_id)


def _start_launch(project_id: str, job_id: str, *, attempt: str) -> None:
    arn = workflows.start_launch({"project_id": project_id, "job_id": job_id}, job_id=job_id, attempt=attempt)
    _update_job(project_id, job_id, launch_execution=arn)


# --- files entering a job -----------------------------------------------------------------


def start_file(job: Job, file_id: str) -> bool:
    """Give one file of the job its review workflow (once). True if it is new to the job."""
    now = _now()
    new = job_repo.put_job_file(job.project_id, job.job_id, file_id, now)
    if new:
        job_repo.add_job_files(job.project_id, job.job_id, 1)
    else:
        existing = job_repo.get_job_file(job.project_id, job.job_id, file_id)
        if existing and existing.execution_arn:
            return False  # already running (or done): a replayed event or a re-driven launch
    arn = workflows.start_review(
        {"project_id": job.project_id, "job_id": job.job_id, "file_id": file_id}, job_id=job.job_id, file_id=file_id
    )
    if arn:
        job_repo.update_job_file(job.project_id, job.job_id, file_id, execution_arn=arn)
    if new and job.status is JobStatus.COMPLETE:
        # A new file in a watched dataset reopens a completed job.
        _update_job(job.project_id, job.job_id, status=JobStatus.ACTIVE, expect_status={JobStatus.COMPLETE})
    return new


def file_arrived(project_id: str, dataset_id: str, file_id: str, project_jobs: list[Job] | None = None) -> int:
    """A ready file entered a dataset (``file_ingested``): jobs that sync that dataset get it. Returns how many.

    ``project_jobs``: the project's jobs when the caller already read them (one read per event batch)."""
    started = 0
    for job in list_jobs(project_id) if project_jobs is None else project_jobs:
        watching = job.spec.mode == "sync" and dataset_id in job.dataset_ids
        if watching and job.launch_status != "not_launched" and job.status is not JobStatus.ARCHIVED:
            started += start_file(job, file_id)
    return started


def plan_launch(project_id: str, job_id: str) -> dict[str, Any]:
    """Write the job's current files as chunks for the launch Map (payloads carry keys, not ids)."""
    job = get_job(project_id, job_id)
    file_ids: list[str] = []
    for dataset_id in job.dataset_ids:
        cursor = None
        while True:
            page, cursor = dataset_repo.list_dataset_file_ids(
                project_id, dataset_id, limit=1000, cursor=cursor, status="ready"
            )
            file_ids.extend(page)
            if not cursor:
                break
    file_ids = list(dict.fromkeys(file_ids))
    bucket = get_settings().media_bucket
    chunks = []
    for number, start in enumerate(range(0, len(file_ids), LAUNCH_CHUNK)):
        key = f"{storage.job_prefix(project_id, job_id)}launch/chunk-{number:05d}.json"
        storage.write_object(
            bucket, key, json.dumps(file_ids[start : start + LAUNCH_CHUNK]).encode(), "application/json"
        )
        chunks.append(key)
    return {"chunks": chunks, "total": len(file_ids)}


def launch_chunk(project_id: str, job_id: str, chunk_key: str) -> dict[str, int]:
    job = get_job(project_id, job_id)
    body = storage.read_object(get_settings().media_bucket, chunk_key, max_bytes=10_000_000).body
    started = sum(start_file(job, file_id) for file_id in json.loads(body))
    return {"started": started}


def finish_launch(project_id: str, job_id: str) -> dict[str, Any]:
    _update_job(project_id, job_id, launch_status="launched")
    check_completion(project_id, job_id)
    return {"status": get_job(project_id, job_id).status.value}


def fail_launch(project_id: str, job_id: str, error: dict[str, Any]) -> dict[str, Any]:
    """A launch step kept failing: some files may have no workflow yet. The job says why; a re-drive launches
    it again (files that have their workflow keep it)."""
    reason = f"{error.get('Error', 'Error')}: {error.get('Cause', '')}"[:2000]
    logger.error("job launch failed", extra={"project_id": project_id, "job_id": job_id, "reason": reason})
    _update_job(project_id, job_id, launch_status="failed", launch_failure=reason)
    return {"recorded": True}


def describe_job(project_id: str, job_id: str) -> Job:
    """The job as its readers see it: a launch whose run ended without recording its end (its failure step
    failed too, or it was stopped) is failed with the run's own error, so it shows why and can be re-driven."""
    job = get_job(project_id, job_id)
    if job.launch_status != "launching" or not job.launch_execution:
        return job
    ended = workflows.execution_end(job.launch_execution)
    if ended is not None and ended[0] == "RUNNING":
        return job
    status, error = ended or ("gone", "")
    reason = f"the launch's run ended ({status}) without recording its outcome: {error or 'no error given'}"
    _update_job(project_id, job_id, launch_status="failed", launch_failure=reason, expect_launch=job.launch_execution)
    return get_job(project_id, job_id)


def _ended_unrecorded(execution_arn: str | None) -> bool:
    """A run that is over though its record says otherwise (its failure step failed too, or it was stopped)."""
    return bool(execution_arn) and workflows.execution_status(str(execution_arn)) != "RUNNING"


def redrive(project_id: str, job_id: str) -> dict[str, Any]:
    """Launch the job again if its launch failed, and start a new review workflow for every file whose workflow
    failed (its reason is kept until then) or ended without recording how."""
    job = get_job(project_id, job_id)
    relaunched = describe_job(project_id, job_id).launch_status == "failed"
    if relaunched:
        _update_job(project_id, job_id, launch_status="launching")
        _start_launch(project_id, job_id, attempt=f"redrive-{_now().timestamp()}")
    restarted = []
    for job_file in job_repo.job_files(project_id, job_id):
        unrecorded = job_file.status not in ("failed", "complete") and _ended_unrecorded(job_file.execution_arn)
        if job_file.status != "failed" and not unrecorded:
            continue
        file_id = job_file.file_id
        arn = workflows.start_review(
            {"project_id": project_id, "job_id": job_id, "file_id": file_id},
            job_id=job_id,
            file_id=file_id,
            attempt=f"redrive-{_now().timestamp()}",
        )
        job_repo.update_job_file(project_id, job_id, file_id, status="annotating", execution_arn=arn)
        restarted.append(file_id)
    if restarted and job.status is JobStatus.COMPLETE:
        _update_job(project_id, job_id, status=JobStatus.ACTIVE, expect_status={JobStatus.COMPLETE})
    check_completion(project_id, job_id)  # also settles a job whose completion was missed
    return {"restarted": restarted, "relaunched": relaunched}


def resume_file(project_id: str, job_id: str, file_id: str) -> str | None:
    """Start a file's workflow again when the execution that waited on its tasks is gone (stopped by hand, or
    not kept across a restart of the local platform). The new execution re-opens the same tasks (their ids
    are deterministic) and hands over at once the results of those already done. Returns the new execution."""
    job_file = job_repo.get_job_file(project_id, job_id, file_id)
    if job_file is None or job_file.status in ("complete", "failed"):
        return None  # done, or waiting for an explicit re-drive
    if job_file.execution_arn and workflows.execution_status(job_file.execution_arn) == "RUNNING":
        return None
    arn = workflows.start_review(
        {"project_id": project_id, "job_id": job_id, "file_id": file_id},
        job_id=job_id,
        file_id=file_id,
        attempt=f"resume-{_now().timestamp()}",
    )
    if arn:
        job_repo.update_job_file(project_id, job_id, file_id, execution_arn=arn)
    logger.warning("resumed a file's workflow", extra={"job_id": job_id, "file_id": file_id, "execution": arn})
    return arn


def files_completed(project_id: str, job_id: str, count: int) -> bool:
    """Count ``count`` more files of the job complete; True when that completed the job (the counters are a
    hint: the exact check runs only once they say it may be the last file)."""
    done, total = job_repo.count_job_files_done(project_id, job_id, count)
    return done >= total and check_completion(project_id, job_id)


def check_completion(project_id: str, job_id: str) -> bool:
    """Complete an active, fully launched job whose files are all done (an exact count, not the counters)."""
    job = get_job(project_id, job_id)
    if job.status is not JobStatus.ACTIVE or job.launch_status != "launched":
        return False
    if job.spec.mode == "sync" and job.files_total == 0:
        return False  # a sync job over empty datasets waits for files
    if job_repo.count_unfinished_job_files(project_id, job_id):
        return False
    if _update_job(
        project_id, job_id, status=JobStatus.COMPLETE, expect_status={JobStatus.ACTIVE}, completed_at=_now()
    ):
        events.publish("job_completed", project_id, {"job_id": job_id, "name": job.spec.name, "files": job.files_total})
        return True
    return False


# --- statistics ---------------------------------------------------------------------------


def stats(project_id: str, job_id: str) -> dict[str, Any]:
    job = get_job(project_id, job_id)
    by_kind: dict[str, dict[str, int]] = {k.value: defaultdict(int) for k in TaskKind}
    annotators: dict[str, dict[str, float]] = defaultdict(lambda: {"submitted": 0, "seconds": 0.0})
    reviewers: dict[str, dict[str, int]] = defaultdict(lambda: {"approved": 0, "changes_requested": 0})
    drafts: dict[tuple[str, int, str], dict[str, int]] = {}
    for task in task_repo.job_tasks(project_id, job_id):
        by_kind[task.kind.value][task.status.value] += 1
        if task.status is not TaskStatus.SUBMITTED or task.assignee is None:
            continue
        if task.kind is TaskKind.ANNOTATE:
            _add_draft_outcome(drafts, (task.result or {}).get("prelabel"))
            person = annotators[task.assignee]
            person["submitted"] += 1
            if task.claimed_at and task.submitted_at:
                person["seconds"] += (task.submitted_at - task.claimed_at).total_seconds()
        else:
            decision = (task.result or {}).get("decision", "approve")
            reviewers[task.assignee]["approved" if decision == "approve" else "changes_requested"] += 1
    files: dict[str, int] = defaultdict(int)
    agreements = []
    failures = []
    for job_file in job_repo.job_files(project_id, job_id):
        files[job_file.status] += 1
        if job_file.status == "failed":
            failures.append({"file_id": job_file.file_id, "reason": job_file.failure or "no reason recorded"})
        if job_file.agreement is not None:
            agreements.append(job_file.agreement)
    approved = sum(r["approved"] for r in reviewers.values())
    rejected = sum(r["changes_requested"] for r in reviewers.values())
    return {
        "job_id": job_id,
        "status": job.status.value,
        "files": {"total": sum(files.values()), **files},
        "failures": failures[:100],
        "tasks": {kind: dict(counts) for kind, counts in by_kind.items()},
        "annotators": [
            {
                "principal": who,
                "submitted": int(p["submitted"]),
                "time_spent_seconds": round(p["seconds"], 1),
                "mean_seconds_per_task": round(p["seconds"] / p["submitted"], 1) if p["submitted"] else None,
            }
            for who, p in sorted(annotators.items())
        ],
        "reviewers": [{"principal": who, **r} for who, r in sorted(reviewers.items())],
        "review": {
            "reviewed": approved + rejected,
            "approved": approved,
            "changes_requested": rejected,
            "rejection_rate": rejection_rate(approved, rejected),
        },
        "consensus": {
            "files": len(agreements),
            "mean_agreement": round(sum(agreements) / len(agreements), 4) if agreements else None,
            "min_agreement": min(agreements) if agreements else None,
        },
        "prelabel": [
            {"model": model, "model_version": version, "run": run, **counts, **rates(counts)}
            for (model, version, run), counts in sorted(drafts.items())
        ],
    }


_DRAFT_COUNTS = ("tasks", "offered", "accepted", "edited", "deleted", "drawn")


def _add_draft_outcome(drafts: dict[tuple[str, int, str], dict[str, int]], outcome: dict[str, Any] | None) -> None:
    """Sum what annotators did with their drafts, per model (a task's ``result.prelabel``)."""
    if not outcome:
        return
    key = (outcome["model"], outcome["model_version"], outcome["run"])
    totals = drafts.setdefault(key, dict.fromkeys(_DRAFT_COUNTS, 0))
    totals["tasks"] += 1
    for name in _DRAFT_COUNTS[1:]:
        totals[name] += outcome.get(name, 0)
