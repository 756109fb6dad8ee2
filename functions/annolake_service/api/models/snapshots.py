"""Snapshots: taking one, its description and lineage, its stream pages and the diff of two."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from annolake_service.api.models.paging import NextCursor
from annolake_service.api.models.slices import IsoTimestamp, StreamItem, predictions_run_field
from annolake_service.domain.snapshots import NAME_PATTERN


class SnapshotCreate(BaseModel):
    name: str = Field(
        pattern=NAME_PATTERN,
        description="1-100 letters, digits, '.', '_' or '-', starting with a letter or digit; never reused",
    )
    query: str | None = Field(default=None, description="slice query; none for every ready file of the dataset")


class LabelTally(BaseModel):
    files: int = Field(description="files with at least one instance of the label")
    instances: int


class SnapshotPublic(BaseModel):
    """A snapshot and its lineage record (name, digest, label histogram): what to log with a training run."""

    name: str
    digest: str = Field(
        description="sha256 of the manifest: the same files at the same versions give the same one "
        "(empty until the snapshot is ready)"
    )
    dataset: str
    query: str | None
    schema_version: int = Field(description="the label schema's version when the snapshot was taken")
    count: int = Field(description="files pinned (while pending: files matched when it was taken)")
    label_histogram: dict[str, LabelTally] = Field(description="per label name, over the pinned versions")
    manifest_bytes: int
    created_by: str
    created_at: IsoTimestamp
    status: Literal["pending", "ready", "failed"] = Field(
        description="pending while the snapshot state machine builds a large snapshot's manifest"
    )
    status_reason: str | None = Field(description="why the build failed")
    chunks_total: int = Field(description="chunks of the file list the build reads")
    chunks_done: int = Field(description="chunks read so far")


class SnapshotsPublic(BaseModel):
    snapshots: list[SnapshotPublic]
    cursor: NextCursor = None


class SnapshotPage(SnapshotPublic):
    """A stream page of a snapshot: its files in file id order, each with the pinned annotation version."""

    offset: int = Field(description="index of the first item")
    items: list[StreamItem]
    next_offset: int | None = Field(description="offset of the next page; null on the last")
    cursor: str | None = Field(description="pass as ?cursor= for the next page (instead of offset); null on the last")
    url_expires_in: int = Field(description="seconds the page's presigned URLs live")
    predictions_run: str | None = predictions_run_field()


class LabelDelta(BaseModel):
    added: int = Field(description="instances on files only in b")
    removed: int = Field(description="minus the instances on files only in a")
    changed: int = Field(description="instances in b minus in a, on files in both whose version changed")
    total: int


class SnapshotDiff(BaseModel):
    a: SnapshotPublic
    b: SnapshotPublic
    added: int = Field(description="files in b only")
    removed: int = Field(description="files in a only")
    changed: int = Field(description="files in both whose annotation version or media differ")
    unchanged: int
    added_ids: list[str] = Field(description="the first `limit` added file ids, in file id order")
    removed_ids: list[str]
    changed_ids: list[str]
    label_deltas: dict[str, LabelDelta] = Field(description="per label, instances in b minus instances in a")
    schema_changed: bool


class ExportCreate(BaseModel):
    format: Literal["coco", "yolo", "voc", "sagemaker", "jsonl", "cvat_video", "mot", "packed"] = Field(
        description="cvat_video and mot: the snapshot's videos (a folder each), their tracks on every frame; packed: "
        "tar shards of media and annotations for fast streaming (also POST …/pack)"
    )
    options: dict[str, Any] = Field(
        default_factory=dict,
        description='yolo: {"split": {"train": 0.8, "val": 0.2}, "seed": 0} (files assigned by a hash of their id); '
        "coco, yolo: every_n_frames (a video's every Nth frame; default: its annotated frames); "
        'packed: {"shard_bytes": n}; coco, voc, jsonl: {"references": "s3"} (each image\'s original as its '
        "s3:// URI: coco_url, <path>, media.url; sagemaker always has them; presigned URLs are minted apart, GET "
        "…/exports/{export_id}/references); the others take none",
    )


class PackCreate(BaseModel):
    shard_bytes: int | None = Field(
        default=None, description="largest shard, from 1 MiB to 1 GiB (64 MiB when left out); part of the pack's id"
    )


class ShardPublic(BaseModel):
    name: str = Field(description="as the index (the pack's shards.jsonl) names it")
    url: str = Field(description="presigned GET of the shard (a tar), short-lived")


class ShardsPublic(BaseModel):
    export_id: str
    shards: list[ShardPublic]
    url_expires_in: int
    cursor: NextCursor = None


class ReferencePublic(BaseModel):
    uri: str = Field(description="s3://bucket/key of the original, as the export names it")
    url: str = Field(description="presigned GET of it, short-lived")


class ReferencesPublic(BaseModel):
    export_id: str
    references: list[ReferencePublic] = Field(description="the originals of this range of the snapshot's files")
    url_expires_in: int
    next_offset: int | None = Field(description="where the next range starts; null after the last")


class ExportPublic(BaseModel):
    export_id: str = Field(
        description="derived from the snapshot digest, format and options: the same ask, the same id"
    )
    snapshot: str
    digest: str
    format: str
    options: dict[str, Any]
    status: Literal["queued", "running", "completed", "failed", "cancelled"]
    status_reason: str | None
    pages_total: int = Field(description="pages of up to 500 files the export is rendered in")
    pages_done: int
    file_name: str = Field(description="the output's name: annotations.json, yolo.tar, voc.tar, ...")
    size_bytes: int | None
    sha256: str | None = Field(description="of the output; the same snapshot, format and options give the same")
    created_by: str
    created_at: IsoTimestamp
    finished_at: IsoTimestamp | None
    download_url: str | None = Field(description="presigned GET of the output, once completed; short-lived")


class ExportsPublic(BaseModel):
    exports: list[ExportPublic]
    cursor: NextCursor = None
