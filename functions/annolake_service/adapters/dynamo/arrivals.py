"""Arrivals: what the drop-folder paths of one stem (``folder/name`` without extension) became.

A sidecar ``name.json`` arriving after its image attaches to the stem's ready file; refused paths under the stem
are kept apart, so a refusal never hides the stem's image from its sidecar.
"""

from __future__ import annotations

from annolake_service.adapters.dynamo import keys
from annolake_service.adapters.dynamo.items import ArrivalItem
from annolake_service.adapters.dynamo.table import bind


def record_arrival(project_id: str, dataset_name: str, path_stem: str, file_id: str, refused_id: str) -> bool:
    """Point a path's stem at the ready file it became and retire the path's refusal (quarantine record
    ``refused_id``) if it had one; returns whether it had. One write, which also answers what it replaced."""
    bind()
    answer = ArrivalItem._get_connection().update_item(
        *keys.arrival_key(project_id, dataset_name, path_stem),
        actions=[
            ArrivalItem.kind.set(ArrivalItem.KIND),
            ArrivalItem.project_id.set(project_id),
            ArrivalItem.file_id.set(file_id),
            ArrivalItem.refused.delete({refused_id}),
        ],
        return_values="UPDATED_OLD",
    )
    before = answer.get("Attributes", {})
    # Arrivals recorded before refusals had a set of their own named the refused record as file_id.
    return refused_id in before.get("refused", {}).get("SS", ()) or before.get("file_id", {}).get("S") == refused_id


def record_refused_arrival(project_id: str, dataset_name: str, path_stem: str, refused_id: str) -> None:
    """Note a refused path under this stem, leaving the stem's ready file (its sidecar's target) as it is."""
    bind()
    ArrivalItem._get_connection().update_item(
        *keys.arrival_key(project_id, dataset_name, path_stem),
        actions=[
            ArrivalItem.kind.set(ArrivalItem.KIND),
            ArrivalItem.project_id.set(project_id),
            ArrivalItem.refused.add({refused_id}),
        ],
    )


def arrival_file_id(project_id: str, dataset_name: str, path_stem: str) -> str | None:
    """The ready file a path stem became, if one did."""
    bind()
    try:
        return ArrivalItem.get(*keys.arrival_key(project_id, dataset_name, path_stem)).file_id
    except ArrivalItem.DoesNotExist:
        return None
