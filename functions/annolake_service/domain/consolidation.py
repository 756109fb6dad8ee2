"""Consensus: several annotators' instance lists of one file -> one list and how much they agreed.

- **Boxes** of the same label are matched across annotators by IoU (greedy, each annotator at most once per
  cluster, ``IOU_MATCH`` or more against the cluster's mean box); a cluster drawn by at least half of the
  annotators becomes one box with the mean coordinates, majority attributes and ``score`` = its support.
- **Tags** (whole-file classes) are kept when a strict majority gave them.
- **Global attributes**: each attribute takes its most common value (ties: the earliest annotator's).
- **Other shapes** (polygon, line, point, ellipse, keypoints) cannot be averaged meaningfully: they are taken
  from the annotator who agreed most with the consensus.

``agreement`` is the mean over every box cluster and every tag anyone gave of ``support / N`` (times the
cluster's mean IoU with its averaged box, for boxes): 1.0 when all annotators drew the same thing (or
nothing), near 0 when nobody agreed with anybody.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

IOU_MATCH = 0.5
_BOX_KEYS = ("x_min", "y_min", "x_max", "y_max")


def iou(a: Sequence[float], b: Sequence[float]) -> float:
    """Intersection over union of two ``(x_min, y_min, x_max, y_max)`` boxes."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    if union <= 0:
        return 1.0 if tuple(a) == tuple(b) else 0.0
    return inter / union


@dataclass
class _Cluster:
    label: str
    members: list[tuple[int, dict[str, Any]]] = field(default_factory=list)  # (annotator index, instance)

    def mean_box(self) -> tuple[float, ...]:
        n = len(self.members)
        return tuple(sum(float(inst[k]) for _, inst in self.members) / n for k in _BOX_KEYS)

    def annotators(self) -> set[int]:
        return {a for a, _ in self.members}


@dataclass(frozen=True)
class Consolidated:
    instance_list: list[dict[str, Any]]
    agreement: float
    per_annotator: list[float]  # how much each annotator's work agreed with the consensus, by index


def _box(instance: dict[str, Any]) -> tuple[float, ...]:
    return tuple(float(instance[k]) for k in _BOX_KEYS)


def _majority_attributes(instances: list[dict[str, Any]]) -> dict[str, Any]:
    keys = list(dict.fromkeys(k for inst in instances for k in (inst.get("attributes") or {})))
    merged: dict[str, Any] = {}
    for key in keys:
        values = [repr(inst["attributes"][key]) for inst in instances if key in (inst.get("attributes") or {})]
        winner = Counter(values).most_common(1)[0][0]
        merged[key] = next(
            inst["attributes"][key]
            for inst in instances
            if key in (inst.get("attributes") or {}) and repr(inst["attributes"][key]) == winner
        )
    return merged


def _cluster_boxes(lists: list[list[dict[str, Any]]]) -> list[_Cluster]:
    clusters: list[_Cluster] = []
    for annotator, instances in enumerate(lists):
        for instance in (i for i in instances if i.get("type") == "box"):
            box = _box(instance)
            best, best_iou = None, IOU_MATCH
            for cluster in clusters:
                if cluster.label != instance.get("name") or annotator in cluster.annotators():
                    continue
                overlap = iou(box, cluster.mean_box())
                if overlap >= best_iou:
                    best, best_iou = cluster, overlap
            if best is None:
                best = _Cluster(label=str(instance.get("name")))
                clusters.append(best)
            best.members.append((annotator, instance))
    return clusters


def consolidate(lists: list[list[dict[str, Any]]]) -> Consolidated:
    """Merge the instance lists of ``len(lists)`` annotators of one file (their order breaks ties)."""
    n = len(lists)
    if n == 0:
        return Consolidated([], 1.0, [])
    if n == 1:
        return Consolidated([dict(i) for i in lists[0]], 1.0, [1.0])
    contributions: list[float] = []
    credit = [0.0] * n
    given = [0] * n
    result: list[dict[str, Any]] = []

    for cluster in _cluster_boxes(lists):
        support = len(cluster.annotators())
        mean = cluster.mean_box()
        quality = sum(iou(_box(inst), mean) for _, inst in cluster.members) / support
        contributions.append(support / n * quality)
        kept = support * 2 >= n
        for annotator, _ in cluster.members:
            given[annotator] += 1
            credit[annotator] += quality if kept else 0.0
        if kept:
            instances = [inst for _, inst in cluster.members]
            result.append(
                {
                    "type": "box",
                    "name": cluster.label,
                    **{k: round(v, 2) for k, v in zip(_BOX_KEYS, mean, strict=True)},
                    "attributes": _majority_attributes(instances),
                    "score": round(support / n, 4),
                }
            )

    tag_votes: Counter[str] = Counter()
    tag_instances: dict[str, list[dict[str, Any]]] = {}
    for annotator, instances in enumerate(lists):
        for name in dict.fromkeys(str(i.get("name")) for i in instances if i.get("type") == "tag"):
            tag_votes[name] += 1
            given[annotator] += 1
            tag_instances.setdefault(name, []).append(next(i for i in instances if i.get("name") == name))
    for name, votes in tag_votes.items():
        contributions.append(votes / n)
        if votes * 2 > n:
            result.append({"type": "tag", "name": name, "attributes": _majority_attributes(tag_instances[name])})
            for annotator, instances in enumerate(lists):
                if any(i.get("type") == "tag" and i.get("name") == name for i in instances):
                    credit[annotator] += 1.0

    per_annotator = [credit[a] / given[a] if given[a] else 1.0 for a in range(n)]
    globals_ = [i for instances in lists for i in instances if i.get("type") == "global"]
    if globals_:
        result.append({"type": "global", "name": "global", "attributes": _majority_attributes(globals_)})
    most_agreeing = max(range(n), key=lambda a: (per_annotator[a], -a))
    result.extend(dict(i) for i in lists[most_agreeing] if i.get("type") not in ("box", "tag", "global"))
    agreement = sum(contributions) / len(contributions) if contributions else 1.0
    return Consolidated(result, round(agreement, 4), [round(c, 4) for c in per_annotator])
