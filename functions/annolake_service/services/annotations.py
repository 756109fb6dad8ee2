"""Annotation use cases: read, save a new version (optimistic), read history."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from annolake_service.adapters.dynamo import files as file_repo
from annolake_service.adapters.dynamo.conditions import TransactionUpdate, VersionConflict
from annolake_service.adapters.dynamo.cursors import InvalidCursor
from annolake_service.domain import annotations as versions
from annolake_service.domain.entities import AnnotationVersion, FileRecord
from annolake_service.domain.exports.cvat_video import CvatVideoError, read_cvat_video, typed_instances
from annolake_service.domain.instances import InvalidInstances, attribute_values, label_counts, parse_instance_list
from annolake_service.domain.schema import Schema, did_you_mean
from annolake_service.domain.video.visibility import frame_counts
from annolake_service.services import files, page_bytes, prelabels
from annolake_service.services import schema as schema_service
from annolake_service.shared.errors import BadRequest, Conflict, NotFound


def live_file(project_id: str, file_id: str) -> FileRecord:
    return _ready(files.get_file(project_id, file_id))


def _ready(record: FileRecord) -> FileRecord:
    if record.status != "ready":
        raise Conflict(f"file {record.file_id!r} is {record.status} ({record.status_reason}); it cannot be annotated")
    return record


def frame_count_of(record: FileRecord) -> int | None:
    """A video's frame count (its annotations are tracks and frame tags), None for an image."""
    if record.media_type != "video":
        return None
    if record.video is None:
        raise Conflict(f"video {record.file_id!r} has no probed frames; ingest it again before annotating it")
    return record.video.frame_count


def validate_instances(
    project_id: str,
    raw: Any,
    *,
    width: int,
    height: int,
    create_labels: bool,
    frame_count: int | None = None,
    schema: Schema | None = None,
) -> list[dict[str, Any]]:
    """Geometry, label names and attribute values checked against the image (or the video's frames, given
    ``frame_count``) and the project schema (``schema``: as the caller read it, else read here)."""
    try:
        instances = parse_instance_list(raw, width=width, height=height, frame_count=frame_count)
    except InvalidInstances as exc:
        raise BadRequest(str(exc)) from None
    if schema is None:
        schema, _ = schema_service.get_schema(project_id)
    used = {i.name for i in instances if i.type != "global"}
    unknown = schema.unknown_labels(used)
    if unknown and create_labels:
        schema = schema_service.add_labels(project_id, unknown)
    elif unknown:
        hints = {name: did_you_mean(name, schema.label_names).strip(" ()") for name in unknown}
        raise BadRequest(
            f"unknown labels {unknown}: add them to the schema first, or pass create_labels=true",
            details={"unknown_labels": unknown, "suggestions": {k: v for k, v in hints.items() if v}},
        )
    problems = _attribute_problems(schema, instances)
    if problems:
        raise BadRequest("invalid attributes: " + "; ".join(problems), details={"problems": problems})
    return [i.model_dump(exclude_none=True) for i in instances]


def _attribute_problems(schema: Schema, instances: list[Any]) -> list[str]:
    problems = []
    for index, instance in enumerate(instances):
        label = None if instance.type == "global" else instance.name
        if instance.type == "track":  # each keyframe: the track's attributes with the frame's over them
            frames_of: dict[str, list[int]] = {}
            for key in instance.keyframes:
                merged = {**instance.attributes, **key.attributes}
                for problem in schema.attribute_problems(label, merged) if merged or _requires(schema, label) else []:
                    frames_of.setdefault(problem, []).append(key.frame)
            problems += [f"instance {index} (keyframes {frames}): {p}" for p, frames in frames_of.items()]
            continue
        if not instance.attributes and not _requires(schema, label):
            continue
        where = f"instance {index}"
        if instance.type == "frame_tag":
            where += f" (frame_tag {instance.name!r}, frames {instance.frame_start}..{instance.last_frame})"
        problems += [f"{where}: {p}" for p in schema.attribute_problems(label, instance.attributes)]
    return problems


def _requires(schema: Schema, label: str | None) -> bool:
    return any(g.required and g.applies_to(label) for g in schema.attribute_groups)


def get_annotations(project_id: str, file_id: str) -> dict[str, Any]:
    record, instances = files.get_file_with_instances(project_id, file_id)
    return {"file_id": file_id, "version": record.annotation_version, "instance_list": instances}


