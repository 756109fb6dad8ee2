"""Named snapshots (their manifests are S3 objects named by digest: ``storage.snapshot_manifest_key``)."""

from __future__ import annotations

from typing import Any

from pynamodb.expressions.update import Action

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
        status=item.status or "ready",
        status_reason=item.status_reason,
        build_id=item.build_id,
        chunks_total=int(item.chunks_total or 0),
        chunk_files=int(item.chunk_files or 0),
    )


def create_snapshot(snapshot: Snapshot, *, replacing_failed: bool = False) -> None:
    """AlreadyExists when the project has a snapshot of that name (names are never reused), unless
    ``replacing_failed`` and that one failed: a failed build's name may be taken again.

    A pending snapshot is kept out of GSI1 (found by digest) until ``mark_ready`` gives it its digest."""
    bind()
    ready = snapshot.status == "ready"
    item = SnapshotItem(
        PK=keys.project_pk(snapshot.project_id),
        SK=keys.snapshot_sk(snapshot.name),
        kind=SnapshotItem.KIND,
        GSI1PK=keys.snapshots_index_pk(snapshot.project_id) if ready else None,
        GSI1SK=keys.snapshot_index_sk(snapshot.digest, snapshot.name) if ready else None,
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
        status=snapshot.status,
        status_reason=snapshot.status_reason,
        build_id=snapshot.build_id,
        chunks_total=snapshot.chunks_total,
        chunk_files=snapshot.chunk_files,
    )
    condition = SnapshotItem.PK.does_not_exist()
    if replacing_failed:
        condition = condition | (SnapshotItem.status == "failed")
    if not applied(lambda: item.save(condition=condition)):
        raise AlreadyExists(snapshot.name)


def _update_pending(project_id: str, name: str, actions: list[Action]) -> bool:
    """Apply ``actions`` to the snapshot if it is still pending; whether it was."""
    bind()
    item = SnapshotItem(PK=keys.project_pk(project_id), SK=keys.snapshot_sk(name))
    return applied(lambda: item.update(actions=actions, condition=SnapshotItem.status == "pending"))


def mark_ready(project_id: str, name: str, *, digest: str, facts: dict[str, Any]) -> bool:
    """The built snapshot: its digest (now findable by it) and ``count``, ``label_histogram``,
    ``manifest_bytes``; False if it was no longer pending."""
    actions: list[Action] = [
        SnapshotItem.status.set("ready"),
        SnapshotItem.digest.set(digest),
        SnapshotItem.GSI1PK.set(keys.snapshots_index_pk(project_id)),
        SnapshotItem.GSI1SK.set(keys.snapshot_index_sk(digest, name)),
        SnapshotItem.file_count.set(facts["count"]),
        SnapshotItem.label_histogram.set(facts["label_histogram"]),
        SnapshotItem.manifest_bytes.set(facts["manifest_bytes"]),
    ]
    return _update_pending(project_id, name, actions)


def mark_failed(project_id: str, name: str, reason: str) -> bool:
    """False if it was no longer pending (a build that finished is never marked failed)."""
    return _update_pending(
        project_id, name, [SnapshotItem.status.set("failed"), SnapshotItem.status_reason.set(reason[:1000])]
    )


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
