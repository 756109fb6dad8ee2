"""COCO instances JSON: category ids from 1 in schema order, ``file_name`` the file's name, sizes as shown.

An object is one annotation: a box; a polygon with all its parts as one ``segmentation`` (bbox derived); a crowd
box with its RLE mask (``iscrowd: 1``); keypoints. Tags, file-level attributes, lines, points and ellipses have
no COCO form and are left out. Image ids are positions in the snapshot from 1; annotation ids
``image_id * 100000 + n``. A video is its frames (``video_frames``): one image per exported frame, named
``<stem>/<frame:06d>.jpg``, with ``annolake_file_id`` and ``annolake_frame``, holding the tracks on it.
With ``references="s3"`` each image's ``coco_url`` is its original's S3 URI (a frame has no object of its own).
"""

from __future__ import annotations

import json
from typing import Any

from annolake_service.domain import rle
from annolake_service.domain.exports.base import ExportContext, ExportFile, ExportFormat, box_of, register
from annolake_service.domain.exports.video_frames import (
    FRAME_IMAGE_IDS,
    exported_frames,
    frame_name,
    frame_shapes,
    frames_only,
)

ANNOTATIONS_PER_IMAGE = 100_000


def _json(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def _flat(points: list[dict[str, Any]]) -> list[float]:
    return [coordinate for p in points for coordinate in (p["x"], p["y"])]


def annotation(file: ExportFile, instance: dict[str, Any], image_id: int, n: int, category: int) -> dict | None:
    kind = instance.get("type")
    bounds = box_of(instance)
    if bounds is None or kind not in ("box", "polygon", "keypoints"):
        return None
    x_min, y_min, x_max, y_max = bounds
    body: dict[str, Any] = {
        "id": image_id * ANNOTATIONS_PER_IMAGE + n,
        "image_id": image_id,
        "category_id": category,
        "bbox": [x_min, y_min, x_max - x_min, y_max - y_min],
        "iscrowd": 1 if instance.get("iscrowd") else 0,
        "segmentation": [],
        "area": (x_max - x_min) * (y_max - y_min),
    }
    if kind == "polygon":
        rings = [_flat(instance["points"]), *(_flat(part) for part in instance.get("parts") or [])]
        body["segmentation"] = rings
        body["area"] = rle.polygon_area(rings, file.height, file.width)
    elif kind == "box" and isinstance(instance.get("mask"), dict):
        body["segmentation"] = {"size": instance["mask"]["size"], "counts": instance["mask"]["counts"]}
        body["area"] = rle.area(instance["mask"])
    elif kind == "keypoints":
        body["keypoints"] = [v for p in instance["points"] for v in (p["x"], p["y"], 2)]
        body["num_keypoints"] = len(instance["points"])
    if instance.get("attributes"):
        body["attributes"] = instance["attributes"]
    if instance.get("score") is not None:
        body["score"] = instance["score"]
    return body


def _image(file: ExportFile, image_id: int, name: str, instances: list[dict], context: ExportContext) -> tuple:
    image = {"id": image_id, "file_name": name, "width": file.width, "height": file.height}
    if context.references and not file.is_video:  # a video's frames have no object of their own
        image["coco_url"] = file.media_uri
    image["annolake_file_id"] = file.file_id
    annotations, n = [], 0
    for instance in instances:
        label = context.label_index(instance.get("name", ""))
        if label is None:
            continue
        n += 1
        found = annotation(file, instance, image_id, n, label + 1)
        if found is not None:
            annotations.append(found)
    return image, annotations


def _page(files: list[ExportFile], context: ExportContext) -> dict[str, bytes]:
    images, annotations = [], []
    for file in files:
        if file.is_video:
            for frame in exported_frames(file, context.every_n_frames):
                image_id = (file.index + 1) * FRAME_IMAGE_IDS + frame
                shapes = frame_shapes(file, frame)
                image, found = _image(file, image_id, frame_name(file, frame), shapes, context)
                images.append({**image, "annolake_frame": frame})
                annotations += found
            continue
        image, found = _image(file, file.index + 1, file.name, file.instances, context)
        images.append(image)
        annotations += found
    return {
        "images": b",".join(_json(i) for i in images),
        "annotations": b",".join(_json(a) for a in annotations),
    }


def _head(context: ExportContext) -> bytes:
    info = {
        "description": f"Annolake snapshot {context.snapshot_name} of {context.dataset}",
        "version": context.snapshot_digest,
        "date_created": context.created_at,
    }
    categories = [{"id": n + 1, "name": name, "supercategory": ""} for n, name in enumerate(context.labels)]
    return b'{"info":' + _json(info) + b',"licenses":[],"categories":' + _json(categories) + b',"images":['


def _between(fragment: str, context: ExportContext) -> bytes:
    return b'],"annotations":[' if fragment == "images" else b"]}\n"


COCO = register(
    ExportFormat(
        name="coco",
        file_name="annotations.json",
        content_type="application/json",
        fragments=("images", "annotations"),
        render_page=_page,
        head=_head,
        between=_between,
        joiner=b",",
        options=frames_only,
        references_in="images[].coco_url",
    )
)
