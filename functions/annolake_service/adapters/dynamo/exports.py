"""Exports of snapshots: one item each, keyed by an id derived from the snapshot, format and options."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pynamodb.expressions.update import Action

from annolake_service.adapters.dynamo import keys
from annolake_service.adapters.dynamo.conditions import applied
from annolake_service.adapters.dynamo.items import ExportItem
from annolake_service.adapters.dynamo.table import bind
from annolake_service.domain.exports import ExportJob


def _job(item: ExportItem) -> ExportJob:
    return ExportJob(
        project_id=item.project_id,
        export_id=item.export_id,
        snapshot_name=item.snapshot_name,
        snapshot_digest=item.snapshot_digest,
        format=item.format,
        options=item.options or {},
        status=item.status,
        status_reason=item.status_reason,
        pages_total=int(item.pages_total or 0),
        size_bytes=int(item.size_bytes) if item.size_bytes is not None else None,
        sha256=item.sha256,
        attempt=int(item.attempt or 0),
        execution_arn=item.execution_arn,
        created_by=item.created_by,
        created_at=item.created_at,
        finished_at=item.finished_at,
    )


def create_export(job: ExportJob) -> bool:
    """Write a new export; False when one with that id exists (the same export was asked for before)."""
    bind()
    item = ExportItem(
        PK=keys.project_pk(job.project_id),
        SK=keys.export_sk(job.export_id),
        kind=ExportItem.KIND,
        **job.model_dump(),
    )
    return applied(lambda: item.save(condition=ExportItem.PK.does_not_exist()))


def get_export(project_id: str, export_id: str) -> ExportJob | None:
    bind()
    try:
        return _job(ExportItem.get(keys.project_pk(project_id), keys.export_sk(export_id)))
    except ExportItem.DoesNotExist:
        return None


def list_exports(project_id: str) -> list[ExportJob]:
    bind()
    found = ExportItem.query(keys.project_pk(project_id), ExportItem.SK.startswith(keys.EXPORT_PREFIX))
    return [_job(item) for item in found]


def restart_export(
    project_id: str, export_id: str, *, from_status: tuple[str, ...], ended_execution: str | None = None
) -> int | None:
    """Queue the export again (a re-drive) if its status is still one of ``from_status`` (and, for one that reads
    as active, still on ``ended_execution``, the execution found ended): the new attempt number, or None
    (nothing written: someone else re-drove it, or it is no longer what the caller saw)."""
    bind()
    item = ExportItem(PK=keys.project_pk(project_id), SK=keys.export_sk(export_id))
    actions: list[Action] = [
        ExportItem.status.set("queued"),
        ExportItem.attempt.add(1),
        ExportItem.status_reason.remove(),
        ExportItem.finished_at.remove(),
    ]
    condition = ExportItem.status.is_in(*from_status)
    if ended_execution is not None:
        condition &= ExportItem.execution_arn == ended_execution
    if not applied(lambda: item.update(actions=actions, condition=condition)):
        return None
    return int(item.attempt)


def mark_export(
    project_id: str,
    export_id: str,
    *,
    status: str,
    finished_at: datetime | None = None,
    only_from: tuple[str, ...] | None = None,
    **facts: Any,
) -> bool:
    """Set the status and any of ``pages_total``, ``size_bytes``, ``sha256``, ``status_reason``,
    ``execution_arn``; with ``only_from``, only if the status is one of those (whether it was)."""
    bind()
    item = ExportItem(PK=keys.project_pk(project_id), SK=keys.export_sk(export_id))
    actions: list[Action] = [ExportItem.status.set(status)]
    for name, value in facts.items():
        actions.append(getattr(ExportItem, name).set(value))
    if finished_at is not None:
        actions.append(ExportItem.finished_at.set(finished_at))
    condition = ExportItem.PK.exists()
    if only_from is not None:
        condition = condition & ExportItem.status.is_in(*only_from)
        return applied(lambda: item.update(actions=actions, condition=condition))
    item.update(actions=actions, condition=condition)
    return True


def set_execution(project_id: str, export_id: str, execution_arn: str) -> None:
    """The execution of the export's latest attempt: what cancelling it stops."""
    bind()
    item = ExportItem(PK=keys.project_pk(project_id), SK=keys.export_sk(export_id))
    item.update(actions=[ExportItem.execution_arn.set(execution_arn)], condition=ExportItem.PK.exists())
