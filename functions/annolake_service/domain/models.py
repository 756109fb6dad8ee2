"""Registered models: what a version declares, how its classes map onto the project's labels, and whether an
ONNX graph's inputs and outputs fit the declared format.

Formats (``host="onnx"``):

- ``yolo``: input ``1×3×S×S`` in [0, 1] (letterboxed), one output ``1×(4+C)×N``: centre x, centre y, width,
  height in input pixels, then C class scores. Annolake letterboxes and runs NMS.
- ``torchvision``: a detection model exported with ``torch.onnx``: input ``3×H×W`` (or ``1×3×H×W``) and three
  outputs, boxes ``N×4`` (x_min, y_min, x_max, y_max in input pixels), labels ``N`` (integer class index),
  scores ``N``.
- ``classifier``: input ``1×3×S×S``, one output ``1×C`` (logits, or probabilities when ``outputs`` says so).

Hosts ``http`` (an HTTPS endpoint of the user's) and ``lambda`` (a Lambda function of the user's) run the model
themselves and answer batches in the contract of ``domain/model_hosts.py``; they declare no format.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator

ModelFormat = Literal["yolo", "torchvision", "classifier"]
ModelHost = Literal["onnx", "http", "lambda"]
REMOTE_HOSTS = ("http", "lambda")
MODEL_NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9_-]{0,63}$"
MODEL_NAME = re.compile(MODEL_NAME_PATTERN)
MAX_CLASSES = 1000
MAX_MODEL_BYTES = 200 * 1024 * 1024


class Normalisation(BaseModel):
    """``pixel / scale``, then ``(x - mean) / std`` per channel (RGB)."""

    scale: float = Field(default=255.0, gt=0)
    mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    std: tuple[float, float, float] = (1.0, 1.0, 1.0)

    @model_validator(mode="after")
    def _positive_std(self) -> Normalisation:
        if any(s <= 0 for s in self.std):
            raise ValueError("normalisation std values must be positive")
        return self


class ModelSpec(BaseModel):
    """What one version of a model declares: its classes (in output order) and its pre/post-processing."""

    host: ModelHost = "onnx"
    format: ModelFormat | None = Field(default=None, description="how an onnx host's graph is run (onnx only)")
    url: str | None = Field(
        default=None, min_length=8, max_length=2048, description="http host: the endpoint batches are POSTed to"
    )
    function_arn: str | None = Field(
        default=None, max_length=256, description="lambda host: the function invoked with each batch"
    )
    labels: list[str] = Field(min_length=1, max_length=MAX_CLASSES)
    label_map: dict[str, str] = Field(default_factory=dict, description="model class → project label")
    ignore: list[str] = Field(default_factory=list, description="model classes whose predictions are dropped")
    input_size: int = Field(default=640, ge=8, le=4096)
    normalisation: Normalisation = Field(default_factory=Normalisation)
    score_threshold: float = Field(default=0.25, ge=0, le=1)
    nms_iou: float = Field(default=0.45, gt=0, le=1)
    max_detections: int = Field(default=300, ge=1, le=10000)
    outputs: Literal["logits", "probabilities"] = Field(default="logits", description="classifier outputs")

    @model_validator(mode="after")
    def _consistent(self) -> ModelSpec:
        needs = {"onnx": "format", "http": "url", "lambda": "function_arn"}
        if getattr(self, needs[self.host]) is None:
            raise ValueError(f"a model with host {self.host!r} needs {needs[self.host]}")
        stray_options = sorted(option for host, option in needs.items() if host != self.host and getattr(self, option))
        if stray_options:
            raise ValueError(f"{stray_options} do not apply to host {self.host!r}; leave them out")
        if len(set(self.labels)) != len(self.labels):
            repeated = sorted({name for name in self.labels if self.labels.count(name) > 1})
            raise ValueError(f"the model's classes must be distinct; repeated: {repeated}")
        declared = set(self.labels)
        stray = sorted((set(self.label_map) | set(self.ignore)) - declared)
        if stray:
            raise ValueError(f"label_map and ignore name classes the model does not have: {stray}")
        both = sorted(set(self.label_map) & set(self.ignore))
        if both:
            raise ValueError(f"classes both mapped and ignored: {both}; choose one")
        return self


class LabelsUnmatched(ValueError):
    """Some model classes have no project label; ``names`` lists them."""

    def __init__(self, names: list[str], known: Collection[str]) -> None:
        self.names = names
        super().__init__(
            f"the model's classes {names} match no label of the project ({sorted(known)}); add the labels, "
            "map them with label_map={'class': 'label'} or drop them with ignore=[...]"
        )


def class_labels(spec: ModelSpec, project_labels: Collection[str]) -> list[str | None]:
    """The project label of each model class by output index (None: ignored); refuses unmatched classes."""
    resolved: list[str | None] = []
    unmatched = []
    for name in spec.labels:
        if name in spec.ignore:
            resolved.append(None)
            continue
        target = spec.label_map.get(name, name)
        if target not in project_labels:
            unmatched.append(name)
        resolved.append(target)
    if unmatched:
        raise LabelsUnmatched(unmatched, project_labels)
    return resolved


# --- the graph's signature -----------------------------------------------------------------------------


Dim = int | str | None  # onnxruntime gives a symbolic dimension as its name (or None)


@dataclass(frozen=True)
class TensorInfo:
    name: str
    shape: tuple[Dim, ...]
    type: str  # onnxruntime's type string: "tensor(float)", "tensor(int64)", ...


class GraphMismatch(ValueError):
    """The ONNX graph's inputs or outputs do not fit the declared format."""


