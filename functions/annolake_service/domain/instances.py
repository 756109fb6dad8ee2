"""Annotation instances in the Diffgram packet shape, validated against the image (or video) they sit on.

``{"type": "box", "name": "car", "x_min": 1, "y_min": 1, "x_max": 128, "y_max": 128}``;
polygon/line/point carry ``"points": [{"x": .., "y": ..}]``; a ``tag`` labels the whole file.

``source`` says where an instance's label and geometry come from: ``human`` (drawn by hand), ``model``
(a model's output nobody checked), ``accepted`` (a model's prediction a person kept unchanged) or ``edited``
(one a person changed). The last two carry the ``prediction`` they started as; the server sets them when it
saves, by comparing the instance with that prediction (``domain/prelabels.py``), so a client cannot claim them.

A video's objects are ``track`` instances: one label, a ``track_id`` unique in the file, a ``shape`` (box,
polygon or point), ``attributes`` fixed for the whole track and ``keyframes`` in frame order, each with its
``frame``, the shape's geometry (box: ``x_min``..``y_max``; polygon, point: ``points``), ``outside`` (the object
left the view from this frame on), ``occluded`` and per-frame ``attributes`` (they hold until the next keyframe).
Frames between keyframes are interpolated (``domain/video/interpolation.py``). A ``frame_tag`` labels the
frames ``frame_start``..``frame_end`` (inclusive; one frame when ``frame_end`` is absent); ``tag`` and ``global``
still label the whole video.
"""

from __future__ import annotations

from collections import Counter
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator


class Point(BaseModel):
    model_config = ConfigDict(extra="allow")

    x: float
    y: float


Source = Literal["human", "model", "accepted", "edited"]
CHECKED_SOURCES = ("accepted", "edited")  # set by the server from the instance's ``prediction``


class PredictionRef(BaseModel):
    """The prediction a pre-labelled instance started as: the ``index``-th instance of ``run``'s prediction of
    the file. A draft sends ``run`` and ``index``; the server fills in the rest from the run when it saves."""

    model_config = ConfigDict(extra="forbid")

    run: str = Field(min_length=1)
    index: int = Field(ge=0)
    model: str | None = None
    version: int | None = None
    score: float | None = Field(default=None, ge=0, le=1)


