"""Export formats: a page of pinned files rendered as parts of one output, assembled in page order.

Each format is pure: ``render_page`` turns a page of ``ExportFile`` into named fragments (bytes), and
``assemble`` puts every page's fragments together with the format's head, separators and tail. Nothing depends
on the time or on the order pages are rendered in, so the same snapshot, format and options give the same bytes.
"""

from annolake_service.domain.exports import coco, cvat_video, jsonl, mot, packed, sagemaker, voc, yolo
from annolake_service.domain.exports.base import (
    FORMATS,
    ExportContext,
    ExportFile,
    ExportFormat,
    ExportJob,
    assemble,
    export_id,
    format_named,
)

FORMAT_NAMES = ("coco", "yolo", "voc", "sagemaker", "jsonl", "cvat_video", "mot", "packed")
assert set(FORMATS) == set(FORMAT_NAMES), (coco, cvat_video, jsonl, mot, packed, sagemaker, voc, yolo)

__all__ = [
    "FORMATS",
    "FORMAT_NAMES",
    "ExportContext",
    "ExportFile",
    "ExportFormat",
    "ExportJob",
    "assemble",
    "export_id",
    "format_named",
]
