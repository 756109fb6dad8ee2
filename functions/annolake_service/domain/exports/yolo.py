"""Ultralytics YOLO detection: ``data.yaml``, ``labels/<stem>.txt`` for every image (empty when it has no
objects), ``images/<name>`` beside them (the media, fetched by the SDK). Class ids are schema positions.

Boxes only: a polygon (all its parts) or keypoints become their bounding box; crowd regions are boxes too;
tags, attributes, scores and masks are left out. Coordinates are normalized centre boxes with 6 decimals.

With ``split`` (``{"train": 0.8, "val": 0.2}``, optionally ``test``) each file goes to one subset by a hash of
its id and ``seed``: ``labels/<subset>/<stem>.txt``, ``images/<subset>/<name>``, and ``data.yaml`` names each
subset's folder. A file's subset depends on its id, the seed and the shares only, so it stays in its subset when
files are added to the dataset and the snapshot retaken.

A video is its frames (``video_frames``): ``labels/[<subset>/]<stem>/<frame:06d>.txt`` per exported frame, the
tracks on it as boxes, beside ``images/[<subset>/]<stem>/<frame:06d>.jpg``.
"""

from __future__ import annotations

import hashlib
import math
from typing import Any

import yaml

from annolake_service.domain.exports.base import (
    TAR_END,
    ExportContext,
    ExportFile,
    ExportFormat,
    box_of,
    register,
    tar_members,
)
from annolake_service.domain.exports.video_frames import exported_frames, frame_name, frame_options, frame_shapes


def label_lines(file: ExportFile, context: ExportContext, instances: list[dict] | None = None) -> str:
    """A label file's lines: ``instances`` (default: the file's) as normalized boxes."""
    lines = []
    for instance in file.instances if instances is None else instances:
        label = context.label_index(instance.get("name", ""))
        bounds = box_of(instance)
        if label is None or bounds is None or not (file.width and file.height):
            continue
        x_min, y_min, x_max, y_max = bounds
        cx, cy = (x_min + x_max) / 2 / file.width, (y_min + y_max) / 2 / file.height
        w, h = (x_max - x_min) / file.width, (y_max - y_min) / file.height
        lines.append(f"{label} {cx:.6f} {cy:.6f} {w:.6f} {h:.6f}\n")
    return "".join(lines)


SUBSETS = ("train", "val", "test")  # the subsets Ultralytics' data.yaml names, in the order shares are laid out


def normalized_options(options: dict[str, Any]) -> dict[str, Any]:
    """``{}`` (one folder), or ``{"split": {subset: share}, "seed": n}`` checked: train and val (test optional),
    shares above 0 adding up to 1; either with ``every_n_frames`` (videos)."""
    frames, options = frame_options(options)
    unknown = sorted(set(options) - {"split", "seed"})
    if unknown:
        raise ValueError(f"yolo takes split, seed and every_n_frames; got {unknown}")
    split = options.get("split")
    if split is None:
        if "seed" in options:
            raise ValueError("seed only applies with split, e.g. {'split': {'train': 0.8, 'val': 0.2}, 'seed': 0}")
        return frames
    example = "e.g. {'train': 0.8, 'val': 0.2}"
    if not isinstance(split, dict) or not {"train", "val"} <= set(split) <= set(SUBSETS):
        raise ValueError(f"split names train and val (and test, optionally) with shares, {example}; got {split!r}")
    shares = {}
    for subset in SUBSETS:
        if subset in split:
            share = split[subset]
            if isinstance(share, bool) or not isinstance(share, int | float) or not 0 < share < 1:
                raise ValueError(f"the share of {subset} must be a number between 0 and 1, not {share!r}")
            shares[subset] = float(share)
    if not math.isclose(sum(shares.values()), 1.0, abs_tol=1e-9):
        raise ValueError(f"the split's shares must add up to 1, not {sum(shares.values())} ({example})")
    seed = options.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError(f"seed must be a whole number, not {seed!r}")
    return {**frames, "split": shares, "seed": seed}


def subset_of(file_id: str, options: dict[str, Any]) -> str | None:
    """The subset a file goes to (None without a split): where a hash of the seed and its id falls among the
    shares laid end to end in ``SUBSETS`` order."""
    split = options.get("split")
    if not split:
        return None
    point = int(hashlib.sha256(f"{options['seed']}:{file_id}".encode()).hexdigest()[:16], 16) / 2**64
    edge = 0.0
    for subset in SUBSETS:
        edge += split.get(subset, 0.0)
        if point < edge:
            return subset
    return [s for s in SUBSETS if s in split][-1]  # a point past the last edge by rounding


def label_path(file: ExportFile, context: ExportContext, stem: str | None = None) -> str:
    """``labels/[<subset>/]<stem>.txt``; a video's frame passes its own stem (``<video>/<frame>``)."""
    subset = subset_of(file.file_id, context.options)
    name = stem or file.stem
    return f"labels/{subset}/{name}.txt" if subset else f"labels/{name}.txt"


def _members(file: ExportFile, context: ExportContext) -> list[tuple[str, bytes]]:
    if not file.is_video:
        return [(label_path(file, context), label_lines(file, context).encode())]
    return [
        (
            label_path(file, context, frame_name(file, frame)[:-4]),
            label_lines(file, context, frame_shapes(file, frame)).encode(),
        )
        for frame in exported_frames(file, context.every_n_frames)
    ]


def _page(files: list[ExportFile], context: ExportContext) -> dict[str, bytes]:
    return {"members": tar_members([member for file in files for member in _members(file, context)])}


def data_yaml(context: ExportContext) -> bytes:
    split = context.options.get("split")
    folders = {s: f"images/{s}" for s in SUBSETS if s in split} if split else {"train": "images", "val": "images"}
    document = {"path": ".", **folders, "names": dict(enumerate(context.labels))}
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True).encode()


YOLO = register(
    ExportFormat(
        name="yolo",
        file_name="yolo.tar",
        content_type="application/x-tar",
        fragments=("members",),
        render_page=_page,
        head=lambda context: tar_members([("data.yaml", data_yaml(context))]),
        tail=lambda context: TAR_END,
        options=normalized_options,
        no_references=(
            "Ultralytics reads each image from a local path and finds its label file from that path (the last "
            "images/ becomes labels/), so a YOLO folder cannot point at remote images; export it with media (the "
            "SDK fetches the images under images/)"
        ),
    )
)
