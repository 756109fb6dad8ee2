"""The ingest use cases run by the ingest state machine's steps.

Step payloads carry S3 keys and small facts, never media bytes (the 256 KiB payload limit).
"""

from __future__ import annotations

import functools
import json
import posixpath
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from annolake_service.adapters import events, storage, workflows
from annolake_service.adapters.dynamo import arrivals as arrival_repo
from annolake_service.adapters.dynamo import datasets as dataset_repo
from annolake_service.adapters.dynamo import files as file_repo
from annolake_service.adapters.dynamo import projects as project_repo
from annolake_service.adapters.dynamo import uploads as upload_repo
from annolake_service.adapters.dynamo.conditions import ConditionFailed, TransactionPut, TransactionUpdate
from annolake_service.domain import media
from annolake_service.domain.annotations import initial_instances, same_instances
from annolake_service.domain.entities import Dataset, FileRecord
from annolake_service.domain.file_metadata import InvalidMetadata, checked_metadata
from annolake_service.domain.instances import InvalidInstances, attribute_values, label_counts, parse_instance_list
from annolake_service.domain.object_keys import ArrivedObject, parse_object_key, sidecar_key_for
from annolake_service.domain.video.visibility import frame_counts
from annolake_service.services import annotations as annotation_service
from annolake_service.services import import_videos, projects
from annolake_service.services import schema as schema_service
from annolake_service.services.steps import caught
from annolake_service.shared.errors import BadRequest, Conflict
from annolake_service.shared.observability import logger
from annolake_service.shared.settings import get_settings

MAX_SIDECAR_BYTES = 5 * 1024 * 1024


class ProjectMissing(Exception):
    """The object names a project that does not exist; nothing can be recorded under it."""


def _ensure_dataset(project_id: str, name: str) -> Dataset:
    """A folder in the drop bucket is a dataset: the first file dropped into it creates it (a dataset that
    exists vouches for its project: projects are never deleted, so only a new one needs the project read)."""
    if (existing := dataset_repo.get_dataset(project_id, name)) is not None:
        return existing
    if project_repo.get_project(project_id) is None:
        raise ProjectMissing(f"project {project_id!r} does not exist; create it first or drop into an existing project")
    return projects.ensure_dataset(project_id, name)


def process_media(bucket: str, key: str) -> dict[str, Any]:
    """Inspect the arrived object and store original + thumbnail under the file's canonical keys."""
    arrived = parse_object_key(key)
    settings = get_settings()
    try:
        head, stored = storage.read_object_unless(
            bucket,
            key,
            max_bytes=media.DEFAULT_MAX_BYTES,
            head_bytes=media.VIDEO_HEAD_BYTES,
            diverted=lambda head: media.sniff_video(head) is not None,
        )
    except storage.ObjectTooLarge as exc:
        raise media.MediaTooLarge(
            f"the file is {exc.size} bytes; the limit is {media.DEFAULT_MAX_BYTES} bytes"
        ) from None
    if stored is None:
        # A video: the state machine routes it to the video step (PyAV in its own layer), which stores it.
        kind = media.sniff_video(head)
        return {"media_type": "video", "mime_type": kind.mime_type if kind else ""}
    facts = media.inspect_image(stored.body)
    file_id = media.file_id_for_content(arrived.project_id, facts.content_hash)
    original = storage.original_key(arrived.project_id, file_id, facts.extension)
    thumbnail = storage.thumbnail_key(arrived.project_id, file_id)
    storage.copy_object(bucket, key, settings.media_bucket, original)
    storage.write_object(settings.media_bucket, thumbnail, facts.thumbnail_jpeg, "image/jpeg")
    return _facts_payload(file_id, facts, original, thumbnail)


def hand_over_video(arrival: dict[str, Any]) -> dict[str, Any]:
    """Start the video ingest machine on an arrived video (its keys only); it registers or quarantines it."""
    payload: dict[str, Any] = {k: arrival[k] for k in ("bucket", "key", "size", "etag", "source") if k in arrival}
    return {"execution_arn": workflows.start_video_ingest(payload)}


