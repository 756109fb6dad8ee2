"""Bulk import jobs and the outcome of each of their items."""

from __future__ import annotations

from datetime import UTC, datetime

from pynamodb.expressions.update import Action
from pynamodb.transactions import TransactWrite

from annolake_service.adapters.dynamo import keys
from annolake_service.adapters.dynamo.conditions import applied
from annolake_service.adapters.dynamo.items import ImportJobItem, ImportOutcomeItem
from annolake_service.adapters.dynamo.table import bind, transact
from annolake_service.domain.entities import ImportJob, ImportOutcome


def _import_job(item: ImportJobItem) -> ImportJob:
    return ImportJob(
        project_id=item.project_id,
        import_id=item.import_id,
        format=item.format,
        dataset=item.dataset_name,
        create_labels=bool(item.create_labels),
        status=item.status,
        status_reason=item.status_reason,
        total=int(item.total or 0),
        done=int(item.done or 0),
        failed=int(item.failed or 0),
        created_by=item.created_by,
        created_at=item.created_at,
        finished_at=item.finished_at,
        execution_arn=item.execution_arn,
        awaiting_videos=bool(item.awaiting_videos),
    )


def _job_key(project_id: str, import_id: str) -> ImportJobItem:
    return ImportJobItem(PK=keys.project_pk(project_id), SK=keys.import_sk(import_id))


def create_import(
    project_id: str, import_id: str, fmt: str, dataset_name: str, create_labels: bool, author: str
) -> None:
    bind()
    ImportJobItem(
        PK=keys.project_pk(project_id),
        SK=keys.import_sk(import_id),
        kind=ImportJobItem.KIND,
        project_id=project_id,
        import_id=import_id,
        format=fmt,
        dataset_name=dataset_name,
        create_labels=create_labels,
        status="created",
        created_by=author,
        created_at=datetime.now(UTC),
    ).save(condition=ImportJobItem.PK.does_not_exist())


def get_import(project_id: str, import_id: str, *, consistent: bool = False) -> ImportJob | None:
    bind()
    try:
        item = ImportJobItem.get(keys.project_pk(project_id), keys.import_sk(import_id), consistent_read=consistent)
        return _import_job(item)
    except ImportJobItem.DoesNotExist:
        return None


def list_imports(project_id: str, dataset_name: str | None = None) -> list[ImportJob]:
    """The project's imports, newest first (optionally those into one dataset)."""
    bind()
    condition = ImportJobItem.dataset_name == dataset_name if dataset_name else None
    items = ImportJobItem.query(
        keys.project_pk(project_id), ImportJobItem.SK.startswith(keys.IMPORT_PREFIX), filter_condition=condition
    )
    return sorted((_import_job(i) for i in items), key=lambda job: job.created_at, reverse=True)


def mark_import(
    project_id: str,
    import_id: str,
    *,
    status: str,
    total: int | None = None,
    reason: str | None = None,
    reset_counters: bool = False,
    finished: bool = False,
    execution_arn: str | None = None,
    unless_status: set[str] | None = None,
    expect: tuple[str, str] | None = None,
    awaiting_videos: bool = False,
) -> bool:
    """Set the import's status (and what goes with it); False when ``unless_status`` names its status, or it
    is not ``expect`` (a status and an execution). ``awaiting_videos`` is cleared unless set here."""
    bind()
    actions: list[Action] = [
        ImportJobItem.status.set(status),
        ImportJobItem.status_reason.set(reason),  # type: ignore[arg-type]  # pynamodb's stub omits None, which removes the attribute
    ]
    if total is not None:
        actions.append(ImportJobItem.total.set(total))
    if reset_counters:
        actions += [ImportJobItem.done.set(0), ImportJobItem.failed.set(0)]
    actions.append(ImportJobItem.finished_at.set(datetime.now(UTC) if finished else None))  # type: ignore[arg-type]  # pynamodb's stub omits None, which removes the attribute
    if execution_arn is not None:
        actions.append(ImportJobItem.execution_arn.set(execution_arn))
    awaiting = ImportJobItem.awaiting_videos
    actions.append(awaiting.set(True) if awaiting_videos else awaiting.remove())
    condition = ImportJobItem.PK.exists()
    if unless_status:
        condition &= ~ImportJobItem.status.is_in(*unless_status)
    if expect is not None:
        condition &= (ImportJobItem.status == expect[0]) & (ImportJobItem.execution_arn == expect[1])
    return applied(lambda: _job_key(project_id, import_id).update(actions=actions, condition=condition))


