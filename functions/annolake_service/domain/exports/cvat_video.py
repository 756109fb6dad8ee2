"""CVAT for video 1.1 XML: a video's tracks with their ids, a shape for every frame the track is on (each with
``keyframe``, ``outside`` and ``occluded``), and frame tags as ``<tag>`` per frame; and its reader, which gives
back the same tracks (``read_cvat_video``).

Shapes are written for every frame from a track's first keyframe to the video's end, as CVAT does (interpolated
ones with ``keyframe="0"``), from ``domain/video/interpolation.py``; ``keyframes_only`` writes the keyframes
alone. A track's own attributes are declared ``mutable`` False on its label, the per-keyframe ones and a frame
tag's True (an attribute used both ways is per-keyframe), each with the ``input_type`` and ``values`` of its
schema group where CVAT has the kind. CVAT holds attribute values as text, so they are written and read back
as text; ``typed_instances`` gives them back the kinds of the project's schema (numbers, lists) before an
import is validated. Whole-video ``tag``/``global`` instances have no place in the format and are left out.
Keyframe coordinates are written as Python's shortest round-trip decimal, so a re-import is exact; interpolated
frames get 2 decimals, as CVAT writes them.

As an export format (``cvat_video``): a tar with ``<stem>/annotations.xml`` for each video of the snapshot
(images are left out), every frame of every track written.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from xml.etree import ElementTree as ET
from xml.sax.saxutils import escape, quoteattr

from annolake_service.domain.exports.base import (
    TAR_END,
    ExportContext,
    ExportFile,
    ExportFormat,
    register,
    tar_members,
)
from annolake_service.domain.schema import AttributeGroup, Schema
from annolake_service.domain.video.interpolation import BOX_FIELDS, states

_ELEMENT = {"box": "box", "polygon": "polygon", "point": "points"}
_SHAPE = {element: shape for shape, element in _ELEMENT.items()}


class CvatVideoError(ValueError):
    """The XML is not CVAT for video; the message says where and what to change."""


@dataclass
class CvatVideo:
    name: str
    width: int
    height: int
    frame_count: int
    labels: list[str] = field(default_factory=list)
    instances: list[dict[str, Any]] = field(default_factory=list)
    attribute_groups: list[AttributeGroup] = field(default_factory=list)  # the schema's: how attributes are declared


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value, ensure_ascii=False)


def _number(value: float, exact: bool = True) -> str:
    return repr(float(value)) if exact else f"{value:.2f}"


def _points(points: list[dict[str, float]], exact: bool = True) -> str:
    return ";".join(f"{_number(p['x'], exact)},{_number(p['y'], exact)}" for p in points)


def _sub(parent: ET.Element, tag: str, text: Any = None, **attrib: str) -> ET.Element:
    element = ET.SubElement(parent, tag, attrib)
    if text is not None:
        element.text = str(text)
    return element


def _label_attributes(instances: list[dict[str, Any]]) -> dict[str, dict[str, bool]]:
    """Per label: attribute name -> mutable (set on keyframes or frame tags) or not (the track's own)."""
    found: dict[str, dict[str, bool]] = {}
    for inst in instances:
        names = found.setdefault(inst["name"], {})
        if inst["type"] == "track":
            for key in inst["keyframes"]:
                names.update(dict.fromkeys(key.get("attributes", {}), True))
            for name in inst.get("attributes", {}):
                names.setdefault(name, False)
        else:
            names.update(dict.fromkeys(inst.get("attributes", {}), True))
    return found


def _meta(video: CvatVideo, attributes: dict[str, dict[str, bool]]) -> ET.Element:
    meta = ET.Element("meta")
    task = _sub(meta, "task")
    _sub(task, "name", video.name)
    _sub(task, "size", video.frame_count)
    _sub(task, "mode", "interpolation")
    _sub(task, "start_frame", 0)
    _sub(task, "stop_frame", video.frame_count - 1)
    labels = _sub(task, "labels")
    for name in [*video.labels, *(n for n in attributes if n not in video.labels)]:
        label = _sub(labels, "label")
        _sub(label, "name", name)
        declared = _sub(label, "attributes")
        for attribute, mutable in sorted(attributes.get(name, {}).items()):
            group = next((g for g in video.attribute_groups if g.name == attribute and g.applies_to(name)), None)
            input_type, values = _declared(group)
            item = _sub(declared, "attribute")
            _sub(item, "name", attribute)
            _sub(item, "mutable", "True" if mutable else "False")
            _sub(item, "input_type", input_type)
            _sub(item, "default_value", _default_value(group, values))
            _sub(item, "values", "\n".join(values))
    size = _sub(task, "original_size")
    _sub(size, "width", video.width)
    _sub(size, "height", video.height)
    return meta


def _declared(group: AttributeGroup | None) -> tuple[str, list[str]]:
    """CVAT's ``input_type`` and ``values`` for a schema group: select and radio with their options, a number
    with its bounds (``min``, ``max``, step 1; text without both); text for the kinds CVAT lacks (multi_select,
    tree, date) and for attributes the schema does not hold."""
    if group is None:
        return "text", []
    if group.kind in ("select", "radio"):
        return group.kind, list(group.options)
    if group.kind == "number" and group.min is not None and group.max is not None:
        return "number", [_text(group.min), _text(group.max), "1"]
    return "text", []


def _default_value(group: AttributeGroup | None, values: list[str]) -> str:
    """CVAT's ``default_value``: the group's default where it has one, else the first of the declared values."""
    if group is not None and group.default is not None:
        return _text(group.default)
    return values[0] if values else ""


def _element(tag: str, attrib: str, attributes: dict[str, Any], indent: str) -> str:
    """One shape or tag element as text, ``attrib`` its XML attributes already written (a track has a shape on
    every frame: a tree of them for a long video would take many times the memory and time)."""
    if not attributes:
        return f"{indent}<{tag} {attrib} />\n"
    inner = "".join(
        f"{indent}  <attribute name={quoteattr(name)}>{escape(_text(value))}</attribute>\n"
        for name, value in attributes.items()
    )
    return f"{indent}<{tag} {attrib}>\n{inner}{indent}</{tag}>\n"


def _shape(shape: str, state: dict[str, Any]) -> str:
    exact = state["keyframe"]  # what a re-import reads; interpolated frames get CVAT's 2 decimals
    flags = (
        f'frame="{state["frame"]}" keyframe="{int(state["keyframe"])}" outside="{int(state["outside"])}" '
        f'occluded="{int(state["occluded"])}"'
    )
    if shape == "box":  # numbers need no escaping
        x0, y0, x1, y1 = (_number(state[f], exact) for f in BOX_FIELDS)
        geometry = f'xtl="{x0}" ytl="{y0}" xbr="{x1}" ybr="{y1}"'
    else:
        geometry = f'points="{_points(state["points"], exact)}"'
    return _element(_ELEMENT[shape], f'{flags} {geometry} z_order="0"', state["attributes"], "    ")


def _document(video: CvatVideo, keyframes_only: bool) -> Iterator[str]:
    yield '<?xml version="1.0" encoding="utf-8"?>\n<annotations>\n  <version>1.1</version>\n'
    meta = _meta(video, _label_attributes([i for i in video.instances if i["type"] in ("track", "frame_tag")]))
    ET.indent(meta, space="  ", level=1)
    yield "  " + ET.tostring(meta, encoding="unicode") + "\n"
    tracks = sorted((i for i in video.instances if i["type"] == "track"), key=lambda t: t["track_id"])
    for track in tracks:
        source = "auto" if track.get("source") == "model" else "manual"
        yield f'  <track id="{track["track_id"]}" label={quoteattr(track["name"])} source="{source}">\n'
        for state in states(track, video.frame_count):
            if state["keyframe"] or not keyframes_only:
                yield _shape(track["shape"], state)
        yield "  </track>\n"
    for tag in (i for i in video.instances if i["type"] == "frame_tag"):
        last = tag["frame_start"] if tag.get("frame_end") is None else tag["frame_end"]
        for frame in range(tag["frame_start"], last + 1):
            attrib = f'frame="{frame}" label={quoteattr(tag["name"])} source="manual"'
            yield _element("tag", attrib, tag.get("attributes", {}), "  ")
    yield "</annotations>\n"


def write_cvat_video(video: CvatVideo, *, keyframes_only: bool = False) -> bytes:
    """The XML document of ``video`` (its ``instances`` as stored: tracks and frame tags)."""
    return "".join(_document(video, keyframes_only)).encode()


def _page(files: list[ExportFile], context: ExportContext) -> dict[str, bytes]:
    members = []
    for file in files:
        if file.is_video:
            video = CvatVideo(
                file.name,
                file.width,
                file.height,
                file.frame_count or 0,
                context.labels,
                file.instances,
                context.attribute_groups,
            )
            members.append((f"{file.stem}/annotations.xml", write_cvat_video(video)))
    return {"members": tar_members(members)}


CVAT_VIDEO = register(
    ExportFormat(
        name="cvat_video",
        file_name="cvat_video.tar",
        content_type="application/x-tar",
        fragments=("members",),
        render_page=_page,
        head=lambda context: b"",
        tail=lambda context: TAR_END,
        no_references="it holds the tracks of videos, whose frames are not exported (a video stays where it is)",
    )
)


# --- reading ---------------------------------------------------------------------------------------------------


def _int(element: ET.Element | None, what: str) -> int:
    if element is None:
        raise CvatVideoError(f"the XML has no {what}; export it from CVAT as 'CVAT for video 1.1'")
    try:
        return int((element.text or "").strip())
    except ValueError:
        raise CvatVideoError(f"{what} is {element.text!r}, not a whole number") from None


def _float(element: ET.Element, name: str, where: str) -> float:
    try:
        return float(element.attrib[name])
    except (KeyError, ValueError):
        raise CvatVideoError(f"{where}: attribute {name!r} is {element.get(name)!r}, not a number") from None


def _parse_points(text: str, where: str) -> list[dict[str, float]]:
    try:
        pairs = [pair.split(",") for pair in text.strip().split(";") if pair]
        return [{"x": float(x), "y": float(y)} for x, y in pairs]
    except ValueError:
        raise CvatVideoError(f"{where}: points {text[:60]!r} are not 'x,y;x,y;...'") from None


def _attributes(element: ET.Element) -> dict[str, str]:
    return {a.attrib["name"]: a.text or "" for a in element.findall("attribute") if "name" in a.attrib}


def _keyframe(element: ET.Element, shape: str, mutable: set[str], where: str) -> dict[str, Any]:
    key: dict[str, Any] = {
        "frame": int(element.attrib["frame"]),
        "outside": element.get("outside") == "1",
        "occluded": element.get("occluded") == "1",
    }
    if shape == "box":
        key.update(zip(BOX_FIELDS, (_float(element, n, where) for n in ("xtl", "ytl", "xbr", "ybr")), strict=True))
    else:
        key["points"] = _parse_points(element.get("points", ""), where)
    per_frame = {k: v for k, v in _attributes(element).items() if k in mutable}
    if per_frame:
        key["attributes"] = per_frame
    return key


def read_cvat_video(xml: bytes | str) -> CvatVideo:
    """The tracks (keyframes only: shapes with ``keyframe="1"``) and frame tags of a CVAT for video document."""
    text = xml if isinstance(xml, str) else xml.decode("utf-8", "replace")
    if "<!DOCTYPE" in text or "<!ENTITY" in text:  # what an entity expansion (or external entity) attack needs
        raise CvatVideoError("the XML declares a DOCTYPE or entities; CVAT never writes them: remove them")
    try:
        root = ET.fromstring(xml)  # noqa: S314 - no DTD or entity can be in it (refused above)
    except ET.ParseError as exc:
        raise CvatVideoError(f"not well-formed XML: {exc}") from None
    if root.tag != "annotations":
        raise CvatVideoError(f"the root element is <{root.tag}>, not <annotations>")
    task = root.find("meta/task")
    if task is None:
        task = root.find("meta/job")
    if task is None:
        raise CvatVideoError("the XML has no <meta><task>; export it from CVAT as 'CVAT for video 1.1'")
    frame_count = _int(task.find("size"), "<size> (the frame count)")
    mutable: dict[str, set[str]] = {}
    labels = []
    for label in task.findall("labels/label"):
        name = (label.findtext("name") or "").strip()
        labels.append(name)
        mutable[name] = {
            (a.findtext("name") or "").strip()
            for a in label.findall("attributes/attribute")
            if (a.findtext("mutable") or "").strip().lower() == "true"
        }
    video = CvatVideo(
        name=task.findtext("name") or "",
        width=int(task.findtext("original_size/width") or 0),
        height=int(task.findtext("original_size/height") or 0),
        frame_count=frame_count,
        labels=labels,
    )
    for element in root.findall("track"):
        video.instances.append(_track(element, mutable))
    video.instances += _frame_tags(root.findall("tag"), mutable)
    return video


def _track(element: ET.Element, mutable: dict[str, set[str]]) -> dict[str, Any]:
    where = f"track {element.get('id')!r}"
    shapes = [child for child in element if child.tag in _SHAPE]
    if not shapes:
        raise CvatVideoError(f"{where} has no box, polygon or points shapes")
    kinds = {child.tag for child in shapes}
    if len(kinds) > 1:
        raise CvatVideoError(f"{where} mixes {sorted(kinds)}; a track has one kind of shape")
    shape = _SHAPE[shapes[0].tag]
    label = element.get("label", "")
    changing = mutable.get(label, set())
    keyframes = [
        _keyframe(s, shape, changing, f"{where} frame {s.get('frame')}") for s in shapes if s.get("keyframe") == "1"
    ]
    track_attributes = {k: v for k, v in _attributes(shapes[0]).items() if k not in changing}
    try:
        track_id = int(element.attrib["id"])
    except (KeyError, ValueError):
        raise CvatVideoError(f"{where}: a track's id is a whole number") from None
    track: dict[str, Any] = {"type": "track", "name": label, "track_id": track_id, "shape": shape}
    if element.get("source") == "auto":
        track["source"] = "model"
    if track_attributes:
        track["attributes"] = track_attributes
    track["keyframes"] = keyframes
    return track


def _frame_tags(elements: list[ET.Element], mutable: dict[str, set[str]]) -> list[dict[str, Any]]:
    """``<tag>`` per frame, joined back into ranges of consecutive frames with the same label and attributes."""
    tags: list[dict[str, Any]] = []
    open_by: dict[tuple[str, str], dict[str, Any]] = {}
    for element in sorted(elements, key=lambda e: int(e.get("frame", "0"))):
        frame, label, attributes = int(element.get("frame", "0")), element.get("label", ""), _attributes(element)
        key = (label, json.dumps(attributes, sort_keys=True))
        current = open_by.get(key)
        if current is not None and current["frame_end"] == frame - 1:
            current["frame_end"] = frame
            continue
        current = {"type": "frame_tag", "name": label, "frame_start": frame, "frame_end": frame}
        if attributes:
            current["attributes"] = attributes
        tags.append(current)
        open_by[key] = current
    return tags


def typed_instances(instances: list[dict[str, Any]], schema: Schema) -> list[dict[str, Any]]:
    """Instances read from a document with their attribute values (text in CVAT) in the kinds of ``schema``'s
    groups: a track's own and its keyframes', and a frame tag's."""
    typed = []
    for instance in instances:
        label = instance.get("name")
        body = dict(instance)
        if "attributes" in body:
            body["attributes"] = schema.typed_attributes(label, body["attributes"])
        if body.get("type") == "track":
            body["keyframes"] = [
                {**key, "attributes": schema.typed_attributes(label, key["attributes"])} if "attributes" in key else key
                for key in body["keyframes"]
            ]
        typed.append(body)
    return typed
