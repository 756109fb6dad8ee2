"""A track's shape on any frame, from its keyframes: the one function the API, exports and streams use.

It works on stored (JSON) tracks, as ``domain/instances.py`` describes them, so the web editor can port it line
for line; ``tests/golden/video_interpolation.json`` holds cases a port is checked against.

The rules, for a track with keyframes ``K[0..n-1]`` (sorted by frame) on frame ``f``:

* ``f < K[0].frame``: nothing (the track has not started).
* ``f == K[i].frame``: that keyframe, as drawn (``keyframe: true``; ``outside`` as set).
* otherwise let ``a = K[i]`` be the last keyframe before ``f``:
  - ``a.outside``: nothing (an outside keyframe ends a span until the next keyframe);
  - ``a`` is the last keyframe, or the next keyframe ``b`` is outside: ``a``'s geometry, unchanged (held);
  - else interpolated with ``t = (f - a.frame) / (b.frame - a.frame)`` and, for every coordinate,
    ``v = va + (vb - va) * t`` (IEEE doubles, evaluated in exactly this order).
* A polygon pair of unequal point counts is first brought to equal counts (``equalize``); point tracks have
  equal counts by validation.
* ``occluded`` and the per-frame ``attributes`` come from ``a`` (they hold until the next keyframe); the
  state's ``attributes`` are the track's, overlaid with ``a``'s.
* Every frame that is not a keyframe has ``interpolated: true`` (held frames included).
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Iterator, Mapping
from typing import Any

BOX_FIELDS = ("x_min", "y_min", "x_max", "y_max")


def lerp(va: float, vb: float, t: float) -> float:
    return va + (vb - va) * t


def _edge_length(p: Mapping[str, float], q: Mapping[str, float]) -> float:
    dx, dy = q["x"] - p["x"], q["y"] - p["y"]
    return math.sqrt(dx * dx + dy * dy)  # not hypot: sqrt is exactly rounded in every language


def densify(points: list[dict[str, float]], count: int) -> list[dict[str, float]]:
    """The closed ring ``points`` with ``count - len(points)`` points added along its edges, by perimeter.

    Every vertex is kept, so the shape is unchanged. Edge ``i`` runs from ``p[i]`` to ``p[(i + 1) % m]`` with
    length ``L[i] = sqrt(dx*dx + dy*dy)``; ``P`` is their sum, added in edge order. Of the ``k`` points to add,
    edge ``i`` gets ``floor(k * L[i] / P)``, and the ones left over go one each to the edges with the largest
    remainder ``k * L[i] / P - floor(...)`` (ties: the lower edge index). If ``P == 0`` edge 0 gets all ``k``.
    An edge given ``c`` points gets ``p + (q - p) * (j / (c + 1))`` for ``j = 1..c``, right after ``p``.
    """
    m = len(points)
    k = count - m
    if k <= 0:
        return [dict(p) for p in points]
    lengths = [_edge_length(points[i], points[(i + 1) % m]) for i in range(m)]
    perimeter = 0.0
    for length in lengths:
        perimeter += length
    if perimeter == 0:
        given = [k] + [0] * (m - 1)
    else:
        quotas = [k * length / perimeter for length in lengths]
        given = [math.floor(q) for q in quotas]
        left = k - sum(given)
        by_remainder = sorted(range(m), key=lambda i: (-(quotas[i] - given[i]), i))
        for i in by_remainder[:left]:
            given[i] += 1
    out: list[dict[str, float]] = []
    for i in range(m):
        p, q = points[i], points[(i + 1) % m]
        out.append({"x": p["x"], "y": p["y"]})
        c = given[i]
        for j in range(1, c + 1):
            s = j / (c + 1)
            out.append({"x": lerp(p["x"], q["x"], s), "y": lerp(p["y"], q["y"], s)})
    return out


def equalize(
    a: list[dict[str, float]], b: list[dict[str, float]]
) -> tuple[list[dict[str, float]], list[dict[str, float]]]:
    """Two polygons with the point count of the larger: the smaller one ``densify``-ed; point ``i`` of one then
    moves to point ``i`` of the other."""
    count = max(len(a), len(b))
    return densify(a, count), densify(b, count)


def _geometry(shape: str, keyframe: Mapping[str, Any]) -> dict[str, Any]:
    if shape == "box":
        return {f: keyframe[f] for f in BOX_FIELDS}
    return {"points": [{"x": p["x"], "y": p["y"]} for p in keyframe["points"]]}


def _between(shape: str, a: Mapping[str, Any], b: Mapping[str, Any], t: float) -> dict[str, Any]:
    if shape == "box":
        return {f: lerp(a[f], b[f], t) for f in BOX_FIELDS}
    pa, pb = a["points"], b["points"]
    if len(pa) != len(pb):
        pa, pb = equalize(pa, pb)
    return {
        "points": [{"x": lerp(p["x"], q["x"], t), "y": lerp(p["y"], q["y"], t)} for p, q in zip(pa, pb, strict=True)]
    }


def _state(track: Mapping[str, Any], key: Mapping[str, Any], frame: int, geometry: dict[str, Any]) -> dict[str, Any]:
    return {
        "frame": frame,
        "keyframe": key["frame"] == frame,
        "interpolated": key["frame"] != frame,
        "outside": bool(key.get("outside", False)) if key["frame"] == frame else False,
        "occluded": bool(key.get("occluded", False)),
        "attributes": {**track.get("attributes", {}), **key.get("attributes", {})},
        **geometry,
    }


def state_at(track: Mapping[str, Any], frame: int) -> dict[str, Any] | None:
    """The track on ``frame`` (outside keyframes included, with ``outside: true``), or None where it has no
    shape: before its first keyframe and after an outside keyframe until the next one."""
    return _state_at(track, [k["frame"] for k in track["keyframes"]], frame)


def _state_at(track: Mapping[str, Any], frames: list[int], frame: int) -> dict[str, Any] | None:
    keys = track["keyframes"]
    i = bisect_right(frames, frame) - 1
    if i < 0:
        return None
    a = keys[i]
    shape = track["shape"]
    if a["frame"] == frame:
        return _state(track, a, frame, _geometry(shape, a))
    if a.get("outside"):
        return None
    if i + 1 == len(keys) or keys[i + 1].get("outside"):
        return _state(track, a, frame, _geometry(shape, a))
    b = keys[i + 1]
    t = (frame - a["frame"]) / (b["frame"] - a["frame"])
    return _state(track, a, frame, _between(shape, a, b, t))


def shape_at(track: Mapping[str, Any], frame: int) -> dict[str, Any] | None:
    """The track's visible shape on ``frame``, or None (not started, or outside)."""
    state = state_at(track, frame)
    return None if state is None or state["outside"] else state


def states(track: Mapping[str, Any], frame_count: int) -> Iterator[dict[str, Any]]:
    """Every frame's state from the first keyframe to the video's last frame (``state_at`` where not None)."""
    frames = [k["frame"] for k in track["keyframes"]]
    for frame in range(frames[0], frame_count):
        state = _state_at(track, frames, frame)
        if state is not None:
            yield state