def set_import_execution(project_id: str, import_id: str, execution_arn: str) -> None:
    bind()
    _job_key(project_id, import_id).update(
        actions=[ImportJobItem.execution_arn.set(execution_arn)], condition=ImportJobItem.PK.exists()
    )


def record_import_outcome(
    project_id: str, import_id: str, index: int, name: str, *, file_id: str | None, reason: str | None
) -> bool:
    """Record one item's outcome once (retries are no-ops, False) and bump the live progress counter.

    Not one transaction: parallel chunk workers would conflict on the job item. The counters are progress for
    people to watch; ``complete_import`` makes them exact from the outcomes at the end.
    """
    bind()
    outcome = _outcome_item(project_id, import_id, index, name, file_id=file_id, reason=reason)
    if not applied(lambda: outcome.save(condition=ImportOutcomeItem.PK.does_not_exist())):
        return False
    _count_outcome(project_id, import_id, failed=reason is not None)
    return True


def _outcome_item(
    project_id: str, import_id: str, index: int, name: str, *, file_id: str | None, reason: str | None
) -> ImportOutcomeItem:
    return ImportOutcomeItem(
        PK=keys.import_outcomes_pk(project_id, import_id),
        SK=keys.import_outcome_sk(index),
        kind=ImportOutcomeItem.KIND,
        project_id=project_id,
        import_id=import_id,
        item_index=index,
        name=name,
        outcome="done" if reason is None else "failed",
        file_id=file_id,
        reason=reason[:1000] if reason else None,
    )


def _count_outcome(project_id: str, import_id: str, *, failed: bool) -> None:
    """Bump the live progress counter of an outcome just recorded."""
    counter = ImportJobItem.failed if failed else ImportJobItem.done
    _job_key(project_id, import_id).update(actions=[counter.add(1)])


def record_video_waiting(project_id: str, import_id: str, index: int, name: str) -> bool:
    """Mark the item as handed to the video ingest (its outcome comes with ``settle_video_item``); False when
    the item has its outcome already (a chunk run again after its video's result came in)."""
    bind()
    pk = keys.import_outcomes_pk(project_id, import_id)
    waiting = ImportOutcomeItem(
        PK=pk,
        SK=keys.import_waiting_sk(index),
        kind=ImportOutcomeItem.KIND,
        project_id=project_id,
        import_id=import_id,
        item_index=index,
        name=name,
        outcome="waiting",
        waiting_since=datetime.now(UTC),
    )

    def write(tx: TransactWrite) -> None:
        tx.condition_check(ImportOutcomeItem, pk, keys.import_outcome_sk(index), ImportOutcomeItem.PK.does_not_exist())
        tx.save(waiting)

    return transact(write)


def is_waiting(project_id: str, import_id: str, index: int) -> bool:
    """Whether the item is marked waiting for its video's ingest."""
    bind()
    try:
        ImportOutcomeItem.get(
            keys.import_outcomes_pk(project_id, import_id), keys.import_waiting_sk(index), consistent_read=True
        )
    except ImportOutcomeItem.DoesNotExist:
        return False
    return True


def drop_video_waiting(project_id: str, import_id: str, index: int) -> None:
    """Take back a mark whose video could not be handed over (the item's failure is recorded instead)."""
    bind()
    ImportOutcomeItem(PK=keys.import_outcomes_pk(project_id, import_id), SK=keys.import_waiting_sk(index)).delete()


