"""The batch contract between a prediction run and a model the user hosts (``host="http"`` or ``"lambda"``).

Request (a POST body, signed like a webhook delivery, or a Lambda invocation's payload)::

    {"run_id": "pr_…", "model": "det", "version": 1,
     "items": [{"file_id": "…", "url": "<presigned GET, short-lived>", "width": 640, "height": 480}]}

Answer::

    {"predictions": [{"file_id": "…", "instances": [
        {"type": "box", "label": "car", "score": 0.91, "x_min": 1, "y_min": 2, "x_max": 30, "y_max": 40},
        {"type": "tag", "label": "night", "score": 0.7}]}]}

``label`` is one of the model's declared classes (mapped and ignored like an ONNX model's). Each file is judged
alone: a file the answer leaves out, or whose instances do not fit (an unknown label, a box that is not one, a
score outside [0, 1]), fails with the reason; the others are recorded.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from annolake_service.domain.models import ModelVersion

MAX_INSTANCES = 10000
BOX_FIELDS = ("x_min", "y_min", "x_max", "y_max")


@dataclass(frozen=True)
class BatchItem:
    file_id: str
    url: str
    width: int | None
    height: int | None


@dataclass(frozen=True)
class FileAnswer:
    """One file's instances (in the platform's shape, with provenance), or why it failed."""

    instances: list[dict[str, Any]]
    reason: str | None


class AnswerInvalid(ValueError):
    """The whole answer is unusable (not JSON, not ``{"predictions": [...]}``): every file of the batch fails."""


def batch_request(run_id: str, version: ModelVersion, items: Sequence[BatchItem]) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "model": version.name,
        "version": version.version,
        "items": [{"file_id": i.file_id, "url": i.url, "width": i.width, "height": i.height} for i in items],
    }


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def _instance(raw: Any, index: int, version: ModelVersion) -> dict[str, Any] | None:
    """The instance in the platform's shape (None: its class is ignored); ValueError naming what is wrong."""
    where = f"instance {index}"
    if not isinstance(raw, dict):
        raise ValueError(f"{where} is not an object")
    label = raw.get("label")
    classes = version.spec.labels
    if label not in classes:
        raise ValueError(f"{where} has unknown label {label!r}; the model declares {classes}")
    target = version.class_labels[classes.index(label)]
    score = _number(raw.get("score"))
    if score is None or not 0 <= score <= 1:
        raise ValueError(f"{where} needs a score between 0 and 1, not {raw.get('score')!r}")
    kind = raw.get("type")
    if kind == "tag":
        shape: dict[str, Any] = {}
    elif kind == "box":
        coords = [_number(raw.get(field)) for field in BOX_FIELDS]
        if any(c is None for c in coords):
            raise ValueError(f"{where} is a box without numeric {', '.join(BOX_FIELDS)}")
        x0, y0, x1, y1 = (float(c) for c in coords)  # type: ignore[arg-type]
        if not (x1 > x0 and y1 > y0):
            raise ValueError(f"{where} is a box with x_max <= x_min or y_max <= y_min: {[x0, y0, x1, y1]}")
        shape = {"x_min": round(x0, 2), "y_min": round(y0, 2), "x_max": round(x1, 2), "y_max": round(y1, 2)}
    else:
        raise ValueError(f'{where} has type {kind!r}; a model answers "box" or "tag" instances')
    if target is None:
        return None
    return {"type": kind, "name": target, **shape, "score": round(score, 6)}


def _file_answer(entry: dict[str, Any], version: ModelVersion, threshold: float, provenance: dict) -> FileAnswer:
    raw = entry.get("instances")
    if not isinstance(raw, list):
        return FileAnswer([], "the model's answer for this file has no instances list")
    if len(raw) > MAX_INSTANCES:
        return FileAnswer([], f"the model answered {len(raw)} instances for this file; the limit is {MAX_INSTANCES}")
    instances = []
    for index, item in enumerate(raw):
        try:
            found = _instance(item, index, version)
        except ValueError as exc:
            return FileAnswer([], f"the model's answer does not fit: {exc}")
        if found is not None and found["score"] >= threshold:
            instances.append({**found, **provenance})
    return FileAnswer(instances, None)


def read_answer(
    answer: Any, file_ids: Sequence[str], version: ModelVersion, threshold: float, provenance: dict[str, Any]
) -> dict[str, FileAnswer]:
    """Each asked file's outcome from the model's answer; AnswerInvalid when the answer as a whole is unusable."""
    if not isinstance(answer, dict) or not isinstance(answer.get("predictions"), list):
        raise AnswerInvalid('the model must answer {"predictions": [{"file_id": …, "instances": [...]}, ...]}')
    asked = set(file_ids)
    entries: dict[str, Any] = {}
    repeated: set[str] = set()
    for entry in answer["predictions"]:
        file_id = entry.get("file_id") if isinstance(entry, dict) else None
        if file_id in asked:
            if file_id in entries:
                repeated.add(file_id)
            entries[file_id] = entry
    out = {}
    for file_id in file_ids:
        if file_id in repeated:
            out[file_id] = FileAnswer([], "the model's answer holds this file more than once")
        elif file_id not in entries:
            out[file_id] = FileAnswer([], "the model's answer has no prediction for this file (missing file_id)")
        else:
            out[file_id] = _file_answer(entries[file_id], version, threshold, provenance)
    return out
