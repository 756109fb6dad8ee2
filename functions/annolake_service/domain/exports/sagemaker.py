"""SageMaker Ground Truth augmented manifest (object detection), JSON Lines: ``source-ref`` (the original's S3
URI), the boxes under ``bounding-box`` in whole pixels, and ``bounding-box-metadata`` with the ``class-map``.

Polygons and keypoints become their box; a box's confidence is its model score, else 1.
"""

from __future__ import annotations

import json

from annolake_service.domain.exports.base import ExportContext, ExportFile, ExportFormat, box_of, register

ATTRIBUTE = "bounding-box"


def line(file: ExportFile, context: ExportContext) -> dict:
    annotations, objects = [], []
    for instance in file.instances:
        label = context.label_index(instance.get("name", ""))
        bounds = box_of(instance)
        if label is None or bounds is None:
            continue
        x_min, y_min, x_max, y_max = bounds
        annotations.append(
            {
                "class_id": label,
                "left": round(x_min),
                "top": round(y_min),
                "width": round(x_max - x_min),
                "height": round(y_max - y_min),
            }
        )
        objects.append({"confidence": instance.get("score") if instance.get("score") is not None else 1})
    return {
        "source-ref": file.media_uri,
        ATTRIBUTE: {
            "image_size": [{"width": file.width, "height": file.height, "depth": 3}],
            "annotations": annotations,
        },
        f"{ATTRIBUTE}-metadata": {
            "objects": objects,
            "class-map": {str(n): name for n, name in enumerate(context.labels)},
            "type": "groundtruth/object-detection",
            "human-annotated": "yes",
            "creation-date": context.created_at,
            "job-name": f"labeling-job/annolake-{context.snapshot_name}",
        },
    }


def _page(files: list[ExportFile], context: ExportContext) -> dict[str, bytes]:
    return {"lines": b"".join(json.dumps(line(f, context), ensure_ascii=False).encode() + b"\n" for f in files)}


SAGEMAKER = register(
    ExportFormat(
        name="sagemaker",
        file_name="output.manifest",
        content_type="application/jsonl",
        fragments=("lines",),
        render_page=_page,
        head=lambda context: b"",
        references_in="always",  # source-ref
    )
)
