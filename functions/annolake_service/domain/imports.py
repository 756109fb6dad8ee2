"""Bulk import formats turned into import items: COCO JSON, YOLO folders, JSONL of packets.

Pure parsing. An item names its media (a path under the import's media prefix, or a URL) and its
instances in the packet shape. YOLO boxes are normalized to the image size, which is only known
once the image is read, so YOLO items carry ``yolo_boxes`` that ``resolve_instances`` converts.
"""

from __future__ import annotations

import json
import posixpath
from dataclasses import asdict, dataclass, field
from typing import Any

import yaml

from annolake_service.domain import rle

FORMATS = ("coco", "yolo", "jsonl")
MEDIA_TYPES = ("image", "video")  # of a JSONL packet's media
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff")


class ImportFormatError(ValueError):
    """The manifest cannot be read as the declared format; the message says where and why."""


@dataclass
class ImportItem:
    index: int
    name: str
    media_path: str | None = None  # relative to the import's media prefix
    media_url: str | None = None
    instances: list[dict[str, Any]] = field(default_factory=list)
    yolo_boxes: list[tuple[str, float, float, float, float]] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)
    problem: str | None = None  # known up front (e.g. an unsupported mask encoding)
    media_type: str | None = None  # what the manifest declares ("image", "video"); None: told by the bytes

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ImportItem:
        data = dict(data)
        data["yolo_boxes"] = [tuple(b) for b in data.get("yolo_boxes", [])]
        return cls(**data)


@dataclass
class ParsedImport:
    items: list[ImportItem]
    label_names: list[str]


# --- COCO -------------------------------------------------------------------------------------


def parse_coco(text: str) -> ParsedImport:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ImportFormatError(f"the COCO file is not JSON: {exc}") from None
    if not isinstance(document, dict) or not isinstance(document.get("images"), list):
        raise ImportFormatError("a COCO file is an object with an 'images' list (and 'annotations', 'categories')")
    categories = {c["id"]: c["name"] for c in document.get("categories", []) if "id" in c and "name" in c}
    items: dict[Any, ImportItem] = {}
    for index, image in enumerate(document["images"]):
        if "id" not in image or not (image.get("file_name") or image.get("coco_url") or image.get("url")):
            raise ImportFormatError(f"images[{index}] needs an 'id' and a 'file_name' (or 'coco_url')")
        file_name = image.get("file_name") or posixpath.basename(image.get("coco_url") or image["url"])
        items[image["id"]] = ImportItem(
            index=index,
            name=posixpath.basename(file_name),
            media_path=file_name if image.get("file_name") else None,
            media_url=image.get("coco_url") or image.get("url") or image.get("flickr_url"),
            metadata={"coco_image_id": image["id"]},
        )
    for index, annotation in enumerate(document.get("annotations", [])):
        item = items.get(annotation.get("image_id"))
        if item is None:
            raise ImportFormatError(
                f"annotations[{index}] refers to image_id {annotation.get('image_id')!r}, which is not in 'images'"
            )
        label = categories.get(annotation.get("category_id"))
        if label is None:
            raise ImportFormatError(
                f"annotations[{index}] has category_id {annotation.get('category_id')!r}, which is not in 'categories'"
            )
        instance = _coco_instance(annotation, label)
        if instance is not None:
            item.instances.append(instance)
    return ParsedImport(items=list(items.values()), label_names=sorted(set(categories.values())))


def _coco_instance(annotation: dict[str, Any], label: str) -> dict[str, Any] | None:
    """One COCO object as one instance: its polygon (every part of it), else its mask as a crowd box, else its box.

    The box of a polygon is derived from its points, so it is not kept as a second instance. A mask that cannot
    be read leaves the object's box (flagged ``iscrowd``) rather than failing the image.
    """
    segmentation = annotation.get("segmentation")
    crowd = bool(annotation.get("iscrowd"))
    if isinstance(segmentation, list) and segmentation and not crowd:
        rings = [
            [{"x": float(ring[i]), "y": float(ring[i + 1])} for i in range(0, len(ring) - 1, 2)]
            for ring in segmentation
            if isinstance(ring, list) and len(ring) >= 6
        ]
        if rings:
            polygon: dict[str, Any] = {"type": "polygon", "name": label, "points": rings[0]}
            if len(rings) > 1:
                polygon["parts"] = rings[1:]
            return polygon
    box = _coco_box(annotation.get("bbox"), label)
    if isinstance(segmentation, dict):
        try:
            mask = rle.compressed(segmentation)
        except rle.InvalidMask:
            mask = None
        if mask is not None:
            x_min, y_min, x_max, y_max = rle.bbox(mask)
            box = {"type": "box", "name": label, "x_min": x_min, "y_min": y_min, "x_max": x_max, "y_max": y_max}
            box["mask"] = mask
        if box is not None:
            box["iscrowd"] = True
    elif box is not None and crowd:
        box["iscrowd"] = True
    return box


def _coco_box(bbox: Any, label: str) -> dict[str, Any] | None:
    if not (isinstance(bbox, list) and len(bbox) == 4):
        return None
    x, y, w, h = (float(v) for v in bbox)
    return {"type": "box", "name": label, "x_min": x, "y_min": y, "x_max": x + w, "y_max": y + h}


# --- YOLO -------------------------------------------------------------------------------------