def _read_sidecar(
    bucket: str, sidecar_key: str, width: int, height: int, frame_count: int | None = None
) -> tuple[list[dict[str, Any]], dict, bool]:
    """Pre-labels and metadata from a sidecar ``<name>.json``, and whether there was one (none: empty); a
    video's (``frame_count``) are its tracks, frame tags and whole-video tags."""
    raw = storage.read_optional_json_bytes(bucket, sidecar_key, max_bytes=MAX_SIDECAR_BYTES)
    if raw is None:
        return [], {}, False
    try:
        packet = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise InvalidInstances(f"sidecar {sidecar_key} is not valid JSON: {exc}") from None
    if isinstance(packet, list):
        packet = {"instance_list": packet}
    if not isinstance(packet, dict):
        raise InvalidInstances(f"sidecar {sidecar_key} must be an object with an instance_list")
    instances = parse_instance_list(
        packet.get("instance_list", []), width=width, height=height, frame_count=frame_count
    )
    metadata = checked_metadata(packet.get("metadata") or {}, source=f"the metadata of sidecar {sidecar_key}")
    return [i.model_dump(exclude_none=True) for i in instances], metadata, True


@dataclass
class Registrations:
    """What the registrations of one step share: each dataset read once, the ``file_ingested`` events published
    together and the arrivals' drop copies removed together, once every file of the step is recorded."""

    datasets: dict[tuple[str, str], Dataset] = field(default_factory=dict)
    events: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    removals: dict[str, list[str]] = field(default_factory=dict)  # bucket -> keys
    arrivals: dict[tuple[str, str, str], arrival_repo.ArrivalSeen] = field(default_factory=dict)  # read together

    def read_arrivals(self, keys: list[str]) -> None:
        """Read the arrival items of the images at ``keys`` together, for each registration to record its own
        within its transaction (``arrival_repo.recorded_alongside``)."""
        stems: dict[tuple[str, str], list[str]] = {}
        for key in keys:
            arrived = parse_object_key(key)
            stems.setdefault((arrived.project_id, arrived.dataset_name), []).append(_stem(arrived))
        for (project_id, dataset_name), folder in stems.items():
            for stem, seen in arrival_repo.read_arrivals(project_id, dataset_name, folder).items():
                self.arrivals[(project_id, dataset_name, stem)] = seen

    def dataset(self, project_id: str, name: str) -> Dataset:
        if (found := self.datasets.get((project_id, name))) is None:
            found = self.datasets[(project_id, name)] = _ensure_dataset(project_id, name)
        return found

    def remove(self, bucket: str, *keys: str) -> None:
        self.removals.setdefault(bucket, []).extend(keys)

    def finish(self) -> None:
        """Announce, then remove: a step retried after a failure here finds its files recorded (no-ops) and
        announces them again (their consumers are idempotent)."""
        events.publish_all(self.events, required=True)
        for bucket, keys in self.removals.items():
            storage.delete_objects(bucket, keys)
        self.events.clear()
        self.removals.clear()


