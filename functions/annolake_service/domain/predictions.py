"""The prediction layer: per-file summaries the query language reads, and uncertainty for active learning.

Predictions never enter human annotation versions. Each run writes one record per file (its instances,
each with ``score``, ``name`` (the label), ``model``, ``version`` and ``run``) and a summary:
``{label: {"count": n, "min_score": s}}``. In queries, ``predictions.<model>.<label>`` is ``count`` (0 when
the file has no prediction of the label) and ``predictions.<model>.<label>.score`` is ``min_score``, the
file's lowest score for that label: ``… .score < 0.4`` finds files with at least one doubtful prediction of
it. A file with no prediction of the label has no score, and a score comparison never holds for it
(``!=`` included).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel

Strategy = Literal["least_confidence", "margin", "entropy"]
STRATEGIES: tuple[Strategy, ...] = ("least_confidence", "margin", "entropy")
RUN_ID_PREFIX = "pr_"
# Under the run's prefix: what the last evaluation request asked (written by the API), and the summary of the
# evaluation that finished last (written by the evaluation step); equal ``evaluation_id``: that request is done.
EVALUATION_REQUEST = "evaluation-request.json"
EVALUATION_SUMMARY = "evaluation-summary.json"
EVALUATION_FILES = "evaluation.json"  # the last evaluation's per-file results (what eval.<run>.* reads)


def summarize(instances: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, float]]:
    """``{label: {"count": n, "min_score": lowest score}}`` over a file's predicted instances."""
    summary: dict[str, dict[str, float]] = {}
    for instance in instances:
        name, score = instance["name"], float(instance.get("score", 1.0))
        entry = summary.setdefault(name, {"count": 0, "min_score": score})
        entry["count"] += 1
        entry["min_score"] = min(entry["min_score"], score)
    return summary


# --- uncertainty ------------------------------------------------------------------------------------


def _distribution_uncertainty(probabilities: Sequence[float], strategy: Strategy) -> float:
    """How unsure one probability distribution is, in [0, 1] (higher: less sure)."""
    ordered = sorted((max(0.0, float(p)) for p in probabilities), reverse=True)
    total = sum(ordered) or 1.0
    ordered = [p / total for p in ordered]
    if strategy == "least_confidence":
        return 1.0 - ordered[0]
    if strategy == "margin":
        second = ordered[1] if len(ordered) > 1 else 0.0
        return 1.0 - (ordered[0] - second)
    entropy = -sum(p * math.log(p) for p in ordered if p > 0)
    return entropy / math.log(len(ordered)) if len(ordered) > 1 else 0.0


def file_uncertainty(
    instances: Sequence[Mapping[str, Any]], probabilities: Sequence[float] | None, strategy: Strategy
) -> float:
    """A file's uncertainty under ``strategy``.

    A classifier's file has its class distribution (``probabilities``). A detector's file is as uncertain as
    its least certain detection, each detection's score ``s`` read as the distribution ``[s, 1 - s]``
    (is there such an object or not); a file with no detection scores 0 (nothing to doubt).
    """
    return file_uncertainty_and_class(instances, probabilities, strategy)[0]


def file_uncertainty_and_class(
    instances: Sequence[Mapping[str, Any]], probabilities: Sequence[float] | None, strategy: Strategy
) -> tuple[float, str | None]:
    """``file_uncertainty`` and the file's class for ``per_class_cap``: the label of its least certain
    prediction (a detector's least certain detection, the lower score among equally uncertain ones, then the
    label's name; a classifier's best tag, the most probable class). None for a file with no prediction."""
    if probabilities:
        tags = [i for i in instances if "score" in i]
        best = min(tags, key=lambda i: (-float(i["score"]), str(i.get("name", ""))), default=None)
        return _distribution_uncertainty(probabilities, strategy), best.get("name") if best else None
    scores = [(float(i["score"]), i.get("name")) for i in instances if "score" in i]
    scored = [(_distribution_uncertainty([s, 1.0 - s], strategy), s, name) for s, name in scores]
    if not scored:
        return 0.0, None
    uncertainty, _, label = min(scored, key=lambda s: (-round(s[0], 12), s[1], str(s[2] or "")))
    return uncertainty, label


@dataclass(frozen=True)
class Candidate:
    file_id: str
    uncertainty: float
    label: str | None = None  # the file's class (``file_uncertainty_and_class``)


def select(candidates: Iterable[Candidate], k: int, seed: int, per_class_cap: int | None = None) -> list[Candidate]:
    """The ``k`` most uncertain candidates; ties broken by a hash of (seed, file id), so the same seed
    gives the same files and another seed may order equals differently. With ``per_class_cap``, at most that
    many of each class (files with no prediction are one class of their own), going down the same ranking, so
    fewer than ``k`` come back when the classes run out."""

    def tie(file_id: str) -> str:
        return hashlib.sha256(f"{seed}:{file_id}".encode()).hexdigest()

    ranked = sorted(candidates, key=lambda c: (-round(c.uncertainty, 12), tie(c.file_id)))
    if per_class_cap is None:
        return ranked[:k]
    chosen: list[Candidate] = []
    taken: dict[str | None, int] = {}
    for candidate in ranked:
        if len(chosen) == k:
            break
        if taken.get(candidate.label, 0) < per_class_cap:
            taken[candidate.label] = taken.get(candidate.label, 0) + 1
            chosen.append(candidate)
    return chosen


class PredictionRun(BaseModel):
    project_id: str
    run_id: str
    model_name: str
    model_version: int
    dataset: str
    query: str | None
    threshold: float
    slice_id: str
    status: str  # created | queued | running | completed | completed_with_errors | failed | cancelled
    status_reason: str | None
    total: int
    done: int
    failed: int
    execution_arn: str | None
    created_by: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class FilePrediction(BaseModel):
    run_id: str
    file_id: str
    outcome: Literal["done", "failed"]
    instances: list[dict[str, Any]]
    summary: dict[str, dict[str, float]]
    probabilities: list[float] | None
    reason: str | None
    predicted_at: datetime
