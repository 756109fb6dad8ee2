"""Labelling jobs and each file's progress through a job."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from pynamodb.expressions.update import Action

from annolake_service.adapters.dynamo import keys
from annolake_service.adapters.dynamo.conditions import TransactionUpdate, applied
from annolake_service.adapters.dynamo.items import JobFileItem, JobItem
from annolake_service.adapters.dynamo.table import bind
from annolake_service.domain.entities import JobFile, UnreadableRecord
from annolake_service.domain.workflow import Job, JobSpec, JobStatus
from annolake_service.shared.errors import StoredRecordInvalid

# --- jobs ---------------------------------------------------------------------------------


def job_of(item: JobItem) -> Job:
    """The job a stored item holds (read alone, or with other items by ``table.read_together``)."""
    try:
        return _validated_job(item)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise StoredRecordInvalid(
            f"job {item.job_id!r} is stored with settings that are no longer valid ({problems}); "
            "create a new job with valid settings",
            details={"job_id": item.job_id},
        ) from None


def _validated_job(item: JobItem) -> Job:
    return Job(
        project_id=item.project_id,
        job_id=item.job_id,
        spec=JobSpec.model_validate(item.spec),
        dataset_ids=list(item.dataset_ids or []),
        status=JobStatus(item.status),
        launch_status=item.launch_status,
        launch_failure=item.launch_failure,
        launch_execution=item.launch_execution,
        files_total=int(item.files_total or 0),
        created_by=item.created_by,
        created_at=item.created_at,
        launched_at=item.launched_at,
        completed_at=item.completed_at,
    )


def job_key(project_id: str, job_id: str) -> JobItem:
    return JobItem(PK=keys.project_pk(project_id), SK=keys.job_sk(job_id))


def create_job(job: Job) -> None:
    bind()
    JobItem(
        PK=keys.project_pk(job.project_id),
        SK=keys.job_sk(job.job_id),
        kind=JobItem.KIND,
        project_id=job.project_id,
        job_id=job.job_id,
        spec=job.spec.model_dump(mode="json"),
        dataset_ids=job.dataset_ids,
        status=job.status.value,
        launch_status=job.launch_status,
        created_by=job.created_by,
        created_at=job.created_at,
    ).save(condition=JobItem.PK.does_not_exist())


def get_job(project_id: str, job_id: str) -> Job | None:
    bind()
    try:
        return job_of(JobItem.get(keys.project_pk(project_id), keys.job_sk(job_id), consistent_read=True))
    except JobItem.DoesNotExist:
        return None


def list_jobs(project_id: str) -> tuple[list[Job], list[UnreadableRecord]]:
    """The project's jobs, and apart from them those whose stored record no longer validates."""
    bind()
    jobs: list[Job] = []
    unreadable: list[UnreadableRecord] = []
    for item in JobItem.query(keys.project_pk(project_id), JobItem.SK.startswith(keys.JOB_PREFIX)):
        try:
            jobs.append(job_of(item))
        except StoredRecordInvalid as exc:
            unreadable.append(UnreadableRecord(kind="job", id=item.job_id, reason=exc.message))
    return jobs, unreadable


def update_job(
    project_id: str,
    job_id: str,
    *,
    spec: JobSpec | None = None,
    status: JobStatus | None = None,
    expect_status: set[JobStatus] | None = None,
    launch_status: str | None = None,
    launch_failure: str | None = None,
    launch_execution: str | None = None,
    launched_at: datetime | None = None,
    completed_at: datetime | None = None,
    expect_launch: str | None = None,
) -> bool:
    """Change a job if it is (still) in one of ``expect_status`` (and its launch run is ``expect_launch``, still
    launching: a run that recorded its end in the meantime keeps it); False when it is not."""
    bind()
    actions: list[Action] = []
    if spec is not None:
        actions.append(JobItem.spec.set(spec.model_dump(mode="json")))
    if status is not None:
        actions.append(JobItem.status.set(status.value))
    if launch_status is not None:
        actions.append(JobItem.launch_status.set(launch_status))
        actions.append(JobItem.launch_failure.set(launch_failure))  # type: ignore[arg-type]  # None removes it
    if launch_execution is not None:
        actions.append(JobItem.launch_execution.set(launch_execution))
    if launched_at is not None:
        actions.append(JobItem.launched_at.set(launched_at))
    if status is not None:
        actions.append(JobItem.completed_at.set(completed_at))  # type: ignore[arg-type]  # pynamodb's stub omits None, which removes the attribute
    condition = JobItem.PK.exists()
    if expect_status:
        condition &= JobItem.status.is_in(*(s.value for s in expect_status))
    if expect_launch is not None:
        condition &= (JobItem.launch_execution == expect_launch) & (JobItem.launch_status == "launching")
    item = job_key(project_id, job_id)
    return applied(lambda: item.update(actions=actions, condition=condition))


