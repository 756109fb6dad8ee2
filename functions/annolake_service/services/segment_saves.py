"""Saving a video segment task: its frames merged into the file's tracks (``domain/video/segments.py``).

Segments of one video are worked at once, so a save from an older version than the file's is rebased onto the
newest when nobody changed the segment's frames since the version its annotator started from; a change there
is a real conflict (409, reload). A save that races another between the read and the write reads again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from annolake_service.adapters.dynamo import files as file_repo
from annolake_service.adapters.dynamo.conditions import TransactionUpdate
from annolake_service.domain.video import segments
from annolake_service.services import annotations as annotation_service
from annolake_service.services import files
from annolake_service.shared.errors import BadRequest, Conflict

_ATTEMPTS = 5  # reads of the newest version when other segments keep saving between a read and the write


def save(
    project_id: str,
    file_id: str,
    segment: segments.Segment,
    *,
    instance_list: list[dict[str, Any]],
    started_from: int | None,
    author: str,
    task_id: str,
    alongside: Callable[[int], TransactionUpdate],
) -> dict[str, Any]:
    """Merge the segment's instances into the file's newest version; ``started_from``: the version the
    annotator read (None: the newest). ``alongside(version)``: the task's own update, written with the save."""
    if not isinstance(instance_list, list) or not all(isinstance(i, dict) for i in instance_list):
        raise BadRequest("instance_list must be a list of instance objects")
    base = _instances_at(project_id, file_id, started_from) if started_from is not None else None
    for _ in range(_ATTEMPTS):
        record, current = files.get_file_with_instances(project_id, file_id)
        since = record.annotation_version if started_from is None else started_from
        if base is not None and since != record.annotation_version and segments.changed_since(base, current, segment):
            raise _conflict(project_id, file_id, segment, since, record.annotation_version)
        try:
            merged = segments.merge(current, instance_list, segment)
        except segments.SegmentError as exc:
            raise BadRequest(str(exc)) from None
        try:
            return annotation_service.save_annotations(
                project_id,
                file_id,
                expected_version=record.annotation_version,
                instance_list=merged,
                author=author,
                task_id=task_id,
                alongside=[alongside(record.annotation_version + 1)],
            )
        except Conflict as exc:
            if "current_version" not in exc.details:
                raise  # not a save that came between (the file is no longer ready, say)
            if base is None:
                base = current  # a save landed since this read: from now on, only one outside the segment rebases
                started_from = record.annotation_version
            continue
    raise Conflict(f"the annotations of {file_id} kept changing while saving {segment}; submit again")


def _instances_at(project_id: str, file_id: str, version: int) -> list[dict[str, Any]]:
    record = files.get_file(project_id, file_id)
    if version > record.annotation_version:
        raise Conflict(
            f"version {version} of {file_id}'s annotations does not exist yet (the file is at "
            f"{record.annotation_version}); reload the task",
            details={"current_version": record.annotation_version},
        )
    return file_repo.get_files_at_versions(project_id, {file_id: version})[file_id][1]


def _conflict(project_id: str, file_id: str, segment: segments.Segment, since: int, now: int) -> Conflict:
    last = next(file_repo.iter_annotation_versions(project_id, file_id, newest_first=True), None)
    return Conflict(
        f"{segment} of {file_id} changed since version {since}: now version {now}"
        f"{' by ' + last.created_by if last else ''}; reload the task and apply your edits again",
        details={"current_version": now, "changed_by": last.created_by if last else None},
    )
