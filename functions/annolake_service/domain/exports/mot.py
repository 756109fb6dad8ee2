"""MOT challenge ground truth (``gt.txt``): one line per frame a track is visible on, interpolated frames
included: ``frame,id,bb_left,bb_top,bb_width,bb_height,conf,class,visibility``.

``frame`` counts from 1 (MOT's convention; Annolake's frames count from 0), ``id`` is the track's ``track_id``
unchanged, ``conf`` is 1 (the entry counts), ``class`` is the label's position in ``labels`` plus 1 (a
``labels.txt`` beside it lists them, one a line), ``visibility`` is 0 on occluded frames and 1 otherwise.
A polygon track gives its bounding box; point tracks and frame tags have no box and are left out; frames after
an outside keyframe (until the next keyframe) have no line. Lines are sorted by frame, then id.

As an export format (``mot``): a tar with a MOT sequence folder per video of the snapshot (images are left
out): ``<stem>/gt/gt.txt``, ``<stem>/gt/labels.txt`` (the schema's labels) and ``<stem>/seqinfo.ini``.
"""

from __future__ import annotations

from typing import Any

from annolake_service.domain.exports.base import (
    TAR_END,
    ExportContext,
    ExportFile,
    ExportFormat,
    box_of,
    register,
    tar_members,
)
from annolake_service.domain.video.interpolation import states


def _number(value: float) -> str:
    return f"{value:.2f}"


def mot_lines(instances: list[dict[str, Any]], frame_count: int, labels: list[str]) -> str:
    """``gt.txt`` of one video's stored instances; tracks whose label is not in ``labels`` are left out."""
    rows: list[tuple[int, int, str]] = []
    for track in instances:
        if track.get("type") != "track" or track["shape"] == "point" or track["name"] not in labels:
            continue
        label = labels.index(track["name"]) + 1
        for state in states(track, frame_count):
            if state["outside"]:
                continue
            x_min, y_min, x_max, y_max = box_of({"type": track["shape"], **state})  # type: ignore[misc]
            fields = [_number(x_min), _number(y_min), _number(x_max - x_min), _number(y_max - y_min)]
            visibility = "0" if state["occluded"] else "1"
            rows.append(
                (
                    state["frame"],
                    track["track_id"],
                    f"{state['frame'] + 1},{track['track_id']},{','.join(fields)},1,{label},{visibility}\n",
                )
            )
    return "".join(line for _, _, line in sorted(rows))


def labels_txt(labels: list[str]) -> str:
    return "".join(f"{name}\n" for name in labels)


def seqinfo(file: ExportFile) -> str:
    return (
        f"[Sequence]\nname={file.stem}\nimDir=img1\nframeRate={file.fps or 0:g}\nseqLength={file.frame_count}\n"
        f"imWidth={file.width}\nimHeight={file.height}\nimExt=.jpg\n"
    )


def _page(files: list[ExportFile], context: ExportContext) -> dict[str, bytes]:
    members = []
    for file in files:
        if file.is_video:
            gt = mot_lines(file.instances, file.frame_count or 0, context.labels)
            members += [
                (f"{file.stem}/gt/gt.txt", gt.encode()),
                (f"{file.stem}/gt/labels.txt", labels_txt(context.labels).encode()),
                (f"{file.stem}/seqinfo.ini", seqinfo(file).encode()),
            ]
    return {"members": tar_members(members)}


MOT = register(
    ExportFormat(
        name="mot",
        file_name="mot.tar",
        content_type="application/x-tar",
        fragments=("members",),
        render_page=_page,
        head=lambda context: b"",
        tail=lambda context: TAR_END,
        no_references="it holds the tracks of videos, whose frames are not exported (a video stays where it is)",
    )
)
