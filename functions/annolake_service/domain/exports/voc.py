"""Pascal VOC: ``Annotations/<stem>.xml`` per image and ``labels.txt``; images go in ``JPEGImages/``.

Each object is a ``bndbox`` in VOC's 1-based whole pixels (``xmin = round(x_min) + 1``, ``xmax =
round(x_max)``); polygons and keypoints become their box; crowd regions are marked ``difficult``. With
``references="s3"``, ``<path>`` (where labelImg keeps the image's location) is the original's S3 URI.
"""

from __future__ import annotations

from xml.etree import ElementTree as ET

from annolake_service.domain.exports.base import (
    TAR_END,
    ExportContext,
    ExportFile,
    ExportFormat,
    box_of,
    register,
    tar_members,
)


def _sub(parent: ET.Element, tag: str, text: object) -> ET.Element:
    child = ET.SubElement(parent, tag)
    child.text = str(text)
    return child


def annotation_xml(file: ExportFile, context: ExportContext) -> bytes:
    root = ET.Element("annotation")
    _sub(root, "folder", "JPEGImages")
    _sub(root, "filename", file.name)
    if context.references:
        _sub(root, "path", file.media_uri)
    source = ET.SubElement(root, "source")
    _sub(source, "database", f"Annolake {context.dataset}")
    size = ET.SubElement(root, "size")
    _sub(size, "width", file.width)
    _sub(size, "height", file.height)
    _sub(size, "depth", 3)
    _sub(root, "segmented", 0)
    for instance in file.instances:
        bounds = box_of(instance)
        if bounds is None or context.label_index(instance.get("name", "")) is None:
            continue
        x_min, y_min, x_max, y_max = bounds
        obj = ET.SubElement(root, "object")
        _sub(obj, "name", instance["name"])
        _sub(obj, "pose", "Unspecified")
        _sub(obj, "truncated", 0)
        _sub(obj, "difficult", 1 if instance.get("iscrowd") else 0)
        box = ET.SubElement(obj, "bndbox")
        _sub(box, "xmin", round(x_min) + 1)
        _sub(box, "ymin", round(y_min) + 1)
        _sub(box, "xmax", max(round(x_max), round(x_min) + 1))
        _sub(box, "ymax", max(round(y_max), round(y_min) + 1))
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=False) + b"\n"


def _page(files: list[ExportFile], context: ExportContext) -> dict[str, bytes]:
    return {"members": tar_members([(f"Annotations/{f.stem}.xml", annotation_xml(f, context)) for f in files])}


VOC = register(
    ExportFormat(
        name="voc",
        file_name="voc.tar",
        content_type="application/x-tar",
        fragments=("members",),
        render_page=_page,
        head=lambda context: tar_members([("labels.txt", "".join(f"{n}\n" for n in context.labels).encode())]),
        tail=lambda context: TAR_END,
        references_in="<path>",
    )
)
