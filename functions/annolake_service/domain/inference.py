"""Pre- and post-processing around an ONNX model (numpy): letterboxing, normalisation, decoding each
format's outputs into instances in the original image's pixels, and non-maximum suppression.

Imported only where a model runs (the predict function, whose layer has numpy), never by the API.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError

from annolake_service.domain.models import ModelSpec

LETTERBOX_FILL = 114  # the grey Ultralytics pads with


class ImageUnreadable(ValueError):
    """The bytes are not an image the model can read (corrupt, truncated, not an image)."""


def decode_rgb(body: bytes) -> np.ndarray:
    """H×W×3 uint8 RGB."""
    try:
        with Image.open(io.BytesIO(body)) as image:
            image.load()
            return np.asarray(image.convert("RGB"))
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise ImageUnreadable(f"the image cannot be decoded: {exc}") from None


@dataclass(frozen=True)
class Letterbox:
    """How an image was fitted into the model's square input: scaled by ``scale``, then padded."""

    scale: float
    pad_x: float
    pad_y: float
    width: int
    height: int

    def to_image(self, boxes: np.ndarray) -> np.ndarray:
        """x_min, y_min, x_max, y_max in input pixels → in the original image's pixels, clipped to it."""
        out = boxes.astype(np.float64).copy()
        out[:, [0, 2]] = (out[:, [0, 2]] - self.pad_x) / self.scale
        out[:, [1, 3]] = (out[:, [1, 3]] - self.pad_y) / self.scale
        out[:, [0, 2]] = out[:, [0, 2]].clip(0, self.width)
        out[:, [1, 3]] = out[:, [1, 3]].clip(0, self.height)
        return out


def letterbox(rgb: np.ndarray, size: int) -> tuple[np.ndarray, Letterbox]:
    """Resize keeping the aspect ratio so the longer side is ``size``, centre it on a grey square."""
    height, width = rgb.shape[:2]
    scale = min(size / width, size / height)
    new_w, new_h = max(1, round(width * scale)), max(1, round(height * scale))
    resized = np.asarray(Image.fromarray(rgb).resize((new_w, new_h), Image.Resampling.BILINEAR))
    pad_x, pad_y = (size - new_w) / 2, (size - new_h) / 2
    canvas = np.full((size, size, 3), LETTERBOX_FILL, dtype=np.uint8)
    left, top = int(math.floor(pad_x)), int(math.floor(pad_y))
    canvas[top : top + new_h, left : left + new_w] = resized
    return canvas, Letterbox(scale, left, top, width, height)


def normalise(rgb: np.ndarray, spec: ModelSpec) -> np.ndarray:
    """H×W×3 uint8 → 1×3×H×W float32, scaled and normalised as the model declares."""
    norm = spec.normalisation
    scaled = rgb.astype(np.float32) / np.float32(norm.scale)
    mean, std = np.asarray(norm.mean, dtype=np.float32), np.asarray(norm.std, dtype=np.float32)
    return np.ascontiguousarray(((scaled - mean) / std).astype(np.float32).transpose(2, 0, 1)[None])


def nms(boxes: np.ndarray, scores: np.ndarray, iou: float) -> np.ndarray:
    """Indices of the boxes kept by greedy non-maximum suppression, best score first."""
    order = np.argsort(-scores, kind="stable")
    areas = np.clip(boxes[:, 2] - boxes[:, 0], 0, None) * np.clip(boxes[:, 3] - boxes[:, 1], 0, None)
    keep = []
    while order.size:
        best, rest = order[0], order[1:]
        keep.append(best)
        x1 = np.maximum(boxes[best, 0], boxes[rest, 0])
        y1 = np.maximum(boxes[best, 1], boxes[rest, 1])
        x2 = np.minimum(boxes[best, 2], boxes[rest, 2])
        y2 = np.minimum(boxes[best, 3], boxes[rest, 3])
        inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
        union = areas[best] + areas[rest] - inter
        overlap = np.where(union > 0, inter / np.where(union > 0, union, 1), 0)
        order = rest[overlap <= iou]
    return np.asarray(keep, dtype=np.int64)


