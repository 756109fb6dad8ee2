"""A prediction run against the human annotations: per-file TP/FP/FN and disagreement, per-class AP and mAP.

AP comes from pycocotools' ``COCOeval`` (the reference implementation) at one IoU threshold, over every
prediction (no score threshold: AP integrates over scores). Per-file counts match greedily, best score
first, a prediction (score ≥ ``score_threshold``) to the unmatched human box of its label with the highest
IoU ≥ ``iou``. What is left over is an error:

- a false positive (FP): a prediction no human box matches, weighted by its score (a confident box the
  human did not draw is likely a missed object);
- a false negative (FN): a human box no prediction matches, weighted ``fn_weight`` (the model may be weak
  there, or the box spurious);
- a label mismatch: an FP overlapping an FN (IoU ≥ ``iou``) of another label, counted as one FP and one FN
  but weighted once, by the prediction's score.

A file's disagreement is ``1 - Π(1 - w)`` over its errors: 0 with none, near 1 with one confident one.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval


@dataclass(frozen=True)
class Box:
    label: str
    x_min: float
    y_min: float
    x_max: float
    y_max: float
    score: float = 1.0

    @classmethod
    def from_instance(cls, instance: Mapping[str, Any]) -> Box:
        return cls(
            instance["name"],
            float(instance["x_min"]),
            float(instance["y_min"]),
            float(instance["x_max"]),
            float(instance["y_max"]),
            float(instance.get("score", 1.0)),
        )


def boxes_of(instances: Sequence[Mapping[str, Any]]) -> list[Box]:
    return [Box.from_instance(i) for i in instances if i.get("type") == "box"]


def iou(a: Box, b: Box) -> float:
    w = min(a.x_max, b.x_max) - max(a.x_min, b.x_min)
    h = min(a.y_max, b.y_max) - max(a.y_min, b.y_min)
    if w <= 0 or h <= 0:
        return 0.0
    inter = w * h
    union = (a.x_max - a.x_min) * (a.y_max - a.y_min) + (b.x_max - b.x_min) * (b.y_max - b.y_min) - inter
    return inter / union if union > 0 else 0.0


@dataclass
class FileEvaluation:
    file_id: str
    tp: int = 0
    fp: int = 0
    fn: int = 0
    mismatches: int = 0
    disagreement: float = 0.0
    errors: list[dict[str, Any]] = field(default_factory=list)


def evaluate_file(
    file_id: str,
    predicted: Sequence[Box],
    human: Sequence[Box],
    *,
    iou_threshold: float,
    score_threshold: float,
    fn_weight: float,
) -> FileEvaluation:
    result = FileEvaluation(file_id)
    preds = sorted((p for p in predicted if p.score >= score_threshold), key=lambda p: -p.score)
    free = list(range(len(human)))
    unmatched_preds: list[Box] = []
    for pred in preds:
        best, best_iou = None, iou_threshold
        for index in free:
            if human[index].label != pred.label:
                continue
            overlap = iou(pred, human[index])
            if overlap >= best_iou:
                best, best_iou = index, overlap
        if best is None:
            unmatched_preds.append(pred)
        else:
            free.remove(best)
            result.tp += 1
    weights = []
    for pred in unmatched_preds:
        partner = next((i for i in free if iou(pred, human[i]) >= iou_threshold), None)
        result.fp += 1
        if partner is not None:
            free.remove(partner)
            result.fn += 1
            result.mismatches += 1
            result.errors.append({"kind": "label_mismatch", "predicted": pred.label, "human": human[partner].label})
        else:
            result.errors.append({"kind": "fp", "label": pred.label, "score": pred.score})
        weights.append(pred.score)
    for index in free:
        result.fn += 1
        result.errors.append({"kind": "fn", "label": human[index].label})
        weights.append(fn_weight)
    result.disagreement = float(1.0 - np.prod([1.0 - min(max(w, 0.0), 1.0) for w in weights]))
    return result


@dataclass
class Report:
    iou: float
    mean_ap: float | None
    per_class_ap: dict[str, float | None]
    files: list[FileEvaluation]
    pr_curves: dict[str, list[tuple[float, float]]] = field(default_factory=dict)

    @property
    def totals(self) -> dict[str, int]:
        return {
            "tp": sum(f.tp for f in self.files),
            "fp": sum(f.fp for f in self.files),
            "fn": sum(f.fn for f in self.files),
        }


def coco_average_precision(
    predicted: Mapping[str, Sequence[Box]], human: Mapping[str, Sequence[Box]], labels: Sequence[str], iou: float
) -> tuple[float | None, dict[str, float | None], dict[str, list[tuple[float, float]]]]:
    """COCOeval bbox AP at one IoU threshold: (mAP over classes with human boxes, AP per class, and each such
    class's precision-recall curve as (recall, precision) at COCOeval's 101 recall thresholds, whose mean is
    its AP)."""
    category = {name: index + 1 for index, name in enumerate(labels)}
    image_ids = {file_id: index + 1 for index, file_id in enumerate(sorted(set(human) | set(predicted)))}
    annotations: list[dict[str, Any]] = []
    for file_id, boxes in human.items():
        for box in boxes:
            w, h = box.x_max - box.x_min, box.y_max - box.y_min
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": image_ids[file_id],
                    "category_id": category[box.label],
                    "bbox": [box.x_min, box.y_min, w, h],
                    "area": w * h,
                    "iscrowd": 0,
                }
            )
    detections = [
        {
            "image_id": image_ids[file_id],
            "category_id": category[box.label],
            "bbox": [box.x_min, box.y_min, box.x_max - box.x_min, box.y_max - box.y_min],
            "score": box.score,
        }
        for file_id, boxes in predicted.items()
        for box in boxes
        if box.label in category
    ]
    if not annotations:
        return None, dict.fromkeys(labels), {}
    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints its progress
        truth = COCO()
        truth.dataset = {
            "images": [{"id": i} for i in image_ids.values()],
            "annotations": annotations,
            "categories": [{"id": i, "name": n} for n, i in category.items()],
        }
        truth.createIndex()
        found = truth.loadRes(detections) if detections else COCO()
        if not detections:
            found.dataset = {"images": truth.dataset["images"], "annotations": [], "categories": []}
            found.createIndex()
        evaluator = COCOeval(truth, found, "bbox")
        evaluator.params.iouThrs = np.array([iou])
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    precision = evaluator.eval["precision"]  # T×R×K×A×M: one IoU, all areas, the largest maxDets
    recalls = evaluator.params.recThrs
    per_class: dict[str, float | None] = {}
    curves: dict[str, list[tuple[float, float]]] = {}
    for name, cat_id in category.items():
        values = precision[0, :, cat_id - 1, 0, -1]
        kept = values > -1  # -1: the class has no human box
        per_class[name] = float(values[kept].mean()) if kept.any() else None
        if kept.any():
            points = zip(recalls[kept], values[kept], strict=True)
            curves[name] = [(round(float(r), 4), round(float(p), 6)) for r, p in points]
    return float(evaluator.stats[0]) if evaluator.stats[0] > -1 else None, per_class, curves


def annotator_disagreement(files: Sequence[FileEvaluation], authors: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    """Per author of the files' current human annotations (``authors``: file id → author; files nobody
    annotated are left out): how many of their files were evaluated, how many disagree with the model, the
    share that do (``rate``) and the mean disagreement."""
    grouped: dict[str, list[float]] = {}
    for f in files:
        author = authors.get(f.file_id)
        if author is not None:
            grouped.setdefault(author, []).append(f.disagreement)
    return {
        author: {
            "files": len(values),
            "disagreeing": sum(1 for v in values if v > 0),
            "rate": round(sum(1 for v in values if v > 0) / len(values), 6),
            "mean_disagreement": round(float(np.mean(values)), 6),
        }
        for author, values in sorted(grouped.items())
    }


def evaluate_run(
    predicted: Mapping[str, Sequence[Box]],
    human: Mapping[str, Sequence[Box]],
    labels: Sequence[str],
    *,
    iou_threshold: float = 0.5,
    score_threshold: float = 0.25,
    fn_weight: float = 0.5,
) -> Report:
    """Every file that was predicted, against its human boxes."""
    mean_ap, per_class, curves = coco_average_precision(predicted, human, labels, iou_threshold)
    files = [
        evaluate_file(
            file_id,
            predicted.get(file_id, []),
            human.get(file_id, []),
            iou_threshold=iou_threshold,
            score_threshold=score_threshold,
            fn_weight=fn_weight,
        )
        for file_id in sorted(predicted)
    ]
    return Report(iou_threshold, mean_ap, per_class, files, curves)
