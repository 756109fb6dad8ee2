"""Arrivals: what the drop-folder paths of one stem (``folder/name`` without extension) became.

A sidecar ``name.json`` arriving after its image attaches to the stem's ready file; refused paths under the stem
are kept apart, so a refusal never hides the stem's image from its sidecar. The ready file's image is named by
its ETag, so a sidecar can tell a new image of its stem, still waiting to be ingested, from the one it became.

A sidecar whose stem has no ready file yet leaves a mark (``sidecar_waiting``) in the same write that looks for
the file, and recording the image's arrival takes the mark off and answers whether it was there: one of the two
writes comes second and sees the other, so the image's ingest looks for its sidecar again only when one came.

A batch of images registered together reads its arrivals first (one batch read) and records each in its file's
registration transaction, conditional on the arrival being as read (``recorded_alongside``): a sidecar's mark
or a refusal that lands in between cancels that transaction, and the file takes the one-write path instead.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from annolake_service.adapters.dynamo import keys
from annolake_service.adapters.dynamo.conditions import TransactionPut, TransactionUpdate
from annolake_service.adapters.dynamo.items import ArrivalItem
from annolake_service.adapters.dynamo.table import bind, read_together

READ_LIMIT = 100  # keys one BatchGetItem takes


@dataclass(frozen=True)
class Arrival:
    """What recording an image's arrival replaced."""

    was_refused: bool  # the path had been quarantined before
    sidecar_waiting: bool  # a sidecar of the stem came while the stem had no ready file


@dataclass(frozen=True)
class ArrivalSeen:
    """An arrival item as read (all empty where there was none)."""

    file_id: str | None
    refused: frozenset[str]
    sidecar_waiting: bool
    found: bool = True  # False: no item (the stem's first arrival)


def read_arrivals(project_id: str, dataset_name: str, path_stems: Iterable[str]) -> dict[str, ArrivalSeen]:
    """The arrival items of ``path_stems`` of one dataset folder, read strongly, a hundred to a request."""
    stems = list(dict.fromkeys(path_stems))
    seen: dict[str, ArrivalSeen] = {}
    for start in range(0, len(stems), READ_LIMIT):
        chunk = stems[start : start + READ_LIMIT]
        wanted = [ArrivalItem(*keys.arrival_key(project_id, dataset_name, stem)) for stem in chunk]
        for stem, item in zip(chunk, read_together(wanted), strict=True):
            seen[stem] = ArrivalSeen(
                file_id=item.file_id if item is not None else None,
                refused=frozenset(item.refused or ()) if item is not None else frozenset(),
                sidecar_waiting=bool(item.sidecar_waiting) if item is not None else False,
                found=item is not None,
            )
    return seen


@dataclass(frozen=True)
class StemFile:
    """The ready file a stem became, and the ETag of the image it came from (None: not recorded)."""

    file_id: str
    etag: str | None


def recorded_alongside(
    project_id: str,
    dataset_name: str,
    path_stem: str,
    file_id: str,
    refused_id: str,
    seen: ArrivalSeen,
    etag: str | None = None,
) -> tuple[TransactionUpdate | TransactionPut, Arrival]:
    """``record_arrival``'s write for another transaction, conditional on the item still being as ``seen``, and
    what it replaces (as ``record_arrival`` answers it). A stem seen without an item gets the item ``record_arrival``
    would make, put on the condition that there is still none (the same item, a cheaper write)."""
    replaced = Arrival(
        was_refused=refused_id in seen.refused or seen.file_id == refused_id, sidecar_waiting=seen.sidecar_waiting
    )
    key = keys.arrival_key(project_id, dataset_name, path_stem)
    if not seen.found:
        first = ArrivalItem(*key, kind=ArrivalItem.KIND, project_id=project_id, file_id=file_id, etag=etag)
        return TransactionPut(item=first, condition=ArrivalItem.PK.does_not_exist()), replaced
    unchanged = (
        (ArrivalItem.sidecar_waiting.exists() if seen.sidecar_waiting else ArrivalItem.sidecar_waiting.does_not_exist())
        & (
            ArrivalItem.refused.contains(refused_id)
            if refused_id in seen.refused
            else ~ArrivalItem.refused.contains(refused_id)
        )
        & (ArrivalItem.file_id == seen.file_id if seen.file_id is not None else ArrivalItem.file_id.does_not_exist())
    )
    update = TransactionUpdate(
        item=ArrivalItem(*key), actions=_arrival_actions(project_id, file_id, refused_id, etag), condition=unchanged
    )
    return update, replaced


def _arrival_actions(project_id: str, file_id: str, refused_id: str, etag: str | None) -> list:
    return [
        ArrivalItem.kind.set(ArrivalItem.KIND),
        ArrivalItem.project_id.set(project_id),
        ArrivalItem.file_id.set(file_id),
        ArrivalItem.etag.set(etag) if etag is not None else ArrivalItem.etag.remove(),
        ArrivalItem.refused.delete({refused_id}),
        ArrivalItem.sidecar_waiting.remove(),
    ]


def record_arrival(
    project_id: str, dataset_name: str, path_stem: str, file_id: str, refused_id: str, etag: str | None = None
) -> Arrival:
    """Point a path's stem at the ready file it became (from the image of S3 ETag ``etag``), retire the path's
    refusal (quarantine record ``refused_id``) if it had one and take off a waiting sidecar's mark. One write,
    which also answers what it replaced."""
    bind()
    answer = ArrivalItem._get_connection().update_item(
        *keys.arrival_key(project_id, dataset_name, path_stem),
        actions=_arrival_actions(project_id, file_id, refused_id, etag),
        return_values="UPDATED_OLD",
    )
    before = answer.get("Attributes", {})
    # Arrivals recorded before refusals had a set of their own named the refused record as file_id.
    refused = refused_id in before.get("refused", {}).get("SS", ()) or before.get("file_id", {}).get("S") == refused_id
    return Arrival(was_refused=refused, sidecar_waiting="sidecar_waiting" in before)


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


def sidecar_arrived(project_id: str, dataset_name: str, path_stem: str) -> StemFile | None:
    """The ready file a path stem became, if one did; the stem is marked as having a sidecar waiting either way
    (one write: the image's ``record_arrival`` then knows to look for it)."""
    bind()
    answer = ArrivalItem._get_connection().update_item(
        *keys.arrival_key(project_id, dataset_name, path_stem),
        actions=[
            ArrivalItem.kind.set(ArrivalItem.KIND),
            ArrivalItem.project_id.set(project_id),
            ArrivalItem.sidecar_waiting.set(True),
        ],
        return_values="ALL_NEW",
    )
    attributes = answer.get("Attributes", {})
    if "file_id" not in attributes:
        return None
    return StemFile(file_id=attributes["file_id"]["S"], etag=attributes.get("etag", {}).get("S"))
