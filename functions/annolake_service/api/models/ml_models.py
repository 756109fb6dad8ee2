"""Models, prediction runs, their predictions, evaluation and active-learning selections."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from annolake_service.api.models.imports import PresignedPostPublic
from annolake_service.api.models.paging import NextCursor
from annolake_service.domain.models import MODEL_NAME_PATTERN, ModelSpec


class ModelCreate(ModelSpec):
    """A new version of the model ``name`` (created with version 1)."""

    name: str = Field(pattern=MODEL_NAME_PATTERN, description="the model's name, used in queries")
    secret: str | None = Field(
        default=None,
        min_length=16,
        max_length=256,
        description="http host: the batches' signing secret; generated (and shown once) if absent",
    )


class TensorPublic(BaseModel):
    name: str
    shape: list[int | str | None]
    type: str


class SignaturePublic(BaseModel):
    inputs: list[TensorPublic]
    outputs: list[TensorPublic]


class ModelVersionPublic(BaseModel):
    name: str
    version: int
    status: Literal["awaiting_upload", "ready", "rejected"] = Field(
        description="awaiting_upload until the file is uploaded and checked; rejected says why in status_reason"
    )
    status_reason: str | None
    spec: ModelSpec
    class_labels: list[str | None] = Field(description="the project label of each class by output index")
    signature: SignaturePublic | None
    created_by: str
    created_at: datetime


class ModelVersionCreatedPublic(ModelVersionPublic):
    upload: PresignedPostPublic | None = Field(
        description="onnx host: the form for the ONNX file; then POST …/versions/{version}/check (hosted: null)"
    )
    secret: str | None = Field(
        description="http host: the signing secret of its batches, shown this once (other hosts: null)"
    )


class ModelPublic(BaseModel):
    name: str
    latest_version: int
    latest_run: str | None = Field(description="the newest finished run: what predictions.<model> reads")
    created_by: str
    created_at: datetime


class ModelDetailPublic(ModelPublic):
    versions: list[ModelVersionPublic]


class ModelsPublic(BaseModel):
    models: list[ModelPublic]
    cursor: NextCursor = None


class RunCreate(BaseModel):
    dataset: str = "default"
    query: str | None = Field(default=None, description="a slice query; the run predicts its ready files")
    threshold: float | None = Field(default=None, ge=0, le=1, description="score threshold (the model's if unset)")
    version: int | None = Field(default=None, ge=1, description="the model version (the newest if unset)")


class RunPublic(BaseModel):
    run_id: str
    model: str
    model_version: int
    dataset: str
    query: str | None
    threshold: float
    slice_id: str
    status: str = Field(description="queued, running, completed, completed_with_errors, failed or cancelled")
    status_reason: str | None
    total: int
    done: int
    failed: int
    pending: int
    items_per_second: float | None
    eta_seconds: float | None
    created_by: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class RunFailurePublic(BaseModel):
    file_id: str
    reason: str | None


class RunDetailPublic(RunPublic):
    failures: list[RunFailurePublic] = Field(description="files that failed, with why (the first 100)")


class RunsPublic(BaseModel):
    runs: list[RunPublic]
    cursor: NextCursor = None


class PredictionPublic(BaseModel):
    run_id: str
    file_id: str
    outcome: Literal["done", "failed"]
    instance_list: list[dict[str, Any]] = Field(description="instances with score, model, version and run")
    summary: dict[str, dict[str, float]] = Field(description="label → count and min_score")
    reason: str | None
    predicted_at: datetime


class PredictionsPublic(BaseModel):
    predictions: list[PredictionPublic]
    cursor: NextCursor = None


class EvaluateRequest(BaseModel):
    iou: float = Field(default=0.5, gt=0, le=1)
    score_threshold: float | None = Field(default=None, ge=0, le=1, description="for TP/FP/FN (the run's if unset)")
    fn_weight: float = Field(default=0.5, ge=0, le=1, description="how much a human box the model missed counts")


class AnnotatorDisagreementPublic(BaseModel):
    files: int
    disagreeing: int
    rate: float
    mean_disagreement: float


class EvaluationPublic(BaseModel):
    run_id: str
    evaluation_id: str
    status: Literal["running", "completed", "failed"]
    reason: str | None = Field(default=None, description="why it failed")
    iou: float
    score_threshold: float
    fn_weight: float
    mean_ap: float | None = Field(
        default=None, description="COCOeval bbox AP at this IoU, over classes with human boxes (once completed)"
    )
    per_class_ap: dict[str, float | None] | None = None
    totals: dict[str, int] | None = None
    pr_curves: dict[str, list[tuple[float, float]]] | None = Field(
        default=None,
        description="per class with human boxes: (recall, precision) at COCOeval's 101 recall thresholds "
        "(interpolated precision; their mean is the class's AP)",
    )
    annotators: dict[str, AnnotatorDisagreementPublic] | None = Field(
        default=None,
        description="per author of the files' current human annotations: files evaluated, files disagreeing "
        "with the model, their share (rate) and the mean disagreement",
    )
    file_count: int | None = None
    seconds: float | None = Field(default=None, description="how long the evaluation step took")


class FileEvaluationPublic(BaseModel):
    file_id: str
    tp: int
    fp: int
    fn: int
    mismatches: int
    disagreement: float
    errors: list[dict[str, Any]]


class EvaluationFilesPublic(BaseModel):
    run_id: str
    iou: float
    file_count: int
    offset: int
    files: list[FileEvaluationPublic]
    next_offset: int | None = Field(description="offset of the next page; null on the last")
    cursor: str | None = Field(description="pass as ?cursor= for the next page (instead of offset); null on the last")


class SelectRequest(BaseModel):
    k: int = Field(ge=1, le=10000)
    strategy: Literal["least_confidence", "margin", "entropy"] = "least_confidence"
    seed: int = 0
    per_class_cap: int | None = Field(
        default=None,
        ge=1,
        description="at most this many files per class (the label of the file's least certain prediction; "
        "files without a prediction are one class); fewer than k come back when the classes run out",
    )


class SelectedFilePublic(BaseModel):
    file_id: str
    uncertainty: float
    label: str | None = Field(
        default=None, description="the file's class: the label of its least certain prediction (null: none)"
    )


class SelectionPublic(BaseModel):
    run_id: str
    strategy: str
    seed: int
    per_class_cap: int | None = None
    candidates: int = Field(description="the run's unlabelled files it chose from")
    files: list[SelectedFilePublic]


class ReviewRequest(BaseModel):
    top: int = Field(ge=1, le=10000, description="how many of the most disagreeing files")


class ReviewJobPublic(BaseModel):
    run_id: str
    job_id: str = Field(description="the launched job: each file annotated (from its current version) and reviewed")
    dataset: str = Field(description="review-<run id>: the chosen files, listed (not copied)")
    file_ids: list[str] = Field(description="most disagreeing first; files without disagreement are left out")