def save_annotations(
    project_id: str,
    file_id: str,
    *,
    expected_version: int | None,
    instance_list: list[dict[str, Any]],
    author: str,
    source: str = "human",
    create_labels: bool = False,
    task_id: str | None = None,
    alongside: Sequence[TransactionUpdate] | Callable[[int], Sequence[TransactionUpdate]] = (),
    read: file_repo.ForSave | None = None,
) -> dict[str, Any]:
    """Validate and append a version; ``task_id``/``alongside``: a workflow task submitted in the same write
    (``alongside`` may be made from the new version's number); ``read``: the file and schema as the caller read
    them with its own items (``files.get_file_for_save``).

    ``expected_version`` None: over the version read here (a task's holder saving without naming the version
    loaded); a save that lands meanwhile still makes this one a conflict, as for a version named.
    """
    record, current_instances, schema, listing = files.get_file_for_save(project_id, file_id, read)
    _ready(record)
    if expected_version is None:
        expected_version = record.annotation_version
    frame_count = frame_count_of(record)
    incoming = validate_instances(
        project_id,
        instance_list,
        width=record.width or 0,
        height=record.height or 0,
        create_labels=create_labels,
        frame_count=frame_count,
        schema=Schema.model_validate(schema),
    )
    incoming = prelabels.stamp(project_id, file_id, incoming)
    try:
        change = versions.apply_save(
            current_version=record.annotation_version,
            current_instances=current_instances,
            expected_version=expected_version,
            incoming=incoming,
            author=author,
            now=datetime.now(UTC),
        )
    except versions.StaleVersion as exc:
        raise _stale(project_id, file_id, exc.expected, exc.current) from None
    except (versions.UnknownInstance, versions.AnnotationTooLarge) as exc:
        raise BadRequest(str(exc)) from None
    live = parse_instance_list(
        change.instance_list, width=record.width or 0, height=record.height or 0, frame_count=frame_count
    )
    if callable(alongside):
        alongside = alongside(change.version)
    try:
        file_repo.save_annotation_version(
            project_id,
            file_id,
            expected_version=expected_version,
            instances=change.instance_list,
            deleted=change.deleted,
            label_counts=label_counts(live),
            frame_counts=None if frame_count is None else frame_counts(live, frame_count),
            attribute_values=attribute_values(live),
            author=author,
            source=source,
            task_id=task_id,
            alongside=alongside,
            listing=listing,
        )
    except VersionConflict as exc:
        raise _stale(project_id, file_id, expected_version, exc.current) from None
    return {
        "file_id": file_id,
        "version": change.version,
        "instance_list": change.instance_list,
        "changes": {
            "created": change.created,
            "updated": change.updated,
            "deleted": len(change.deleted),
            "unchanged": change.unchanged,
        },
    }


def import_cvat_video(
    project_id: str, file_id: str, *, document: str, expected_version: int, author: str, create_labels: bool
) -> dict[str, Any]:
    """Replace a video's annotations with the tracks and frame tags of a CVAT for video XML document."""
    record = live_file(project_id, file_id)
    frame_count = frame_count_of(record)
    if frame_count is None:
        raise BadRequest(f"file {file_id!r} is an image; CVAT for video annotations go on a video")
    try:
        video = read_cvat_video(document)
    except CvatVideoError as exc:
        raise BadRequest(f"cannot read the CVAT for video XML: {exc}") from None
    if video.frame_count != frame_count:
        raise BadRequest(
            f"the XML is for a video of {video.frame_count} frames; this video has {frame_count}: "
            "export it from the CVAT task of this video"
        )
    schema, _ = schema_service.get_schema(project_id)
    return save_annotations(
        project_id,
        file_id,
        expected_version=expected_version,
        instance_list=typed_instances(video.instances, schema),
        author=author,
        source="import",
        create_labels=create_labels,
    )


def _stale(project_id: str, file_id: str, expected: int, current: int) -> Conflict:
    last = next(file_repo.iter_annotation_versions(project_id, file_id, newest_first=True), None)
    return Conflict(
        f"the annotations of {file_id} changed since version {expected}: now version {current}"
        f"{' by ' + last.created_by if last else ''}; reload and apply your edits again",
        details={
            "current_version": current,
            "changed_by": last.created_by if last else None,
            "changed_at": last.created_at.isoformat() if last else None,
        },
    )


def _version_body(version: AnnotationVersion) -> dict[str, Any]:
    return {
        "version": version.version,
        "created_by": version.created_by,
        "created_at": version.created_at.isoformat(),
        "source": version.source,
        "task_id": version.task_id,
        "instance_list": version.instance_list,
        "deleted": version.deleted,
    }


def history(
    project_id: str, file_id: str, *, instance_root_id: str | None = None, cursor: str | None = None
) -> dict[str, Any]:
    """A page of the file's versions, oldest first (or of one instance's versions), and the cursor of the next:
    a page ends at ``PAGE_MAX_BYTES``, since versions of up to 350 KB each add up past what Lambda may return."""
    if file_repo.get_file(project_id, file_id) is None:
        raise NotFound(f"file {file_id!r} not found in project {project_id!r}")
    try:
        after = file_repo.decode_history_position(project_id, file_id, instance_root_id, cursor) if cursor else 0
    except InvalidCursor as exc:
        raise BadRequest(str(exc)) from None
    if instance_root_id is None:
        bodies = (_version_body(v) for v in file_repo.iter_annotation_versions(project_id, file_id, after=after))
        page, more = page_bytes.take(bodies)
        position = page[-1]["version"] if page else after
    else:
        file_versions = file_repo.annotation_history(project_id, file_id)
        entries = versions.instance_history(
            [(v.version, v.instance_list, v.deleted) for v in file_versions], instance_root_id
        )
        page, more = page_bytes.take(entries[after:])
        position = after + len(page)
    next_cursor = file_repo.encode_history_position(project_id, file_id, instance_root_id, position) if more else None
    return {"file_id": file_id, "history": page, "cursor": next_cursor}
