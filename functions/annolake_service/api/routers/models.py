"""Models (versions, ONNX upload and check) and prediction runs (start, progress, cancel, re-drive, predictions,
evaluation, active-learning selection)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from annolake_service.api.deps import PROJECT_PATH, CanManageJobs, CanReadFiles, CanRunAutomation
from annolake_service.api.models.errors import PROJECT_ERRORS, error_responses
from annolake_service.api.models.ml_models import (
    EvaluateRequest,
    EvaluationFilesPublic,
    EvaluationPublic,
    ModelCreate,
    ModelDetailPublic,
    ModelPublic,
    ModelsPublic,
    ModelVersionCreatedPublic,
    ModelVersionPublic,
    PredictionPublic,
    PredictionsPublic,
    ReviewJobPublic,
    ReviewRequest,
    RunCreate,
    RunDetailPublic,
    RunPublic,
    RunsPublic,
    SelectionPublic,
    SelectRequest,
)
from annolake_service.api.paging import CursorQuery, page_of
from annolake_service.domain.models import ModelSpec
from annolake_service.services import models, predictions

router = APIRouter(prefix=PROJECT_PATH, tags=["models"], responses=PROJECT_ERRORS)


@router.post("/models", status_code=status.HTTP_201_CREATED, responses=error_responses(400, 409))
def register_model(body: ModelCreate, access: CanRunAutomation) -> ModelVersionCreatedPublic:
    """A new version of a model: classes matched to the project's labels by name (unmatched ones are refused
    with their names unless mapped or ignored). An onnx version: upload the file with ``upload``, then check it;
    an http or lambda version (a model the user hosts) is ready at once."""
    spec = ModelSpec.model_validate(body.model_dump(exclude={"name", "secret"}))
    created = models.register_version(
        access.project_id, body.name, spec, author=access.principal.principal_id, secret=body.secret
    )
    return ModelVersionCreatedPublic.model_validate(created)


@router.post("/models/{name}/versions/{version}/check", responses=error_responses(400))
def check_model(name: str, version: int, access: CanRunAutomation) -> ModelVersionPublic:
    """Load the uploaded file with onnxruntime; its inputs and outputs must fit the declared format."""
    return ModelVersionPublic.model_validate(models.check_version(access.project_id, name, version))


@router.get("/models", responses=error_responses(400))
def list_models(access: CanReadFiles, cursor: CursorQuery = None) -> ModelsPublic:
    listed = [ModelPublic.model_validate(m) for m in models.list_models(access.project_id)]
    page, next_cursor = page_of(f"models:{access.project_id}", listed, cursor, lambda m: [m.name])
    return ModelsPublic(models=page, cursor=next_cursor)


@router.get("/models/{name}")
def get_model(name: str, access: CanReadFiles) -> ModelDetailPublic:
    return ModelDetailPublic.model_validate(models.get_model(access.project_id, name))


@router.post("/models/{name}/runs", status_code=status.HTTP_202_ACCEPTED, responses=error_responses(400, 409))
def start_run(name: str, body: RunCreate, access: CanRunAutomation) -> RunDetailPublic:
    """Freeze the slice and predict each of its files with the model (a Step Functions execution)."""
    started = predictions.start_run(
        access.project_id,
        name,
        dataset=body.dataset,
        query=body.query,
        threshold=body.threshold,
        version=body.version,
        author=access.principal.principal_id,
    )
    return RunDetailPublic.model_validate(started)


@router.get("/runs", responses=error_responses(400))
def list_runs(access: CanReadFiles, model: str | None = None, cursor: CursorQuery = None) -> RunsPublic:
    """The project's runs (or one model's), newest first."""
    listed = [RunPublic.model_validate(r) for r in predictions.list_runs(access.project_id, model)]
    page, next_cursor = page_of(
        f"runs:{access.project_id}/{model or ''}",
        listed,
        cursor,
        lambda r: [r.created_at.isoformat(), r.run_id],
        descending=True,
    )
    return RunsPublic(runs=page, cursor=next_cursor)


@router.get("/runs/{run_id}")
def get_run(run_id: str, access: CanReadFiles) -> RunDetailPublic:
    """Progress: done, failed, pending, items per second and an ETA; the failed files with why."""
    return RunDetailPublic.model_validate(predictions.describe_run(access.project_id, run_id))


@router.post("/runs/{run_id}/cancel", responses=error_responses(409))
def cancel_run(run_id: str, access: CanRunAutomation) -> RunDetailPublic:
    return RunDetailPublic.model_validate(predictions.cancel(access.project_id, run_id))


@router.post("/runs/{run_id}/redrive", status_code=status.HTTP_202_ACCEPTED, responses=error_responses(409))
def redrive_run(run_id: str, access: CanRunAutomation) -> RunDetailPublic:
    """Run again what is missing or failed; files already predicted are not predicted twice."""
    return RunDetailPublic.model_validate(predictions.redrive(access.project_id, run_id))


@router.get("/runs/{run_id}/predictions", responses=error_responses(400))
def list_predictions(
    run_id: str,
    access: CanReadFiles,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: CursorQuery = None,
) -> PredictionsPublic:
    """The run's predictions in file id order; a page ends at ``limit`` or at the byte limit, whichever first."""
    page = predictions.predictions_page(access.project_id, run_id, limit=limit, cursor=cursor)
    return PredictionsPublic.model_validate(page)