def settle_video_item(
    project_id: str, import_id: str, index: int, name: str, *, file_id: str | None, reason: str | None
) -> bool:
    """Turn a waiting video item into its outcome, in one transaction (the mark goes, the outcome is written
    once), then bump the live counter; False (nothing written) when it is not waiting: a video ingest run again,
    or an import re-driven since."""
    bind()
    outcome = _outcome_item(project_id, import_id, index, name, file_id=file_id, reason=reason)
    waiting = ImportOutcomeItem(PK=keys.import_outcomes_pk(project_id, import_id), SK=keys.import_waiting_sk(index))

    def write(tx: TransactWrite) -> None:
        tx.delete(waiting, condition=ImportOutcomeItem.PK.exists())
        tx.save(outcome, condition=ImportOutcomeItem.PK.does_not_exist())

    if not transact(write):
        return False
    _count_outcome(project_id, import_id, failed=reason is not None)
    return True


def videos_waiting(project_id: str, import_id: str) -> bool:
    """Whether any item still waits for its video's ingest (a consistent read of one key range)."""
    bind()
    found = ImportOutcomeItem.query(
        keys.import_outcomes_pk(project_id, import_id),
        ImportOutcomeItem.SK.startswith(keys.IMPORT_WAITING_PREFIX),
        consistent_read=True,
        limit=1,
    )
    return next(iter(found), None) is not None


def waiting_items(project_id: str, import_id: str, limit: int) -> list[ImportOutcome]:
    """The first ``limit`` items waiting for their video's ingest, in manifest order."""
    bind()
    found = ImportOutcomeItem.query(
        keys.import_outcomes_pk(project_id, import_id),
        ImportOutcomeItem.SK.startswith(keys.IMPORT_WAITING_PREFIX),
        limit=limit,
    )
    return [
        ImportOutcome(index=int(i.item_index), name=i.name, outcome="waiting", waiting_since=i.waiting_since)
        for _, i in zip(range(limit), found, strict=False)
    ]


def count_outcomes(project_id: str, import_id: str) -> tuple[int, int]:
    """(done, failed) from the recorded outcomes (consistent reads)."""
    bind()
    pk = keys.import_outcomes_pk(project_id, import_id)

    def count(outcome: str) -> int:
        return ImportOutcomeItem.count(
            pk,
            ImportOutcomeItem.SK.startswith(keys.IMPORT_OUTCOME_PREFIX),
            filter_condition=ImportOutcomeItem.outcome == outcome,
            consistent_read=True,
        )

    return count("done"), count("failed")


def complete_import(project_id: str, import_id: str, *, status: str, done: int, failed: int) -> bool:
    """End an import whose run has ended and whose items all have their outcome, with exact counters; False when
    it is no longer running and awaiting (ended by another caller, or started again)."""
    bind()
    actions: list[Action] = [
        ImportJobItem.status.set(status),
        ImportJobItem.done.set(done),
        ImportJobItem.failed.set(failed),
        ImportJobItem.finished_at.set(datetime.now(UTC)),
        ImportJobItem.awaiting_videos.remove(),
    ]
    condition = (ImportJobItem.status == "running") & (ImportJobItem.awaiting_videos == True)  # noqa: E712 - a condition
    return applied(lambda: _job_key(project_id, import_id).update(actions=actions, condition=condition))


def clear_import_outcomes(project_id: str, import_id: str) -> None:
    bind()
    with ImportOutcomeItem.batch_write() as batch:
        for item in ImportOutcomeItem.query(keys.import_outcomes_pk(project_id, import_id)):
            batch.delete(item)


def import_failures(project_id: str, import_id: str, limit: int = 100) -> list[ImportOutcome]:
    """The first ``limit`` items that failed, in manifest order."""
    bind()
    failures = ImportOutcomeItem.query(
        keys.import_outcomes_pk(project_id, import_id), filter_condition=ImportOutcomeItem.outcome == "failed"
    )
    return [
        ImportOutcome(index=int(i.item_index), name=i.name, outcome="failed", file_id=i.file_id, reason=i.reason)
        for _, i in zip(range(limit), failures, strict=False)
    ]