def register_files(arrivals: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Register the processed images of a batch of arrivals (``ProcessArrivals``'s answers: each arrival with
    its ``media``, or already handed over or quarantined, which are left alone); an arrival that cannot be
    registered is quarantined with why, as a failed step's Catch would. Answers one result per arrival."""
    batch = Registrations()
    batch.read_arrivals([arrival["key"] for arrival in arrivals if _registrable(arrival)])
    results: list[dict[str, Any]] = []
    for arrival in arrivals:
        if not _registrable(arrival):
            results.append({})
            continue
        bucket, key = arrival["bucket"], arrival["key"]
        try:
            file = register_file(bucket, key, arrival["media"], batch=batch, etag=arrival.get("etag"))
            results.append({"file": file})
        except Exception as error:  # noqa: BLE001 - one arrival's refusal; a failure that may pass is raised
            results.append({"quarantine": quarantine(bucket, key, caught(error))})
    batch.finish()
    return results


def _registrable(arrival: dict[str, Any]) -> bool:
    """An arrival the Map processed as an image: neither quarantined nor handed to the video ingest."""
    processed = arrival.get("media")
    return processed is not None and processed.get("media_type", "image") == "image" and "quarantine" not in arrival


def register_file(
    bucket: str, key: str, facts: dict[str, Any], *, batch: Registrations | None = None, etag: str | None = None
) -> dict[str, Any]:
    """Record the ready file (conditional write on its natural key) with its sidecar's pre-labels; with
    ``batch``, its dataset read, event and removal are shared with the batch's other files (``finish``).
    ``etag``: the S3 ETag of the arrived object, kept with its stem's arrival (``attach_late_sidecar``)."""
    own = batch is None
    batch = batch if batch is not None else Registrations()
    arrived = parse_object_key(key)
    dataset = batch.dataset(arrived.project_id, arrived.dataset_name)
    sidecar = sidecar_key_for(key)
    frame_count = (facts.get("video") or {}).get("frame_count")
    stem = _stem(arrived)
    seen = batch.arrivals.pop((arrived.project_id, dataset.name, stem), None)
    if seen is None or seen.sidecar_waiting:  # a sidecar's event marked the stem, or its arrival was not read
        instance_list, metadata, had_sidecar = _read_sidecar(
            bucket, sidecar, facts["width"], facts["height"], frame_count
        )
    else:  # no sidecar's event came for this stem: one landing from now on is attached by its own event
        instance_list, metadata, had_sidecar = [], {}, False
    labels = first_labels(
        instance_list,
        metadata,
        width=facts["width"],
        height=facts["height"],
        author=f"ingest:{arrived.source}",
        source=f"sidecar {posixpath.basename(sidecar)}",
        frame_count=frame_count,
    )
    if label_names := [i["name"] for i in instance_list if i["type"] != "global"]:
        schema_service.add_labels(arrived.project_id, label_names)
    name = arrived.original_name
    refused_id = media.file_id_for_rejected(arrived.project_id, arrived.dataset_name, arrived.relative_path)
    record = functools.partial(
        record_ready_file, arrived.project_id, dataset.dataset_id, name=name, facts=facts, labels=labels
    )
    arrival: arrival_repo.Arrival | None = None
    if seen is not None:
        alongside, replaced = arrival_repo.recorded_alongside(
            arrived.project_id, dataset.name, stem, facts["file_id"], refused_id, seen, etag
        )
        try:
            created = record(announce=batch.events, alongside=alongside)
            arrival = replaced if created else None  # a file known already was not written: nor was its arrival
        except ConditionFailed:  # a sidecar's mark or a refusal came since the arrival was read: nothing written
            created = record(announce=batch.events)
    else:
        created = record(announce=batch.events)
    _finish_upload(arrived, status="ready", file_id=facts["file_id"])
    if arrival is None:
        arrival = arrival_repo.record_arrival(
            arrived.project_id, dataset.name, stem, facts["file_id"], refused_id, etag
        )
    if arrival.was_refused:
        # This path was quarantined before (a damaged copy, or an outage that outlasted the retries) and is
        # now ingested: the refusal is history. Its record leaves the listings; its original stays in quarantine/.
        file_repo.soft_delete_file(arrived.project_id, refused_id, datetime.now(UTC))
    if not had_sidecar and arrival.sidecar_waiting:
        # A sidecar put just after its image (`aws s3 cp --recursive` sends img.jpg, then img.json) can land
        # after the read above while its own event ran before the arrival was recorded, and so found no image
        # to attach to; its event left a mark, which the arrival's write answered. Look once more: one of the
        # two attaches it (a sidecar event after the arrival's write finds the file itself).
        _apply_sidecar(bucket, sidecar, arrived, facts["file_id"], facts["width"], facts["height"], frame_count)
    if had_sidecar and not created:
        # The content was known already, so neither the file nor the sidecar's labels were written with it:
        # they go to the known file as a late sidecar's would (version 1, already there, or kept aside with why).
        _apply_sidecar(bucket, sidecar, arrived, facts["file_id"], facts["width"], facts["height"], frame_count)
        had_sidecar = False  # settled there; not removed with the batch
    # The media now lives at its canonical key: the drop/upload copy and the sidecar that was applied go. A
    # sidecar not there when the file was registered is left alone: its own event attaches it if it comes.
    batch.remove(bucket, key, *([sidecar] if had_sidecar and sidecar != key else []))
    if own:
        batch.finish()
    logger.info("file registered", extra={"file_id": facts["file_id"], "new": created, "key": key})
    return {"file_id": facts["file_id"], "dataset_id": dataset.dataset_id, "created": created}


def store_media(project_id: str, body: bytes, facts: media.MediaFacts | None = None) -> dict[str, Any]:
    """Write original + thumbnail under the file's canonical keys (imports, URLs); ``facts``: the bytes'
    inspection when the caller already made it (to check pre-labels against the image before storing)."""
    facts = facts or media.inspect_image(body)
    file_id = media.file_id_for_content(project_id, facts.content_hash)
    original = storage.original_key(project_id, file_id, facts.extension)
    thumbnail = storage.thumbnail_key(project_id, file_id)
    media_bucket = get_settings().media_bucket
    storage.write_object(media_bucket, original, body, facts.mime_type)
    storage.write_object(media_bucket, thumbnail, facts.thumbnail_jpeg, "image/jpeg")
    return _facts_payload(file_id, facts, original, thumbnail)


def _facts_payload(file_id: str, facts: media.MediaFacts, original: str, thumbnail: str) -> dict[str, Any]:
    return {
        "file_id": file_id,
        "media_type": facts.media_type,
        "mime_type": facts.mime_type,
        "width": facts.width,
        "height": facts.height,
        "size_bytes": facts.size_bytes,
        "content_hash": facts.content_hash,
        "original_key": original,
        "thumbnail_key": thumbnail,
    }


@dataclass(frozen=True)
class FirstLabels:
    """A new file's version-1 pre-labels and metadata, checked before any of its media is stored."""

    instance_list: list[dict[str, Any]]  # with version bookkeeping, as stored
    label_counts: dict[str, int]
    attribute_values: dict[str, list[Any]]
    metadata: dict[str, Any]
    author: str
    created_at: datetime
    frame_counts: dict[str, int]  # a video's frames per label (empty for an image)


def first_labels(
    instance_list: list[dict[str, Any]],
    metadata: Any,
    *,
    width: int,
    height: int,
    author: str,
    source: str,
    frame_count: int | None = None,
) -> FirstLabels:
    """Validate pre-labels against the image (a video's frames, given ``frame_count``) and metadata as stored;
    raises InvalidInstances (incl. too large) or InvalidMetadata, whose messages name ``source``'s problem."""
    parsed = parse_instance_list(instance_list, width=width, height=height, frame_count=frame_count)
    checked = checked_metadata(metadata, source=f"the metadata of {source}")
    now = datetime.now(UTC)
    return FirstLabels(
        instance_list=initial_instances([i.model_dump(exclude_none=True) for i in parsed], author=author, now=now),
        label_counts=label_counts(parsed),
        attribute_values=attribute_values(parsed),
        metadata=checked,
        author=author,
        created_at=now,
        frame_counts={} if frame_count is None else frame_counts(parsed, frame_count),
    )


def _ready_record(project_id: str, *, name: str, facts: dict[str, Any], labels: FirstLabels) -> FileRecord:
    return FileRecord(
        project_id=project_id,
        file_id=facts["file_id"],
        original_name=name,
        media_type=facts.get("media_type", "image"),
        mime_type=facts["mime_type"],
        status="ready",
        width=facts["width"],
        height=facts["height"],
        size_bytes=facts["size_bytes"],
        content_hash=facts["content_hash"],
        original_key=facts["original_key"],
        thumbnail_key=facts["thumbnail_key"],
        video=facts.get("video"),
        metadata=labels.metadata,
        label_counts=labels.label_counts,
        frame_counts=labels.frame_counts,
        attribute_values=labels.attribute_values,
        created_at=labels.created_at,
    )


def record_ready_file(
    project_id: str,
    dataset_id: str,
    *,
    name: str,
    facts: dict[str, Any],
    labels: FirstLabels,
    announce: list[tuple[str, str, dict[str, Any]]] | None = None,
    alongside: TransactionUpdate | TransactionPut | None = None,
) -> bool:
    """Register a stored file with version 1 of its pre-labels; False if it already existed. Its
    ``file_ingested`` event is published, or added to ``announce`` for the caller to publish. ``alongside``:
    a conditional update written with a new file (``file_repo.register_file``)."""
    record = _ready_record(project_id, name=name, facts=facts, labels=labels)
    created = file_repo.register_file(
        record,
        dataset_id=dataset_id,
        instance_list=labels.instance_list,
        created_by=labels.author,
        alongside=alongside,
    )
    # Also when the content was known: it may have just joined this dataset. Consumers are idempotent.
    detail = {"dataset_id": dataset_id, "file_id": record.file_id, "name": name}
    if announce is None:
        events.publish("file_ingested", project_id, detail, required=True)
    else:
        announce.append(("file_ingested", project_id, detail))
    return created


def record_new_files(project_id: str, dataset_id: str, files: list[dict[str, Any]], *, author: str) -> None:
    """Register many stored files known to be new in one batch (seeding, benchmarks): see ``file_repo.put_new_files``.

    Each of ``files`` has ``name``, ``facts`` (as ``process_media`` returns), ``instance_list``, ``metadata``.
    """
    entries = []
    for file in files:
        facts = file["facts"]
        labels = first_labels(
            file["instance_list"],
            file.get("metadata", {}),
            width=facts["width"],
            height=facts["height"],
            author=author,
            source=file["name"],
        )
        record = _ready_record(project_id, name=file["name"], facts=facts, labels=labels)
        entries.append((record, dataset_id, labels.instance_list, author))
    file_repo.put_new_files(entries)


def attach_late_sidecar(bucket: str, key: str) -> str | None:
    """A sidecar that arrives after its image: its instances become the file's first annotation version.

    Returns the file id it was attached to (or that held it already), or None: no image of its stem is ready
    yet, or a new one waits in the drop folder (the sidecar waits for it: the stem is marked, so the image's
    ingest reads it, see ``register_file``), or the stem's file has other annotations (``_beside_annotations``).
    """
    arrived = parse_object_key(key)
    stem_file = arrival_repo.sidecar_arrived(arrived.project_id, arrived.dataset_name, _stem(arrived))
    if stem_file is None:
        return None
    if _new_image_waiting(bucket, key, stem_file.etag):
        logger.info("sidecar left for its image", extra={"key": key, "file_id": stem_file.file_id})
        return None
    file_id = stem_file.file_id
    record = file_repo.get_file(arrived.project_id, file_id)
    if record is None or record.status != "ready":
        return None  # removed since, or refused (as arrivals recorded before refusals were kept apart say)
    frame_count = record.video.frame_count if record.video is not None else None
    return _apply_sidecar(bucket, key, arrived, file_id, record.width or 0, record.height or 0, frame_count)


def _apply_sidecar(
    bucket: str,
    key: str,
    arrived: ArrivedObject,
    file_id: str,
    width: int,
    height: int,
    frame_count: int | None = None,
) -> str | None:
    """Save a sidecar read after its file was registered as version 1, merge its metadata, remove it.

    Both the sidecar's own event and its image's ingest may get here for one sidecar: the save expects
    version 0, so only one of them applies it. A file with annotations already: ``_beside_annotations``."""
    try:
        instance_list, metadata, found = _read_sidecar(bucket, key, width, height, frame_count)
        if not found:
            return None  # none, or the other side applied and removed it already
        record, current_instances = file_repo.get_file_with_instances(arrived.project_id, file_id) or (None, [])
        if record is not None and record.annotation_version:
            return _beside_annotations(bucket, key, arrived, record, current_instances, instance_list, metadata)
        current = record.metadata if record is not None else {}
        merged = _merged_metadata(metadata, current, key)
        annotation_service.save_annotations(
            arrived.project_id,
            file_id,
            expected_version=0,
            instance_list=instance_list,
            author=f"ingest:{arrived.source}",
            source="import",
            create_labels=True,
        )
    except Conflict:  # annotated in the meantime (by a person, or by the other side with this very sidecar)
        record, current_instances = file_repo.get_file_with_instances(arrived.project_id, file_id) or (None, [])
        if record is None or record.status != "ready" or not record.annotation_version:
            return None  # removed or refused since: the sidecar stays where it is
        return _beside_annotations(bucket, key, arrived, record, current_instances, instance_list, metadata)
    except (InvalidInstances, InvalidMetadata, BadRequest) as exc:
        _refuse_late_sidecar(bucket, key, arrived, file_id, str(exc))
        return None
    if merged != current:
        file_repo.update_file_metadata(arrived.project_id, file_id, merged)  # the file's own keys win
    storage.delete_object(bucket, key)
    return file_id


def _merged_metadata(metadata: dict[str, Any], current: dict[str, Any], key: str) -> dict[str, Any]:
    sidecar = posixpath.basename(key)
    return checked_metadata({**metadata, **current}, source=f"the file's metadata with {sidecar}'s")


def _beside_annotations(
    bucket: str,
    key: str,
    arrived: ArrivedObject,
    record: FileRecord,
    current_instances: list[dict[str, Any]],
    instance_list: list[dict[str, Any]],
    metadata: dict[str, Any],
) -> str | None:
    """A sidecar whose file has annotations already: a person's work is never replaced by a pre-label, and a
    sidecar is never dropped unread. It is removed when the file holds its instances already (an event
    delivered twice, the same pre-labels dropped again), else kept under quarantine/ with the reason on the file."""
    if same_instances(current_instances, instance_list):
        merged = _merged_metadata(metadata, record.metadata, key)
        if merged != record.metadata:
            file_repo.update_file_metadata(arrived.project_id, record.file_id, merged)
        storage.delete_object(bucket, key)
        return record.file_id
    problem = (
        f"the file has annotations already (version {record.annotation_version}), which a sidecar never replaces; "
        f"to replace them, save its instances with expected version {record.annotation_version}"
    )
    _refuse_late_sidecar(bucket, key, arrived, record.file_id, problem)
    return None


def _new_image_waiting(bucket: str, sidecar_key: str, etag: str | None) -> bool:
    """Whether an image of the sidecar's stem (``a.jpg`` for ``a.json``) waits in the drop folder other than the
    one its stem's file came from (S3 ETag ``etag``, None when not recorded): the sidecar is that image's."""
    stem = posixpath.splitext(sidecar_key)[0]
    return any(
        posixpath.splitext(other)[0] == stem and other != sidecar_key and (etag is None or other_etag != etag)
        for other, other_etag in storage.list_etags(bucket, stem + ".").items()
    )


def _refuse_late_sidecar(bucket: str, key: str, arrived: ArrivedObject, file_id: str, problem: str) -> None:
    """A sidecar that reached its file after the file was ready, and cannot be attached: the file stays ready,
    the sidecar is kept under quarantine/ and the file's ``status_reason`` says why (the API and SDK show it).
    ``arrived``: the sidecar's image or the sidecar itself (the kept copy is named after the sidecar)."""
    target = storage.quarantine_key(arrived.project_id, arrived.dataset_name, sidecar_key_for(arrived.relative_path))
    try:
        storage.copy_object(bucket, key, get_settings().media_bucket, target)
    except storage.ObjectMissing:
        return  # handled by the other event that read it
    reason = f"sidecar {posixpath.basename(key)} was not attached: {problem}; it is kept at {target}"
    file_repo.set_file_status_reason(arrived.project_id, file_id, reason)
    storage.delete_object(bucket, key)
    logger.warning("late sidecar refused", extra={"key": key, "file_id": file_id, "reason": problem})


def _stem(arrived: ArrivedObject) -> str:
    """The path without its extension: what an image and its sidecar ``<name>.json`` share."""
    return posixpath.splitext(arrived.relative_path)[0]


def _finish_upload(arrived: ArrivedObject, *, status: str, file_id: str, reason: str | None = None) -> None:
    """Record what the upload became; a video an import handed over settles the import's item with it."""
    if arrived.upload_id:
        upload = upload_repo.finish_upload(
            arrived.project_id, arrived.upload_id, status=status, file_id=file_id, reason=reason
        )
        if upload is not None:
            import_videos.settle_upload(upload)


def quarantine_unregistered(arrivals: list[dict[str, Any]], error: dict[str, Any]) -> list[dict[str, Any]]:
    """The batch's registration failed as a whole (out of retries): quarantine each processed image whose
    arrival is still waiting; one whose arrival is gone was registered before the failure."""
    return [
        quarantine(arrival["bucket"], arrival["key"], error, if_present=True)
        for arrival in arrivals
        if _registrable(arrival)
    ]


def quarantine(bucket: str, key: str, error: dict[str, Any], *, if_present: bool = False) -> dict[str, Any]:
    """Keep a rejected original under the quarantine prefix and record why, on the file; ``if_present``: not
    when the arrival is gone (handled already)."""
    reason = reason_from_error(error)
    if error.get("Error") == "ObjectMissing":
        # A redelivered event whose object was already ingested (and moved) or deleted: nothing to keep.
        logger.info("arrival already handled", extra={"key": key, "reason": reason})
        return {"skipped": reason}
    arrived = parse_object_key(key)
    settings = get_settings()
    quarantine_key = storage.quarantine_key(arrived.project_id, arrived.dataset_name, arrived.relative_path)
    target: str | None = quarantine_key
    try:
        storage.copy_object(bucket, key, settings.media_bucket, quarantine_key)
    except storage.ObjectMissing:
        if if_present:
            return {"skipped": "the arrival is gone: it was handled before"}
        target = None  # a redelivered event whose object was already moved
    dataset = _ensure_dataset(arrived.project_id, arrived.dataset_name)
    record = FileRecord(
        project_id=arrived.project_id,
        file_id=media.file_id_for_rejected(arrived.project_id, arrived.dataset_name, arrived.relative_path),
        original_name=arrived.original_name,
        status="quarantined",
        status_reason=reason,
        original_key=target,
        created_at=datetime.now(UTC),
    )
    file_repo.record_quarantine(record, dataset_id=dataset.dataset_id)
    arrival_repo.record_refused_arrival(arrived.project_id, dataset.name, _stem(arrived), record.file_id)
    _finish_upload(arrived, status="quarantined", file_id=record.file_id, reason=reason)
    if target:
        storage.delete_object(bucket, key)
    logger.warning("file quarantined", extra={"key": key, "reason": reason})
    return {"file_id": record.file_id, "reason": reason}


def reason_from_error(error: dict[str, Any]) -> str:
    """Step Functions hands us ``{"Error": name, "Cause": json of the Lambda error}``."""
    cause = error.get("Cause", "")
    try:
        message = json.loads(cause).get("errorMessage", cause)
    except (json.JSONDecodeError, AttributeError):
        message = cause
    name = error.get("Error", "Error")
    return f"{name}: {message}" if message else name