def add_job_files(project_id: str, job_id: str, count: int) -> None:
    bind()
    job_key(project_id, job_id).update(actions=[JobItem.files_total.add(count)])


def count_job_files_done(project_id: str, job_id: str, count: int) -> tuple[int, int]:
    """Count ``count`` more files done; returns (done, total) as the counters now stand (a hint, not an exact
    count)."""
    bind()
    item = job_key(project_id, job_id)
    item.update(actions=[JobItem.files_done.add(count)])
    return int(item.files_done or 0), int(item.files_total or 0)


# --- a file's progress in a job -----------------------------------------------------------


def _job_file(item: JobFileItem) -> JobFile:
    return JobFile(
        project_id=item.project_id,
        job_id=item.job_id,
        file_id=item.file_id,
        status=item.status,
        execution_arn=item.execution_arn,
        agreement=float(item.agreement) if item.agreement is not None else None,
        per_annotator=item.per_annotator or {},
        failure=item.failure,
        created_at=item.created_at,
        completed_at=item.completed_at,
    )


def job_file_from_image(image: dict[str, Any]) -> JobFile:
    """A file's progress in a job from a change stream image (the item as DynamoDB JSON)."""
    return _job_file(JobFileItem.from_raw_data(image))


def put_job_file(project_id: str, job_id: str, file_id: str, now: datetime) -> bool:
    """Record that the file is in the job (once); False if it already was."""
    bind()
    item = JobFileItem(
        PK=keys.job_pk(project_id, job_id),
        SK=keys.job_file_sk(file_id),
        kind=JobFileItem.KIND,
        project_id=project_id,
        job_id=job_id,
        file_id=file_id,
        status="annotating",
        created_at=now,
    )
    return applied(lambda: item.save(condition=JobFileItem.PK.does_not_exist()))


def get_job_file(project_id: str, job_id: str, file_id: str) -> JobFile | None:
    bind()
    try:
        item = JobFileItem.get(keys.job_pk(project_id, job_id), keys.job_file_sk(file_id), consistent_read=True)
    except JobFileItem.DoesNotExist:
        return None
    return _job_file(item)


def update_job_file(
    project_id: str,
    job_id: str,
    file_id: str,
    *,
    status: str | None = None,
    execution_arn: str | None = None,
    agreement: float | None = None,
    per_annotator: dict[str, float] | None = None,
    failure: str | None = None,
    completed_at: datetime | None = None,
    unless_status: str | None = None,
) -> bool:
    """Update the file's progress; with ``unless_status``, only if it is not in that status (False then)."""
    bind()
    actions: list[Action] = []
    if status is not None:
        actions.append(JobFileItem.status.set(status))
    if execution_arn is not None:
        actions.append(JobFileItem.execution_arn.set(execution_arn))
    if agreement is not None:
        actions.append(JobFileItem.agreement.set(agreement))
    if per_annotator is not None:
        actions.append(JobFileItem.per_annotator.set(per_annotator))
    if failure is not None:
        actions.append(JobFileItem.failure.set(failure[:2000]))
    if completed_at is not None:
        actions.append(JobFileItem.completed_at.set(completed_at))
    condition = JobFileItem.PK.exists()
    if unless_status is not None:
        condition &= JobFileItem.status != unless_status
    item = JobFileItem(PK=keys.job_pk(project_id, job_id), SK=keys.job_file_sk(file_id))
    return applied(lambda: item.update(actions=actions, condition=condition))


def completion_update(project_id: str, job_id: str, file_id: str, *, now: datetime) -> TransactionUpdate:
    """The write that marks a file of the job complete, for use in a transaction (the caller's own condition
    makes it happen once)."""
    return TransactionUpdate(
        item=JobFileItem(PK=keys.job_pk(project_id, job_id), SK=keys.job_file_sk(file_id)),
        actions=[JobFileItem.status.set("complete"), JobFileItem.completed_at.set(now)],
        condition=JobFileItem.PK.exists(),
    )


def job_files(project_id: str, job_id: str) -> Iterator[JobFile]:
    bind()
    for item in JobFileItem.query(keys.job_pk(project_id, job_id), JobFileItem.SK.startswith(keys.JOB_FILE_PREFIX)):
        yield _job_file(item)


def count_unfinished_job_files(project_id: str, job_id: str) -> int:
    bind()
    return JobFileItem.count(
        keys.job_pk(project_id, job_id),
        JobFileItem.SK.startswith(keys.JOB_FILE_PREFIX),
        filter_condition=JobFileItem.status != "complete",
        consistent_read=True,
    )