def _fixed(dim: Dim) -> int | None:
    return dim if isinstance(dim, int) and dim > 0 else None


def _describe(tensors: Sequence[TensorInfo]) -> str:
    return ", ".join(f"{t.name} {list(t.shape)} {t.type}" for t in tensors) or "none"


def check_signature(spec: ModelSpec, inputs: Sequence[TensorInfo], outputs: Sequence[TensorInfo]) -> None:
    """Raise ``GraphMismatch`` naming what the graph has and what ``spec.format`` needs."""
    found = f"the graph has inputs [{_describe(inputs)}] and outputs [{_describe(outputs)}]"
    if len(inputs) != 1:
        raise GraphMismatch(f"a {spec.format} model takes one image input; {found}")
    image = inputs[0]
    if image.type != "tensor(float)":
        raise GraphMismatch(f"the input must be float32 (tensor(float)), not {image.type}; {found}")
    classes = len(spec.labels)
    if spec.format == "torchvision":
        if len(image.shape) not in (3, 4) or _fixed(image.shape[-3]) not in (None, 3):
            raise GraphMismatch(f"a torchvision model takes a 3×H×W (or 1×3×H×W) image; {found}")
        if len(outputs) != 3:
            raise GraphMismatch(f"a torchvision model has three outputs: boxes N×4, labels N, scores N; {found}")
        boxes, labels, scores = outputs
        if len(boxes.shape) != 2 or _fixed(boxes.shape[1]) not in (None, 4) or len(labels.shape) != 1:
            raise GraphMismatch(f"outputs must be boxes N×4, labels N, scores N (in that order); {found}")
        if len(scores.shape) != 1 or "int" not in labels.type:
            raise GraphMismatch(f"outputs must be boxes N×4, labels N (integers), scores N; {found}")
        return
    if len(image.shape) != 4 or _fixed(image.shape[1]) not in (None, 3):
        raise GraphMismatch(f"a {spec.format} model takes a 1×3×S×S image; {found}")
    for axis in (2, 3):
        size = _fixed(image.shape[axis])
        if size is not None and size != spec.input_size:
            raise GraphMismatch(f"the graph's input is {size} pixels but input_size is {spec.input_size}; {found}")
    if len(outputs) != 1:
        raise GraphMismatch(f"a {spec.format} model has one output; {found}")
    out = outputs[0]
    if spec.format == "yolo":
        rows = _fixed(out.shape[1]) if len(out.shape) == 3 else -1
        if len(out.shape) != 3 or (rows is not None and rows != 4 + classes):
            raise GraphMismatch(
                f"a yolo model's output is 1×(4+C)×N, here 1×{4 + classes}×N for the {classes} declared "
                f"classes; {found}"
            )
        return
    width = _fixed(out.shape[-1]) if len(out.shape) == 2 else -1
    if len(out.shape) != 2 or (width is not None and width != classes):
        raise GraphMismatch(f"a classifier's output is 1×C, here 1×{classes} for the declared classes; {found}")


class RegisteredModel(BaseModel):
    project_id: str
    name: str
    latest_version: int
    latest_run: str | None
    created_by: str
    created_at: datetime


class ModelVersion(BaseModel):
    project_id: str
    name: str
    version: int
    spec: ModelSpec
    class_labels: list[str | None]
    status: Literal["awaiting_upload", "ready", "rejected"]
    status_reason: str | None
    object_key: str
    signature: dict[str, Any] | None
    created_by: str
    created_at: datetime
