"""Presigned uploads and what they became."""

from __future__ import annotations

from datetime import UTC, datetime

from pynamodb.expressions.update import Action

from annolake_service.adapters.dynamo import keys
from annolake_service.adapters.dynamo.conditions import applied
from annolake_service.adapters.dynamo.items import UploadItem
from annolake_service.adapters.dynamo.table import bind
from annolake_service.domain.entities import Upload


def create_upload(
    project_id: str,
    upload_id: str,
    dataset_name: str,
    file_name: str,
    created_by: str,
    ttl: int,
    import_item: tuple[str, int] | None = None,
) -> None:
    """Record a pending upload, kept until ``ttl`` (epoch seconds); ``import_item``: the import and item index
    whose outcome the upload's ingest settles."""
    bind()
    UploadItem(
        PK=keys.project_pk(project_id),
        SK=keys.upload_sk(upload_id),
        kind=UploadItem.KIND,
        project_id=project_id,
        upload_id=upload_id,
        dataset_name=dataset_name,
        file_name=file_name,
        created_by=created_by,
        created_at=datetime.now(UTC),
        ttl=ttl,
        import_id=import_item[0] if import_item else None,
        import_item=import_item[1] if import_item else None,
    ).save(condition=UploadItem.PK.does_not_exist())


def link_import(project_id: str, upload_id: str, import_id: str, index: int) -> None:
    """Name the import item an existing upload settles (one recorded before uploads carried it)."""
    bind()
    UploadItem(PK=keys.project_pk(project_id), SK=keys.upload_sk(upload_id)).update(
        actions=[UploadItem.import_id.set(import_id), UploadItem.import_item.set(index)],
        condition=UploadItem.PK.exists(),
    )


def finish_upload(
    project_id: str, upload_id: str, *, status: str, file_id: str, reason: str | None = None
) -> Upload | None:
    """Record the upload's outcome and return the upload; one whose record has expired (TTL) is left alone (None).
    Any other failure is raised, so the step is retried rather than leaving the upload "pending" beside its ready
    file."""
    bind()
    item = UploadItem(PK=keys.project_pk(project_id), SK=keys.upload_sk(upload_id))
    actions: list[Action] = [
        UploadItem.status.set(status),
        UploadItem.file_id.set(file_id),
        UploadItem.status_reason.set(reason),  # type: ignore[arg-type]  # pynamodb's stub omits None, which removes the attribute
    ]
    if not applied(lambda: item.update(actions=actions, condition=UploadItem.PK.exists())):
        return None
    return _upload(item)  # the update read the item back


def get_upload(project_id: str, upload_id: str) -> Upload | None:
    bind()
    try:
        item = UploadItem.get(keys.project_pk(project_id), keys.upload_sk(upload_id))
    except UploadItem.DoesNotExist:
        return None
    return _upload(item)


def _upload(item: UploadItem) -> Upload:
    return Upload(
        project_id=item.project_id,
        upload_id=item.upload_id,
        dataset=item.dataset_name,
        file_name=item.file_name,
        status=item.status,
        status_reason=item.status_reason,
        file_id=item.file_id,
        created_by=item.created_by,
        created_at=item.created_at,
        import_id=item.import_id,
        import_item=None if item.import_item is None else int(item.import_item),
    )