def batched_nms(boxes: np.ndarray, scores: np.ndarray, classes: np.ndarray, iou: float) -> np.ndarray:
    """NMS within each class (boxes of different classes never suppress each other)."""
    if boxes.size == 0:
        return np.zeros(0, dtype=np.int64)
    offset = (boxes.max() + 1) * classes.astype(np.float64)
    shifted = boxes + offset[:, None]
    return nms(shifted, scores, iou)


@dataclass(frozen=True)
class Detection:
    class_index: int
    score: float
    x_min: float
    y_min: float
    x_max: float
    y_max: float


def decode_yolo(output: np.ndarray, spec: ModelSpec, box: Letterbox, threshold: float) -> list[Detection]:
    """``1×(4+C)×N`` (cx, cy, w, h in input pixels, then class scores) → detections after NMS."""
    rows = output[0].astype(np.float64).T  # N×(4+C)
    class_scores = rows[:, 4:]
    classes = class_scores.argmax(axis=1)
    scores = class_scores[np.arange(len(rows)), classes]
    keep = scores >= threshold
    rows, classes, scores = rows[keep], classes[keep], scores[keep]
    xyxy = np.stack(
        [
            rows[:, 0] - rows[:, 2] / 2,
            rows[:, 1] - rows[:, 3] / 2,
            rows[:, 0] + rows[:, 2] / 2,
            rows[:, 1] + rows[:, 3] / 2,
        ],
        axis=1,
    )
    kept = batched_nms(xyxy, scores, classes, spec.nms_iou)[: spec.max_detections]
    return _detections(box.to_image(xyxy[kept]) if kept.size else np.zeros((0, 4)), classes[kept], scores[kept])


def decode_torchvision(
    boxes: np.ndarray, labels: np.ndarray, scores: np.ndarray, spec: ModelSpec, box: Letterbox, threshold: float
) -> list[Detection]:
    """boxes N×4 (x_min, y_min, x_max, y_max in input pixels), labels N, scores N → detections.

    torchvision's models run their own NMS; boxes are only mapped back to the image and thresholded.
    """
    keep = (scores >= threshold) & (labels >= 0) & (labels < len(spec.labels))
    order = np.argsort(-scores[keep], kind="stable")[: spec.max_detections]
    kept_boxes = boxes[keep][order]
    return _detections(
        box.to_image(kept_boxes) if kept_boxes.size else np.zeros((0, 4)), labels[keep][order], scores[keep][order]
    )


def _detections(xyxy: np.ndarray, classes: np.ndarray, scores: np.ndarray) -> list[Detection]:
    return [
        Detection(int(c), float(s), float(b[0]), float(b[1]), float(b[2]), float(b[3]))
        for b, c, s in zip(xyxy, classes, scores, strict=True)
        if b[2] > b[0] and b[3] > b[1]  # a box clipped to nothing at the image's edge is no box
    ]


def class_probabilities(output: np.ndarray, spec: ModelSpec) -> np.ndarray:
    """``1×C`` logits (softmax) or probabilities → C probabilities."""
    row = output.reshape(-1).astype(np.float64)
    if spec.outputs == "probabilities":
        return row
    shifted = np.exp(row - row.max())
    return shifted / shifted.sum()


def detection_instances(
    detections: list[Detection], class_labels: list[str | None], provenance: dict[str, Any]
) -> list[dict[str, Any]]:
    """Box instances in the packet shape, with score and provenance; ignored classes dropped."""
    instances = []
    for d in detections:
        label = class_labels[d.class_index]
        if label is None:
            continue
        instances.append(
            {
                "type": "box",
                "name": label,
                "x_min": round(d.x_min, 2),
                "y_min": round(d.y_min, 2),
                "x_max": round(d.x_max, 2),
                "y_max": round(d.y_max, 2),
                "score": round(d.score, 6),
                **provenance,
            }
        )
    return instances


def tag_instances(
    probabilities: np.ndarray, class_labels: list[str | None], threshold: float, provenance: dict[str, Any]
) -> list[dict[str, Any]]:
    """One tag per class at or above ``threshold``, and always the most probable class."""
    best = int(probabilities.argmax())
    instances = []
    for index in np.argsort(-probabilities, kind="stable"):
        label = class_labels[int(index)]
        score = float(probabilities[index])
        if label is None or (score < threshold and int(index) != best):
            continue
        instances.append({"type": "tag", "name": label, "score": round(score, 6), **provenance})
    return instances
