"""The manifests of the datasets' columnar query indexes (one item per dataset)."""

from __future__ import annotations

from annolake_service.adapters.dynamo import keys
from annolake_service.adapters.dynamo.conditions import applied
from annolake_service.adapters.dynamo.items import QueryIndexItem
from annolake_service.adapters.dynamo.table import bind
from annolake_service.domain.entities import IndexManifest


def get_manifest(project_id: str, dataset_id: str) -> IndexManifest | None:
    bind()
    try:
        item = QueryIndexItem.get(keys.project_pk(project_id), keys.query_index_sk(dataset_id), consistent_read=True)
    except QueryIndexItem.DoesNotExist:
        return None
    return IndexManifest(
        project_id=item.project_id,
        dataset_id=item.dataset_id,
        base_key=item.base_key,
        folded_keys=list(item.folded_keys),
        retired_keys=list(item.retired_keys),
        built_at=item.built_at,
        compacted_at=item.compacted_at,
        version=item.version,
    )


def indexed_datasets(project_id: str) -> list[str]:
    """The datasets of a project that have an index: a key query ``begins_with INDEX#`` on ``P#<p>``."""
    bind()
    query = QueryIndexItem.query(
        keys.project_pk(project_id),
        QueryIndexItem.SK.startswith(keys.QUERY_INDEX_PREFIX),
        attributes_to_get=["dataset_id"],
    )
    return [item.dataset_id for item in query]


def save_manifest(manifest: IndexManifest) -> bool:
    """Write the manifest if nobody replaced the one it was made from (``version``); False if somebody did."""
    bind()
    item = QueryIndexItem(
        PK=keys.project_pk(manifest.project_id),
        SK=keys.query_index_sk(manifest.dataset_id),
        kind=QueryIndexItem.KIND,
        **manifest.model_dump(exclude={"version"} if manifest.version is None else set()),
    )
    return applied(item.save)  # the version attribute makes the save conditional on the version read


def delete_manifest(project_id: str, dataset_id: str) -> None:
    bind()
    QueryIndexItem(PK=keys.project_pk(project_id), SK=keys.query_index_sk(dataset_id)).delete()
