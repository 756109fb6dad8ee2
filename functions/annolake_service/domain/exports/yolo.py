"""Ultralytics YOLO detection: ``data.yaml``, ``labels/<stem>.txt`` for every image (empty when it has no
objects), ``images/<name>`` beside them (the media, fetched by the SDK). Class ids are schema positions.

Boxes only: a polygon (all its parts) or keypoints become their bounding box; crowd regions are boxes too;
tags, attributes, scores and masks are left out. Coordinates are normalized centre boxes with 6 decimals.
A video is its frames (``video_frames``): ``labels/<stem>/<frame:06d>.txt`` per exported frame, the tracks on it
as boxes, beside ``images/<stem>/<frame:06d>.jpg``.
"""

from __future__ import annotations

import yaml

from annolake_service.domain.exports.base import (
    TAR_END,
    ExportContext,
    ExportFile,
    ExportFormat,
    box_of,
    register,
    tar_members,
)
from annolake_service.domain.exports.video_frames import exported_frames, frame_name, frame_shapes


def label_lines(file: ExportFile, context: ExportContext, instances: list[dict] | None = None) -> str:
    """A label file's lines: ``instances`` (default: the file's) as normalized boxes."""
    lines = []
    for instance in file.instances if instances is None else instances:
        label = context.label_index(instance.get("name", ""))
        bounds = box_of(instance)
        if label is None or bounds is None or not (file.width and file.height):
            continue
        x_min, y_min, x_max, y_max = bounds
        cx, cy = (x_min + x_max) / 2 / file.width, (y_min + y_max) / 2 / file.height
        w, h = (x_max - x_min) / file.width, (y_max - y_min) / file.height
        lines.append(f"{label} {cx:.6f} {cy:.6f} {w:.6f} {h:.6f}\n")
    return "".join(lines)


def _members(file: ExportFile, context: ExportContext) -> list[tuple[str, bytes]]:
    if not file.is_video:
        return [(f"labels/{file.stem}.txt", label_lines(file, context).encode())]
    return [
        (f"labels/{frame_name(file, frame)[:-4]}.txt", label_lines(file, context, frame_shapes(file, frame)).encode())
        for frame in exported_frames(file, context.every_n_frames)
    ]


def _page(files: list[ExportFile], context: ExportContext) -> dict[str, bytes]:
    return {"members": tar_members([member for file in files for member in _members(file, context)])}


def data_yaml(context: ExportContext) -> bytes:
    document = {
        "path": ".",
        "train": "images",
        "val": "images",
        "names": dict(enumerate(context.labels)),
    }
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True).encode()


YOLO = register(
    ExportFormat(
        name="yolo",
        file_name="yolo.tar",
        content_type="application/x-tar",
        fragments=("members",),
        render_page=_page,
        head=lambda context: tar_members([("data.yaml", data_yaml(context))]),
        tail=lambda context: TAR_END,
        options=frozenset({"every_n_frames"}),
    )
)
