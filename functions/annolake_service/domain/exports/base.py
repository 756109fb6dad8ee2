"""What every export format is given, and how its pages' fragments are put together."""

from __future__ import annotations

import hashlib
import io
import json
import posixpath
import tarfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel

from annolake_service.domain.schema import AttributeGroup

ExportStatus = Literal["queued", "running", "completed", "failed", "cancelled"]


class ExportJob(BaseModel):
    """An export of one snapshot in one format with its options; its id is derived from all three."""

    project_id: str
    export_id: str
    snapshot_name: str
    snapshot_digest: str
    format: str
    options: dict[str, Any] = {}
    status: ExportStatus
    status_reason: str | None = None
    pages_total: int = 0
    size_bytes: int | None = None
    sha256: str | None = None
    attempt: int = 0
    execution_arn: str | None = None
    created_by: str
    created_at: datetime
    finished_at: datetime | None = None


def export_id(project_id: str, digest: str, fmt: str, options: dict[str, Any]) -> str:
    """The same snapshot content, format and options are the same export."""
    canonical = json.dumps([project_id, digest, fmt, options], sort_keys=True, separators=(",", ":"))
    return "ex_" + hashlib.sha256(canonical.encode()).hexdigest()[:29]


@dataclass(frozen=True)
class ExportFile:
    """One pinned file of the snapshot: its facts and the instances of its pinned annotation version."""

    index: int  # position in the snapshot (file id order), from 0
    file_id: str
    name: str
    width: int
    height: int
    content_hash: str
    annotation_version: int
    media_uri: str  # s3://bucket/key of the original
    metadata: dict[str, Any] = field(default_factory=dict)
    mime_type: str = ""
    instances: list[dict[str, Any]] = field(default_factory=list)
    media_type: str = "image"
    frame_count: int | None = None  # a video's (its VideoFacts)
    fps: float | None = None

    @property
    def is_video(self) -> bool:
        return self.media_type == "video" and self.frame_count is not None

    @property
    def image_path(self) -> str:
        """Where the image sits in an export folder, relative to it."""
        return f"images/{self.name}"

    @property
    def stem(self) -> str:
        return posixpath.splitext(self.name)[0]


@dataclass(frozen=True)
class ExportContext:
    """The snapshot-wide facts a page needs: label names in schema order (their ids), the snapshot itself."""

    labels: list[str]
    snapshot_name: str
    snapshot_digest: str
    dataset: str
    created_at: str  # the snapshot's, so the output does not depend on when it was exported
    options: dict[str, Any] = field(default_factory=dict)  # the export's, normalized (part of its id)
    attribute_groups: list[AttributeGroup] = field(default_factory=list)  # the schema's, for formats that declare them

    @property
    def every_n_frames(self) -> int | None:
        """Image formats: a video's every Nth frame (None: its annotated frames)."""
        every: int | None = self.options.get("every_n_frames")
        return every

    @property
    def references(self) -> str | None:
        """``"s3"``: each image's original is named in the output by its ``s3://bucket/key`` URI."""
        references: str | None = self.options.get("references")
        return references

    @property
    def digest(self) -> str:
        """What a page is rendered with, as a name: pages rendered with the same context fit together."""
        facts: list[object] = [self.labels, self.snapshot_name, self.snapshot_digest, self.dataset, self.created_at]
        if self.options:
            facts.append(self.options)
        if self.attribute_groups:
            # a group without a default dumps as it did before defaults were added: earlier pages keep their names
            facts.append([_dumped(g) for g in self.attribute_groups])
        return hashlib.sha256(json.dumps(facts).encode()).hexdigest()[:16]

    def label_index(self, name: str) -> int | None:
        try:
            return self.labels.index(name)
        except ValueError:
            return None


def _dumped(group: AttributeGroup) -> dict[str, Any]:
    return group.model_dump(mode="json", exclude={"default"} if group.default is None else None)


def _no_options(given: dict[str, Any]) -> dict[str, Any]:
    if given:
        raise ValueError(f"this format takes no options; got {sorted(given)}")
    return {}