def parse_yolo_names(text: str) -> list[str]:
    """Class names from a data.yaml (``names:`` list or index map) or a classes.txt / obj.names."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ImportFormatError(f"the YOLO names file is not YAML or text: {exc}") from None
    if isinstance(document, dict) and "names" in document:
        names = document["names"]
        if isinstance(names, dict):
            return [str(names[k]) for k in sorted(names, key=int)]
        return [str(n) for n in names]
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        raise ImportFormatError("the YOLO names file lists no classes")
    return lines


def parse_yolo(names_text: str, files: list[str], read_label: Any) -> ParsedImport:
    """Pair ``images/…/x.jpg`` with ``labels/…/x.txt``; ``read_label(path) -> str`` reads one label file."""
    names = parse_yolo_names(names_text)
    labels = {posixpath.splitext(_after(p, "labels/"))[0]: p for p in files if p.endswith(".txt") and "labels/" in p}
    images = sorted(p for p in files if p.lower().endswith(IMAGE_SUFFIXES))
    items = []
    for index, image in enumerate(images):
        item = ImportItem(index=index, name=posixpath.basename(image), media_path=image)
        label_path = labels.get(posixpath.splitext(_after(image, "images/"))[0])
        if label_path:
            for line_no, line in enumerate(read_label(label_path).splitlines(), start=1):
                parts = line.split()
                if not parts:
                    continue
                try:
                    cls, cx, cy, w, h = int(parts[0]), *(float(v) for v in parts[1:5])
                    item.yolo_boxes.append((names[cls], cx, cy, w, h))
                except (ValueError, IndexError):
                    item.problem = f"{label_path} line {line_no} is not '<class> <cx> <cy> <w> <h>' with a known class"
                    break
        items.append(item)
    if not items:
        raise ImportFormatError("no images found: a YOLO folder has images/ (and labels/ with one .txt per image)")
    return ParsedImport(items=items, label_names=names)


def _after(path: str, marker: str) -> str:
    return path.split(marker, 1)[1] if marker in path else posixpath.basename(path)


def resolve_instances(item: ImportItem, width: int, height: int) -> list[dict[str, Any]]:
    """The item's instances in pixels, clipped to the image (YOLO's normalized centre boxes converted; a COCO
    box's edge a rounding error outside the image moved onto it). A mask of another size than the image is
    left out; its box stays."""
    instances = [_fitted(instance, width, height) for instance in item.instances]
    for label, cx, cy, w, h in item.yolo_boxes:
        x_min, x_max = max(0.0, (cx - w / 2) * width), min(float(width), (cx + w / 2) * width)
        y_min, y_max = max(0.0, (cy - h / 2) * height), min(float(height), (cy + h / 2) * height)
        instances.append({"type": "box", "name": label, "x_min": x_min, "y_min": y_min, "x_max": x_max, "y_max": y_max})
    return instances


def _fitted(instance: dict[str, Any], width: int, height: int) -> dict[str, Any]:
    fitted = dict(instance)

    def clip(value: Any, limit: int) -> Any:
        """Up to one pixel outside (a rounding error) onto the edge; further out stays, and is refused."""
        if isinstance(value, int | float) and -1 <= value <= limit + 1:
            return min(max(value, 0.0), float(limit)) if (value < 0 or value > limit) else value
        return value

    for key, limit in (("x_min", width), ("x_max", width), ("y_min", height), ("y_max", height)):
        if key in fitted:
            fitted[key] = clip(fitted[key], limit)
    for key in ("points", "parts"):
        if key == "points" and isinstance(fitted.get(key), list):
            fitted[key] = [_clip_point(p, clip, width, height) for p in fitted[key]]
        elif key == "parts" and isinstance(fitted.get(key), list):
            fitted[key] = [[_clip_point(p, clip, width, height) for p in ring] for ring in fitted[key]]
    mask = fitted.get("mask")
    if isinstance(mask, dict) and list(mask.get("size", [])) != [height, width]:
        del fitted["mask"]
    return fitted


def _clip_point(point: Any, clip: Any, width: int, height: int) -> Any:
    if not isinstance(point, dict):
        return point
    return {**point, "x": clip(point.get("x"), width), "y": clip(point.get("y"), height)}


# --- JSONL of packets ---------------------------------------------------------------------------


def parse_jsonl(text: str) -> ParsedImport:
    items: list[ImportItem] = []
    labels: set[str | None] = set()
    for line_no, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            packet = json.loads(line)
            media = packet["media"]
            path, url = media.get("path"), media.get("url")
        except (json.JSONDecodeError, KeyError, TypeError, AttributeError):
            raise ImportFormatError(
                f'line {line_no} is not a packet: {{"media": {{"url" or "path"}}, "instance_list": [...]}}'
            ) from None
        if not (path or url):
            raise ImportFormatError(f"line {line_no}: media needs a 'url' or a 'path'")
        instances = packet.get("instance_list") or []
        labels.update(i.get("name") for i in instances if isinstance(i, dict) and i.get("type") != "global")
        declared = media.get("type")
        items.append(
            ImportItem(
                index=len(items),
                name=posixpath.basename(path or url.split("?")[0]) or f"item-{line_no}",
                media_path=path,
                media_url=url,
                instances=instances,
                metadata=packet.get("metadata") or {},
                media_type=declared,
                problem=None
                if declared in (None, *MEDIA_TYPES)
                else f"line {line_no}: media type {declared!r} is not supported; a packet's media.type is one of "
                f"{list(MEDIA_TYPES)} (or left out: the bytes tell)",
            )
        )
    if not items:
        raise ImportFormatError("the JSONL file has no packets")
    return ParsedImport(items=items, label_names=sorted(n for n in labels if n))