class _Instance(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str | None = Field(default=None, description="instance version id, as last read; absent when new")
    name: str = Field(min_length=1, description="label name")
    attributes: dict[str, Any] = Field(default_factory=dict)
    source: Source = "human"
    prediction: PredictionRef | None = None
    model_name: str | None = None
    score: float | None = Field(default=None, ge=0, le=1)

    @model_validator(mode="after")
    def _checked_source_has_its_prediction(self) -> _Instance:
        if self.source in CHECKED_SOURCES and self.prediction is None:
            raise ValueError(
                f"source {self.source!r} is set by the server for an instance that started as a prediction: "
                "send the draft instance with its 'prediction' ({'run', 'index'}), or give source 'human'"
            )
        return self


class RleMask(BaseModel):
    """A COCO run-length mask in compressed form (``domain/rle.py``), the size of the image."""

    size: tuple[Annotated[int, Field(gt=0)], Annotated[int, Field(gt=0)]] = Field(description="[height, width]")
    counts: str = Field(min_length=1)


class BoxInstance(_Instance):
    type: Literal["box"]
    x_min: float
    y_min: float
    x_max: float
    y_max: float
    iscrowd: bool | None = Field(default=None, description="a crowd region (COCO iscrowd); its mask, if kept")
    mask: RleMask | None = None

    @model_validator(mode="after")
    def _ordered(self) -> BoxInstance:
        if self.x_min > self.x_max or self.y_min > self.y_max:
            raise ValueError("box needs x_min <= x_max and y_min <= y_max")
        return self


class _PointsInstance(_Instance):
    points: list[Point]
    min_points: ClassVar[int] = 1

    @model_validator(mode="after")
    def _enough(self) -> _PointsInstance:
        if len(self.points) < self.min_points:
            raise ValueError(f"{self.type} needs at least {self.min_points} points")  # type: ignore[attr-defined]
        return self


class PolygonInstance(_PointsInstance):
    """One object; ``parts`` are its further rings when it is in several pieces (an occluded car)."""

    type: Literal["polygon"]
    min_points: ClassVar[int] = 3
    parts: list[Annotated[list[Point], Field(min_length=3)]] | None = None


class LineInstance(_PointsInstance):
    type: Literal["line"]
    min_points: ClassVar[int] = 2


class PointInstance(_PointsInstance):
    type: Literal["point"]
    min_points: ClassVar[int] = 1


class TagInstance(_Instance):
    """A whole-file class (``"type": "tag"``)."""

    type: Literal["tag"]


class EllipseInstance(_Instance):
    type: Literal["ellipse"]
    center_x: float
    center_y: float
    width: float = Field(gt=0)
    height: float = Field(gt=0)
    angle: float = 0.0


class KeypointsInstance(_PointsInstance):
    """Named points of one object (e.g. a skeleton); ``points`` may carry a ``name`` each."""

    type: Literal["keypoints"]
    min_points: ClassVar[int] = 1


class GlobalInstance(_Instance):
    """File-level attributes (``"type": "global"``); its ``name`` is conventionally ``"global"``."""

    type: Literal["global"]
    name: str = "global"


TRACK_SHAPES = ("box", "polygon", "point")


class Keyframe(BaseModel):
    """One keyframe of a track: the shape drawn on ``frame`` (geometry by the track's ``shape``)."""

    model_config = ConfigDict(extra="forbid")

    frame: int = Field(ge=0)
    type: Literal["box", "polygon", "point"] | None = Field(
        default=None, description="the shape drawn; the track's shape (stored on every keyframe)"
    )
    outside: bool = False
    occluded: bool = False
    attributes: dict[str, Any] = Field(default_factory=dict, description="per-frame: hold until the next keyframe")
    x_min: float | None = None
    y_min: float | None = None
    x_max: float | None = None
    y_max: float | None = None
    points: list[Point] | None = None


_BOX_FIELDS = ("x_min", "y_min", "x_max", "y_max")


class TrackInstance(_Instance):
    """An object followed through a video's frames (see the module's docstring)."""

    type: Literal["track"]
    track_id: int = Field(ge=0, description="unique among the file's tracks; kept by exports (CVAT, MOT)")
    shape: Literal["box", "polygon", "point"] | None = Field(
        default=None, description="box, polygon or point; absent: the keyframes' `type`"
    )
    keyframes: list[Keyframe] = Field(min_length=1)

    @model_validator(mode="after")
    def _keyframes(self) -> TrackInstance:
        kinds = sorted({k.type for k in self.keyframes if k.type is not None})
        if len(kinds) > 1 or (kinds and self.shape is not None and kinds != [self.shape]):
            raise ValueError(
                f"track {self.track_id}: its keyframes are {kinds}{f' on a {self.shape} track' if self.shape else ''}; "
                "a track keeps one shape: draw another track for another shape"
            )
        if self.shape is None and not kinds:
            raise ValueError(
                f"track {self.track_id}: say what is drawn: `shape` (box, polygon or point) on the track, or "
                "`type` on its keyframes"
            )
        self.shape = self.shape or kinds[0]
        for keyframe in self.keyframes:
            keyframe.type = self.shape
        frames = [k.frame for k in self.keyframes]
        if frames != sorted(set(frames)):
            raise ValueError(
                f"track {self.track_id}: keyframe frames {frames} must be strictly increasing; "
                "sort the keyframes by frame and keep one per frame"
            )
        counts = set()
        for k in self.keyframes:
            where = f"track {self.track_id} keyframe at frame {k.frame}"
            if self.shape == "box":
                missing = [f for f in _BOX_FIELDS if getattr(k, f) is None]
                if missing:
                    raise ValueError(f"{where}: a box keyframe needs {missing} (an outside keyframe too)")
                if k.x_min > k.x_max or k.y_min > k.y_max:  # type: ignore[operator]
                    raise ValueError(f"{where}: box needs x_min <= x_max and y_min <= y_max")
                if k.points is not None:
                    raise ValueError(f"{where}: a box keyframe has no points; drop them or use shape polygon")
                continue
            if any(getattr(k, f) is not None for f in _BOX_FIELDS):
                raise ValueError(f"{where}: a {self.shape} keyframe has points, not x_min/y_min/x_max/y_max")
            least = 3 if self.shape == "polygon" else 1
            if k.points is None or len(k.points) < least:
                raise ValueError(f"{where}: a {self.shape} keyframe needs at least {least} points")
            counts.add(len(k.points))
        if self.shape == "point" and len(counts) > 1:
            raise ValueError(
                f"track {self.track_id}: point keyframes have {sorted(counts)} points; every keyframe of a point "
                "track needs the same number (each point moves on its own)"
            )
        return self


class FrameTagInstance(_Instance):
    """A label on the video's frames ``frame_start``..``frame_end`` (inclusive)."""

    type: Literal["frame_tag"]
    frame_start: int = Field(ge=0)
    frame_end: int | None = Field(default=None, ge=0, description="the last frame tagged; absent: frame_start")

    @model_validator(mode="after")
    def _ordered(self) -> FrameTagInstance:
        if self.frame_end is not None and self.frame_end < self.frame_start:
            raise ValueError(f"frame_tag needs frame_start <= frame_end, not {self.frame_start} > {self.frame_end}")
        return self

    @property
    def last_frame(self) -> int:
        return self.frame_start if self.frame_end is None else self.frame_end


GEOMETRY_TYPES = ("box", "polygon", "line", "point", "ellipse", "keypoints")
VIDEO_TYPES = ("track", "frame_tag")
WHOLE_FILE_TYPES = ("tag", "global")

Instance = Annotated[
    BoxInstance
    | PolygonInstance
    | LineInstance
    | PointInstance
    | TagInstance
    | EllipseInstance
    | KeypointsInstance
    | GlobalInstance
    | TrackInstance
    | FrameTagInstance,
    Field(discriminator="type"),
]
_instance_list = TypeAdapter(list[Instance])


class InvalidInstances(ValueError):
    """The instance list cannot be stored; the message lists each problem with its index."""


def _outside(instance: Any, width: int, height: int) -> bool:
    xs: tuple[float, ...]
    ys: tuple[float, ...]
    if isinstance(instance, BoxInstance):
        xs, ys = (instance.x_min, instance.x_max), (instance.y_min, instance.y_max)
    elif isinstance(instance, _PointsInstance):
        points = [*instance.points, *(p for part in getattr(instance, "parts", None) or [] for p in part)]
        xs = tuple(p.x for p in points)
        ys = tuple(p.y for p in points)
    elif isinstance(instance, EllipseInstance):
        xs, ys = (instance.center_x,), (instance.center_y,)
    elif isinstance(instance, TrackInstance):
        keys = instance.keyframes
        if instance.shape == "box":
            xs = tuple(v for k in keys for v in (k.x_min, k.x_max))  # type: ignore[misc]
            ys = tuple(v for k in keys for v in (k.y_min, k.y_max))  # type: ignore[misc]
        else:
            xs = tuple(p.x for k in keys for p in k.points or [])
            ys = tuple(p.y for k in keys for p in k.points or [])
    else:
        return False
    return min(xs) < 0 or min(ys) < 0 or max(xs) > width or max(ys) > height


def _misfit(box: BoxInstance, width: int, height: int) -> bool:
    return box.mask is not None and tuple(box.mask.size) != (height, width)


def parse_instance_list(raw: Any, *, width: int, height: int, frame_count: int | None = None) -> list[Any]:
    """Validate a packet's ``instance_list`` for an image of ``width`` x ``height`` (a video's frames when
    ``frame_count`` is given: its shapes are tracks and frame tags within frames 0..frame_count-1)."""
    try:
        instances = _instance_list.validate_python(raw)
    except ValidationError as exc:
        problems = "; ".join(f"instance {'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors())
        raise InvalidInstances(problems) from None
    _check_media_kind(instances, frame_count)
    outside = [i for i, inst in enumerate(instances) if _outside(inst, width, height)]
    if outside:
        raise InvalidInstances(f"instances {outside} lie outside the {width}x{height} image; clip them to the image")
    misfit = [i for i, inst in enumerate(instances) if isinstance(inst, BoxInstance) and _misfit(inst, width, height)]
    if misfit:
        raise InvalidInstances(f"the masks of instances {misfit} are not the size of the {width}x{height} image")
    return instances


UNPROBED = 1 << 62  # a bound no probed video reaches: frames and size are checked once it is probed


def parse_unprobed_video_instances(raw: Any) -> list[Any]:
    """A video's instances checked before its probe (an import hands the video to its ingest): the model and
    kinds as ``parse_instance_list`` checks them (tracks, frame tags, whole-video tags); its frame range and
    size are checked against the probed video when the file is registered with them."""
    return parse_instance_list(raw, width=UNPROBED, height=UNPROBED, frame_count=UNPROBED)


def _check_media_kind(instances: list[Any], frame_count: int | None) -> None:
    if frame_count is None:
        on_image = [i for i, inst in enumerate(instances) if inst.type in VIDEO_TYPES]
        if on_image:
            raise InvalidInstances(
                f"instances {on_image} are tracks or frame tags, which belong on videos; this file is an image: "
                "draw them as box, polygon or point instances"
            )
        return
    still = [i for i, inst in enumerate(instances) if inst.type not in (*VIDEO_TYPES, *WHOLE_FILE_TYPES)]
    if still:
        raise InvalidInstances(
            f"instances {still} are image shapes; on a video a shape is a track keyframe: put it in a track "
            "(type 'track', with keyframes) or tag frames with a 'frame_tag'"
        )
    ids = Counter(inst.track_id for inst in instances if inst.type == "track")
    if twice := sorted(track_id for track_id, n in ids.items() if n > 1):
        raise InvalidInstances(f"track ids {twice} are used by several tracks; give each track its own track_id")
    last = frame_count - 1
    for i, inst in enumerate(instances):
        frames = (
            [k.frame for k in inst.keyframes]
            if inst.type == "track"
            else [inst.frame_start, inst.last_frame]
            if inst.type == "frame_tag"
            else []
        )
        beyond = [f for f in frames if f > last]
        if beyond:
            raise InvalidInstances(
                f"instance {i}: frames {beyond} are past the video's last frame {last} (it has {frame_count} "
                f"frames, numbered from 0); move them to frames 0..{last}"
            )


def attribute_values(instances: list[Any]) -> dict[str, list[Any]]:
    """Distinct attribute values per group across the file (instances and file-level), for queries.

    A list (multi-select, or a tree path such as ``["vehicle", "car"]``) contributes each element,
    so a query for ``car`` matches every file with a car at any depth.
    """
    found: dict[str, set] = {}
    for inst in instances:
        per_frame = [k.attributes for k in inst.keyframes] if inst.type == "track" else []
        for group, value in (item for attrs in [inst.attributes, *per_frame] for item in attrs.items()):
            for v in value if isinstance(value, list) else [value]:
                if isinstance(v, bool):
                    v = str(v).lower()
                if isinstance(v, str | int | float):
                    found.setdefault(group, set()).add(v)
    return {group: sorted(vs, key=lambda x: (isinstance(x, str), x)) for group, vs in found.items()}


def label_counts(instances: list[Any]) -> dict[str, int]:
    """Live instance count per label name: the per-file summary that queries filter on.

    On a video a track counts once for its label (tracks per label), whatever frames it spans, and so does a
    frame tag (frame ranges per tag), so ``labels.person >= 1`` finds a video whose only person is on frame 900."""
    return dict(Counter(inst.name for inst in instances if inst.type != "global"))