@dataclass(frozen=True)
class ExportFormat:
    """``render_page(files, context) -> {fragment: bytes}``; the output is, for each fragment in ``fragments``
    order: ``head(fragment)`` (the first only: ``head``), every page's bytes joined by ``joiner``, then the
    fragment's ``between`` text, and after the last ``tail``."""

    name: str
    file_name: str
    content_type: str
    fragments: tuple[str, ...]
    render_page: Callable[[list[ExportFile], ExportContext], dict[str, bytes]]
    head: Callable[[ExportContext], bytes]
    between: Callable[[str, ExportContext], bytes] = lambda fragment, context: b""
    tail: Callable[[ExportContext], bytes] = lambda context: b""
    joiner: bytes = b""
    # the options it takes, checked and with defaults filled in (ValueError naming the problem); none by default
    options: Callable[[dict[str, Any]], dict[str, Any]] = _no_options
    writes_objects: bool = False  # its pages write objects of their own (packed shards), not rendered parts
    # where the output names each image's original with ``references="s3"``; None: it cannot (``no_references``
    # says why and what to do instead); ``always``: it always does (the option changes nothing)
    references_in: str | None = None
    no_references: str = ""

    def normalize(self, given: dict[str, Any]) -> dict[str, Any]:
        """The export's options checked, with defaults filled in (part of its id): ``references`` (every format
        that can name its images' originals), then the format's own; ValueError naming the problem and the fix."""
        rest = dict(given)
        references = rest.pop("references", None)
        if references is None:
            return self.options(rest)
        if references == "presigned":
            raise ValueError(PRESIGNED_NOT_STORED)
        if references != "s3":
            raise ValueError(
                f"references is 's3' (each image's original as its s3:// URI) or left out (none), not {references!r}"
            )
        if self.references_in is None:
            raise ValueError(f"{self.name} cannot take references: {self.no_references}; {TAKE_REFERENCES}")
        own = self.options(rest)
        return own if self.references_in == "always" else {**own, "references": "s3"}

    def holds_references(self, options: dict[str, Any]) -> bool:
        """Whether an export with these (normalized) options names its images' originals by S3 URI."""
        return self.references_in == "always" or (self.references_in is not None and "references" in options)


PRESIGNED_NOT_STORED = (
    "references='presigned' is not an export option: presigned URLs expire, and an export is stored and reused. "
    "Export with references 's3' and have the SDK or CLI rewrite the downloaded export's URIs as presigned URLs "
    "(snapshot.export(..., path=..., references='presigned'), annolake export --references presigned), which it "
    "mints from GET .../exports/{export_id}/references"
)
TAKE_REFERENCES = "the formats that take references are coco (coco_url), voc (<path>), jsonl (media.url) and sagemaker"

FORMATS: dict[str, ExportFormat] = {}


def register(fmt: ExportFormat) -> ExportFormat:
    FORMATS[fmt.name] = fmt
    return fmt


def format_named(name: str) -> ExportFormat:
    """The format of that name; ValueError naming the formats there are."""
    if name not in FORMATS:
        raise ValueError(f"export format {name!r} is not one of {sorted(FORMATS)}")
    return FORMATS[name]


def assemble(
    fmt: ExportFormat, context: ExportContext, pages: int, fragment_of: Callable[[str, int], bytes]
) -> Iterator[bytes]:
    """The output's bytes in order: ``fragment_of(fragment, page)`` reads one page's fragment (held one at a
    time, so memory does not grow with the export)."""
    yield fmt.head(context)
    for fragment in fmt.fragments:
        first = True
        for page in range(pages):
            data = fragment_of(fragment, page)
            if not data:
                continue
            if not first:
                yield fmt.joiner
            first = False
            yield data
        yield fmt.between(fragment, context)
    yield fmt.tail(context)


# --- deterministic tar members (YOLO and VOC are folders: a tar of them) -----------------------------


def tar_members(members: list[tuple[str, bytes]]) -> bytes:
    """Tar headers and data of ``members`` without the end-of-archive blocks (pages are concatenated)."""
    buffer = io.BytesIO()
    archive = tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT)  # noqa: SIM115 - never closed
    for path, data in members:
        info = tarfile.TarInfo(path)
        info.size, info.mtime, info.mode, info.uid, info.gid, info.uname, info.gname = len(data), 0, 0o644, 0, 0, "", ""
        archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


TAR_END = b"\0" * 1024  # two zero blocks end a tar archive


def box_of(instance: dict[str, Any]) -> tuple[float, float, float, float] | None:
    """``(x_min, y_min, x_max, y_max)`` of a box, or of every point of a polygon (all its parts) or keypoints."""
    if instance.get("type") == "box":
        return instance["x_min"], instance["y_min"], instance["x_max"], instance["y_max"]
    points = [*instance.get("points", []), *(p for part in instance.get("parts") or [] for p in part)]
    if instance.get("type") in ("polygon", "keypoints", "line") and points:
        xs, ys = [p["x"] for p in points], [p["y"] for p in points]
        return min(xs), min(ys), max(xs), max(ys)
    return None
