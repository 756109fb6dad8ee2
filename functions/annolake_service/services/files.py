"""File use cases: list a dataset page, read one file with short-lived URLs, edit, transfer, delete."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any, Literal

from annolake_service.adapters import storage
from annolake_service.adapters.dynamo import datasets as dataset_repo
from annolake_service.adapters.dynamo import files as file_repo
from annolake_service.adapters.dynamo.cursors import InvalidCursor
from annolake_service.domain.entities import FileRecord
from annolake_service.domain.file_metadata import InvalidMetadata, checked_metadata
from annolake_service.services import models as model_service
from annolake_service.services import page_bytes
from annolake_service.services.projects import get_dataset
from annolake_service.shared.errors import BadRequest, NotFound
from annolake_service.shared.settings import get_settings

MAX_PAGE = 1000


def _url_keys(record: FileRecord) -> list[str]:
    """The objects a ready file's description links to (media, thumbnail, a video's frame timestamps)."""
    if record.status != "ready":
        return []
    timestamps = record.video.timestamps_key if record.video is not None else None
    return [key for key in (record.original_key, record.thumbnail_key, timestamps) if key]


def describe(record: FileRecord, *, with_urls: bool = True, urls: dict[str, str] | None = None) -> dict[str, Any]:
    """The file as the API shows it, with presigned GETs minted for this response (never stored); ``urls``
    holds them already minted by key (``describe_all``)."""
    body = record.model_dump(mode="json", exclude={"original_key", "thumbnail_key"})
    if with_urls and record.status == "ready":
        if urls is None:
            urls = _presigned(_url_keys(record))
        body["media_url"] = urls.get(record.original_key) if record.original_key else None
        body["thumbnail_url"] = urls.get(record.thumbnail_key) if record.thumbnail_key else None
        if record.video is not None and record.video.timestamps_key:
            body["video"]["timestamps_url"] = urls.get(record.video.timestamps_key)
    return body


def describe_all(records: list[FileRecord]) -> list[dict[str, Any]]:
    """A page of files described, their URLs signed in one batch (per URL, botocore resolves the endpoint anew:
    most of a page's time)."""
    urls = _presigned([key for record in records for key in _url_keys(record)])
    return [describe(record, urls=urls) for record in records]


def _presigned(keys: list[str]) -> dict[str, str]:
    settings = get_settings()
    signed = storage.presigned_get_urls(settings.media_bucket, keys, settings.presign_ttl_seconds)
    return dict(zip(keys, signed, strict=True))


def get_file(project_id: str, file_id: str) -> FileRecord:
    return live(project_id, file_id, file_repo.get_file(project_id, file_id))


def get_file_with_instances(project_id: str, file_id: str) -> tuple[FileRecord, list[dict[str, Any]]]:
    """A live file with the instances of its current annotation version (one read when its item carries them)."""
    found = file_repo.get_file_with_instances(project_id, file_id)
    return live(project_id, file_id, found[0] if found else None), found[1] if found else []


def get_file_for_save(
    project_id: str, file_id: str, read: file_repo.ForSave | None = None
) -> tuple[FileRecord, list[dict[str, Any]], dict[str, Any], file_repo.Listing]:
    """``get_file_with_instances``, the project's schema document and where the file is listed, in one read
    (what a save checks, and whose memberships it copies its summary onto); ``read``: as a caller read them."""
    found, (schema, _), listing = read if read is not None else file_repo.get_file_for_save(project_id, file_id)
    record = live(project_id, file_id, found[0] if found else None)
    assert listing is not None  # the file was found
    return record, found[1] if found else [], schema, listing


def live(project_id: str, file_id: str, record: FileRecord | None) -> FileRecord:
    if record is None or record.deleted_at is not None:
        raise NotFound(f"file {file_id!r} not found in project {project_id!r}")
    return record


def list_files(
    project_id: str,
    dataset_name: str,
    *,
    limit: int,
    cursor: str | None,
    status: str | None,
    predictions: str | None = None,
) -> dict[str, Any]:
    """A page of the dataset's files, newest first, with a run's predictions when asked (``attach_predictions``)."""
    if not 1 <= limit <= MAX_PAGE:
        raise BadRequest(f"limit must be between 1 and {MAX_PAGE}")
    dataset = get_dataset(project_id, dataset_name)
    try:
        members, more = dataset_repo.list_dataset_members(
            project_id, dataset.dataset_id, limit=limit, cursor=cursor, status=status
        )
    except InvalidCursor as exc:
        raise BadRequest(str(exc)) from None
    records = file_repo.get_files(project_id, [file_id for file_id, _ in members])
    found = [(records[file_id], sort_key) for file_id, sort_key in members if file_id in records]
    listed = list(zip(describe_all([record for record, _ in found]), [sort_key for _, sort_key in found], strict=True))
    asked = model_service.attach_predictions(project_id, predictions, [body for body, _ in listed], listed_file_id)
    kept = page_bytes.fitting([body for body, _ in listed])
    if kept < len(listed):  # cut at its byte budget: carry on after the last file it holds
        more, last = True, listed[kept - 1][1]
    else:
        last = members[-1][1] if members else ""
    next_cursor = dataset_repo.encode_position(project_id, dataset.dataset_id, last) if more else None
    return {"dataset": dataset.name, "files": [body for body, _ in listed[:kept]], "cursor": next_cursor, **asked}


def listed_file_id(body: dict[str, Any]) -> str | None:
    """A listed file's id (a deleted file's: None)."""
    return None if body.get("deleted_at") else str(body["file_id"])


def count_files(project_id: str, dataset_name: str, status: str | None = None) -> int:
    dataset = get_dataset(project_id, dataset_name)
    return dataset_repo.count_dataset_files(project_id, dataset.dataset_id, status)


def update_metadata(project_id: str, file_id: str, metadata: dict[str, Any]) -> FileRecord:
    try:
        checked_metadata(metadata)
    except InvalidMetadata as exc:
        raise BadRequest(str(exc)) from None
    if not file_repo.update_file_metadata(project_id, file_id, metadata):
        raise NotFound(f"file {file_id!r} not found in project {project_id!r}")
    return get_file(project_id, file_id)


def delete_file(project_id: str, file_id: str) -> None:
    if not file_repo.soft_delete_file(project_id, file_id, datetime.now(UTC)):
        raise NotFound(f"file {file_id!r} not found in project {project_id!r}")


def transfer(
    project_id: str,
    file_ids: list[str],
    *,
    mode: Literal["mirror", "move", "copy"],
    target_dataset: str,
    source_dataset: str | None,
    author: str,
) -> list[str]:
    """mirror: the same file also listed in the target; move: mirror then leave the source;
    copy: a new file sharing the media, with an independent copy of the current annotations."""
    target = get_dataset(project_id, target_dataset)
    source = get_dataset(project_id, source_dataset) if source_dataset else None
    if mode == "move" and source is None:
        raise BadRequest("move needs source_dataset (the dataset the files leave)")
    result = []
    for file_id in file_ids:
        if mode == "copy":
            result.append(_copy(*get_file_with_instances(project_id, file_id), target.dataset_id, author))
            continue
        file_repo.list_in_dataset(get_file(project_id, file_id), target.dataset_id)
        if mode == "move":
            dataset_repo.remove_file(project_id, file_id, source.dataset_id)  # type: ignore[union-attr]
        result.append(file_id)
    return result


def _copy(record: FileRecord, instances: list[dict[str, Any]], dataset_id: str, author: str) -> str:
    copy = record.model_copy(
        update={"file_id": f"c{secrets.token_hex(15)}", "created_at": datetime.now(UTC), "annotation_version": 0}
    )
    file_repo.register_file(copy, dataset_id=dataset_id, instance_list=instances, created_by=author)
    return copy.file_id
