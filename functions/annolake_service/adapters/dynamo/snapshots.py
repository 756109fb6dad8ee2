"""Named snapshots (their manifests are S3 objects named by digest: ``storage.snapshot_manifest_key``)."""

from __future__ import annotations

from annolake_service.adapters.dynamo import keys
from annolake_service.adapters.dynamo.conditions import AlreadyExists, applied
from annolake_service.adapters.dynamo.items import SnapshotItem
from annolake_service.adapters.dynamo.table import bind
from annolake_service.domain.snapshots import Snapshot


def _snapshot(item: SnapshotItem) -> Snapshot:
    return Snapshot(
        project_id=item.project_id,
        name=item.name,
        digest=item.digest,
        dataset=item.dataset_name,
        query=item.query_text,
        schema_version=int(item.schema_version),
        count=int(item.file_count),
        label_histogram=item.label_histogram,
        manifest_bytes=int(item.manifest_bytes),
        created_by=item.created_by,
        created_at=item.created_at,
    )


def create_snapshot(snapshot: Snapshot) -> None:
    """AlreadyExists when the project has a snapshot of that name (names are never reused)."""
    bind()
    item = SnapshotItem(
        PK=keys.project_pk(snapshot.project_id),
        SK=keys.snapshot_sk(snapshot.name),
        kind=SnapshotItem.KIND,
        GSI1PK=keys.snapshots_index_pk(snapshot.project_id),
        GSI1SK=keys.snapshot_index_sk(snapshot.digest, snapshot.name),
        project_id=snapshot.project_id,
        name=snapshot.name,
        digest=snapshot.digest,
        dataset_name=snapshot.dataset,
        query_text=snapshot.query,
        schema_version=snapshot.schema_version,
        file_count=snapshot.count,
        label_histogram=snapshot.label_histogram,
        manifest_bytes=snapshot.manifest_bytes,
        created_by=snapshot.created_by,
        created_at=snapshot.created_at,
    )
    if not applied(lambda: item.save(condition=SnapshotItem.PK.does_not_exist())):
        raise AlreadyExists(snapshot.name)


def get_snapshot(project_id: str, name: str) -> Snapshot | None:
    bind()
    try:
        return _snapshot(SnapshotItem.get(keys.project_pk(project_id), keys.snapshot_sk(name)))
    except SnapshotItem.DoesNotExist:
        return None


def snapshots_with_digest(project_id: str, digest_prefix: str, *, limit: int = 10) -> list[Snapshot]:
    """Snapshots whose digest starts with ``digest_prefix``, by digest then name."""
    bind()
    found = SnapshotItem.gsi1.query(
        keys.snapshots_index_pk(project_id), SnapshotItem.GSI1SK.startswith(digest_prefix), limit=limit
    )
    return [_snapshot(item) for item in found]


def list_snapshots(project_id: str) -> list[Snapshot]:
    """Every snapshot of the project, by name."""
    bind()
    found = SnapshotItem.query(keys.project_pk(project_id), SnapshotItem.SK.startswith(keys.SNAPSHOT_PREFIX))
    return [_snapshot(item) for item in found]
