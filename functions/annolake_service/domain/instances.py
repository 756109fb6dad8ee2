"""Annotation instances in the Diffgram packet shape, validated against the image they sit on.

``{"type": "box", "name": "car", "x_min": 1, "y_min": 1, "x_max": 128, "y_max": 128}``;
polygon/line/point carry ``"points": [{"x": .., "y": ..}]``; a ``tag`` labels the whole file.

``source`` says where an instance's label and geometry come from: ``human`` (drawn by hand), ``model``
(a model's output nobody checked), ``accepted`` (a model's prediction a person kept unchanged) or ``edited``
(one a person changed). The last two carry the ``prediction`` they started as; the server sets them when it
saves, by comparing the instance with that prediction (``domain/prelabels.py``), so a client cannot claim them.
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


GEOMETRY_TYPES = ("box", "polygon", "line", "point", "ellipse", "keypoints")

Instance = Annotated[
    BoxInstance
    | PolygonInstance
    | LineInstance
    | PointInstance
    | TagInstance
    | EllipseInstance
    | KeypointsInstance
    | GlobalInstance,
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
    else:
        return False
    return min(xs) < 0 or min(ys) < 0 or max(xs) > width or max(ys) > height


def _misfit(box: BoxInstance, width: int, height: int) -> bool:
    return box.mask is not None and tuple(box.mask.size) != (height, width)


def parse_instance_list(raw: Any, *, width: int, height: int) -> list[Any]:
    """Validate a packet's ``instance_list`` for an image of ``width`` x ``height``."""
    try:
        instances = _instance_list.validate_python(raw)
    except ValidationError as exc:
        problems = "; ".join(f"instance {'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors())
        raise InvalidInstances(problems) from None
    outside = [i for i, inst in enumerate(instances) if _outside(inst, width, height)]
    if outside:
        raise InvalidInstances(f"instances {outside} lie outside the {width}x{height} image; clip them to the image")
    misfit = [i for i, inst in enumerate(instances) if isinstance(inst, BoxInstance) and _misfit(inst, width, height)]
    if misfit:
        raise InvalidInstances(f"the masks of instances {misfit} are not the size of the {width}x{height} image")
    return instances


def attribute_values(instances: list[Any]) -> dict[str, list[Any]]:
    """Distinct attribute values per group across the file (instances and file-level), for queries.

    A list (multi-select, or a tree path such as ``["vehicle", "car"]``) contributes each element,
    so a query for ``car`` matches every file with a car at any depth.
    """
    found: dict[str, set] = {}
    for inst in instances:
        for group, value in inst.attributes.items():
            for v in value if isinstance(value, list) else [value]:
                if isinstance(v, bool):
                    v = str(v).lower()
                if isinstance(v, str | int | float):
                    found.setdefault(group, set()).add(v)
    return {group: sorted(vs, key=lambda x: (isinstance(x, str), x)) for group, vs in found.items()}


def label_counts(instances: list[Any]) -> dict[str, int]:
    """Live instance count per label name: the per-file summary that queries filter on."""
    return dict(Counter(inst.name for inst in instances if inst.type != "global"))
