"""Pre-labelling: a run's predictions offered to an annotator as a draft, and what the annotator did with them.

The **draft** of a file is its predictions scoring at least ``min_score`` (of the job's labels), each as an
instance with ``source: "model"`` and ``prediction: {run, index, model, version, score}``, ``index`` being its
place in the run's prediction of the file. Nothing is stored until the annotator saves.

On every save, an instance that names a ``prediction`` is compared with it: the same label and geometry (every
coordinate within ``TOLERANCE`` pixels) is ``accepted``, anything else ``edited``; attributes are not the
model's output and do not count. An instance without one keeps its source (``human``: drawn by hand). A
draft prediction the save leaves out was deleted.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from annolake_service.domain.instances import InvalidInstances

TOLERANCE = 0.01  # pixels: a coordinate that moved less than this was not edited (rounding by a client)

# Keys that are not what the model predicted: bookkeeping, provenance, and what a person adds (attributes).
_NOT_PREDICTED = frozenset(
    {
        "id",
        "root_id",
        "previous_id",
        "version",
        "created_by",
        "created_at",
        "deleted_by",
        "deleted_at",
        "attributes",
        "source",
        "prediction",
        "score",
        "model",
        "model_name",
        "run",
    }
)


def _predicted(instance: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in instance.items() if k not in _NOT_PREDICTED and v is not None}


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return math.isclose(a, b, rel_tol=0, abs_tol=TOLERANCE)
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, Sequence) and isinstance(b, Sequence) and not isinstance(a, str | bytes):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def unchanged(instance: Mapping[str, Any], prediction: Mapping[str, Any]) -> bool:
    """Whether ``instance`` has the prediction's label and geometry (attributes aside)."""
    return _same(_predicted(instance), _predicted(prediction))


@dataclass(frozen=True)
class RunPredictions:
    """One run's prediction of one file: the model that made it and its instances in stored order."""

    run_id: str
    model: str
    version: int
    instances: Sequence[Mapping[str, Any]]


def reference(run: RunPredictions, index: int) -> dict[str, Any]:
    return {
        "run": run.run_id,
        "index": index,
        "model": run.model,
        "version": run.version,
        "score": run.instances[index].get("score"),
    }


def draft(
    run: RunPredictions, *, min_score: float | None, labels: Iterable[str] = (), taken: Iterable[int] = ()
) -> list[dict[str, Any]]:
    """The instances an annotator starts from: predictions scoring ``min_score`` or more, of ``labels`` (all when
    empty), except those already in the file's annotations (``taken``: their indexes)."""
    allowed, skip = set(labels), set(taken)
    found = []
    for index, instance in enumerate(run.instances):
        score = instance.get("score")
        if index in skip or (allowed and instance["name"] not in allowed):
            continue
        if min_score is not None and (score is None or score < min_score):
            continue
        found.append({**_predicted(instance), "source": "model", "prediction": reference(run, index)})
    return found


def stamp(incoming: list[dict[str, Any]], runs: Mapping[str, RunPredictions | None]) -> list[dict[str, Any]]:
    """``incoming`` (validated instances) with the source of each one that names a prediction set from the
    prediction itself (``runs``: the predictions of the file by the runs they name, None when a run has none)."""
    stamped = []
    claimed: dict[tuple[str, int], int] = {}
    problems = []
    for position, instance in enumerate(incoming):
        ref = instance.get("prediction")
        if ref is None:
            stamped.append(instance)
            continue
        run = runs.get(ref["run"])
        if run is None or not 0 <= ref["index"] < len(run.instances):
            problems.append(
                f"instance {position} names prediction {ref['index']} of run {ref['run']}, which this file's "
                "predictions do not hold: send it without 'prediction' (drawn by hand) or as the draft gave it"
            )
            continue
        key = (run.run_id, ref["index"])
        if key in claimed:
            problems.append(
                f"instances {claimed[key]} and {position} both name prediction {ref['index']} of run {ref['run']}: "
                "a copy of a prediction is drawn by hand, send it without 'prediction'"
            )
            continue
        claimed[key] = position
        source = "accepted" if unchanged(instance, run.instances[ref["index"]]) else "edited"
        stamped.append({**instance, "source": source, "prediction": reference(run, ref["index"])})
    if problems:
        raise InvalidInstances("; ".join(problems))
    return stamped


def tally(draft_indexes: Iterable[int], run_id: str, saved: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """What one save did with a draft: offered, accepted, edited, deleted (offered but not kept), and drawn by
    hand (new instances without a prediction; ``saved`` are the instances as sent)."""
    offered = set(draft_indexes)
    outcome = {"offered": len(offered), "accepted": 0, "edited": 0, "deleted": 0, "drawn": 0}
    kept = set()
    for instance in saved:
        ref = instance.get("prediction")
        if ref is not None and ref["run"] == run_id and ref["index"] in offered:
            kept.add(ref["index"])
            outcome[str(instance["source"])] += 1
        elif ref is None and instance.get("id") is None and instance.get("source", "human") == "human":
            outcome["drawn"] += 1
    outcome["deleted"] = len(offered - kept)
    return outcome


def rates(counts: Mapping[str, int]) -> dict[str, float | None]:
    """Acceptance, edit and deletion rates: shares of the predictions offered."""
    offered = counts.get("offered", 0)
    return {
        f"{name}_rate": (round(counts.get(outcome, 0) / offered, 4) if offered else None)
        for name, outcome in (("acceptance", "accepted"), ("edit", "edited"), ("deletion", "deleted"))
    }