@router.get("/runs/{run_id}/predictions/{file_id}")
def get_prediction(run_id: str, file_id: str, access: CanReadFiles) -> PredictionPublic:
    return PredictionPublic.model_validate(predictions.file_predictions(access.project_id, run_id, file_id))


@router.post("/runs/{run_id}/evaluate", status_code=status.HTTP_202_ACCEPTED, responses=error_responses(400, 409))
def evaluate_run(run_id: str, body: EvaluateRequest, access: CanRunAutomation) -> EvaluationPublic:
    """Start evaluating the run against the current human annotations (COCOeval AP per class and mAP, TP/FP/FN
    per file) as a step of the prediction state machine; follow it with GET …/evaluation."""
    report = predictions.evaluate(
        access.project_id,
        run_id,
        iou=body.iou,
        score_threshold=body.score_threshold,
        fn_weight=body.fn_weight,
        author=access.principal.principal_id,
    )
    return EvaluationPublic.model_validate(report)


@router.get("/runs/{run_id}/evaluation")
def evaluation_status(run_id: str, access: CanReadFiles) -> EvaluationPublic:
    """The last evaluation requested: running, completed (with mAP, per-class AP, totals) or failed (with why)."""
    return EvaluationPublic.model_validate(predictions.evaluation_status(access.project_id, run_id))


@router.get("/runs/{run_id}/evaluation/files", responses=error_responses(400))
def evaluation_files(
    run_id: str,
    access: CanReadFiles,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: CursorQuery = None,
) -> EvaluationFilesPublic:
    """The last evaluation's files, most disagreeing first; a page ends at ``limit`` or at the byte limit,
    whichever first (``next_offset`` or ``cursor`` carries on)."""
    return EvaluationFilesPublic.model_validate(
        predictions.evaluation_files(access.project_id, run_id, offset=offset, limit=limit, cursor=cursor)
    )


@router.post("/runs/{run_id}/select", responses=error_responses(400))
def select_files(run_id: str, body: SelectRequest, access: CanRunAutomation) -> SelectionPublic:
    """The k most uncertain unlabelled files of the run (the same files for the same seed)."""
    return SelectionPublic.model_validate(
        predictions.select(
            access.project_id,
            run_id,
            k=body.k,
            strategy=body.strategy,
            seed=body.seed,
            per_class_cap=body.per_class_cap,
        )
    )


@router.post("/runs/{run_id}/review", status_code=status.HTTP_201_CREATED, responses=error_responses(400, 404, 409))
def send_to_review(run_id: str, body: ReviewRequest, access: CanManageJobs) -> ReviewJobPublic:
    """Open a job, every file reviewed, over the ``top`` files the last evaluation found most disagreeing."""
    sent = predictions.send_to_review(access.project_id, run_id, top=body.top, author=access.principal.principal_id)
    return ReviewJobPublic.model_validate(sent)
