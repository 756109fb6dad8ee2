"""Prediction runs: a model version over a frozen slice, run by a Standard state machine with a Map over chunks.

1. ``start_run`` freezes the slice (``slices.freeze_slice``), records the run and starts an execution.
2. ``plan`` writes the slice's file ids in chunks under the run's prefix (once: a re-drive reuses them) and
   hands their keys to the Map; ``inference.predict_chunk`` (the model function) predicts each chunk.
3. ``finish`` counts the outcomes and makes the run what ``predictions.<model>`` means in queries.

Each file is predicted once per run: a done prediction is never written again, so a retried chunk or a
re-drive (``redrive``: a new execution over the same chunks) adds no duplicates and predicts only what is
missing or failed. ``cancel`` stops the execution; chunks that already started skip their remaining work.
"""

from __future__ import annotations

import itertools
import json
import secrets
from datetime import UTC, datetime
from typing import Any

from annolake_service.adapters import storage, workflows
from annolake_service.adapters.dynamo import files as file_repo
from annolake_service.adapters.dynamo import models as model_repo
from annolake_service.adapters.dynamo import predictions as prediction_repo
from annolake_service.domain import predictions as rules
from annolake_service.domain.models import REMOTE_HOSTS
from annolake_service.domain.predictions import FilePrediction, PredictionRun
from annolake_service.domain.workflow import JobSpec
from annolake_service.services import files, ingest, jobs, page_bytes, projects, slices
from annolake_service.services import models as model_service
from annolake_service.shared.errors import BadRequest, Conflict, NotFound
from annolake_service.shared.settings import get_settings

CHUNK_SIZE = 100  # files per Map iteration: each costs a Lambda invoke, the run and version reads, a chunk object
HOSTED_CHUNK_SIZE = 25  # a hosted model gets a chunk as one batch: up to 4 attempts of 120 s within 15 minutes
ACTIVE = ("queued", "running")
FINISHED = ("completed", "completed_with_errors", "failed", "cancelled")


def _chunks_prefix(project_id: str, run_id: str) -> str:
    return storage.run_prefix(project_id, run_id) + "chunks/"


def progress(run: PredictionRun) -> dict[str, Any]:
    """The run as the API shows it, with pending, items per second and an ETA while it runs."""
    pending = max(0, run.total - run.done - run.failed)
    rate = None
    eta = None
    if run.started_at is not None:
        end = run.finished_at or datetime.now(UTC)
        elapsed = (end - run.started_at).total_seconds()
        if elapsed > 0 and run.done + run.failed:
            rate = round((run.done + run.failed) / elapsed, 3)
            eta = round(pending / rate, 1) if run.status in ACTIVE else 0.0
    return {
        "run_id": run.run_id,
        "model": run.model_name,
        "model_version": run.model_version,
        "dataset": run.dataset,
        "query": run.query,
        "threshold": run.threshold,
        "slice_id": run.slice_id,
        "status": run.status,
        "status_reason": run.status_reason,
        "total": run.total,
        "done": run.done,
        "failed": run.failed,
        "pending": pending,
        "items_per_second": rate,
        "eta_seconds": eta,
        "created_by": run.created_by,
        "created_at": run.created_at.isoformat(),
        "started_at": run.started_at.isoformat() if run.started_at else None,
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
    }


def get_run(project_id: str, run_id: str) -> PredictionRun:
    run = prediction_repo.get_run(project_id, run_id)
    if run is None:
        raise NotFound(f"prediction run {run_id!r} not found in project {project_id!r}")
    return run


def describe_run(project_id: str, run_id: str) -> dict[str, Any]:
    """The run's progress and its first 100 failures. The failures are read only when the live counter has
    some: the read filters the run's whole partition, and a run is polled while its chunks write to it."""
    run = get_run(project_id, run_id)
    failed = prediction_repo.iter_predictions(project_id, run_id, outcome="failed") if run.failed else iter(())
    failures = [{"file_id": p.file_id, "reason": p.reason} for _, p in zip(range(100), failed, strict=False)]
    return {**progress(run), "failures": failures}


def list_runs(project_id: str, model_name: str | None = None) -> list[dict[str, Any]]:
    return [progress(run) for run in prediction_repo.list_runs(project_id, model_name)]


def start_run(
    project_id: str,
    model_name: str,
    *,
    dataset: str,
    query: str | None,
    threshold: float | None,
    version: int | None,
    author: str,
) -> dict[str, Any]:
    found = model_service.ready_version(project_id, model_name, version)
    if threshold is not None and not 0 <= threshold <= 1:
        raise BadRequest("threshold must be between 0 and 1")
    frozen = slices.freeze_slice(project_id, dataset, query)
    run = PredictionRun(
        project_id=project_id,
        run_id=f"{rules.RUN_ID_PREFIX}{secrets.token_hex(8)}",
        model_name=model_name,
        model_version=found.version,
        dataset=frozen["dataset"],
        query=query,
        threshold=found.spec.score_threshold if threshold is None else threshold,
        slice_id=frozen["slice_id"],
        status="queued",
        status_reason=None,
        total=frozen["count"],
        done=0,
        failed=0,
        execution_arn=None,
        created_by=author,
        created_at=datetime.now(UTC),
        started_at=None,
        finished_at=None,
    )
    prediction_repo.create_run(run)
    _start_execution(project_id, run.run_id)
    return describe_run(project_id, run.run_id)


def _start_execution(project_id: str, run_id: str) -> None:
    """Queued before the execution starts: its first step may run before ``start_execution`` returns."""
    prediction_repo.mark_run(project_id, run_id, status="queued")
    try:
        arn = workflows.start_predictions(
            {"project_id": project_id, "run_id": run_id}, run_id=run_id, attempt=secrets.token_hex(4)
        )
    except Exception as exc:
        # recorded as failed, so that the run can be re-driven instead of reading "queued" for ever
        reason = f"the run could not be started: {type(exc).__name__}: {exc}"
        prediction_repo.mark_run(project_id, run_id, status="failed", reason=reason[:1000], finished=True)
        raise
    prediction_repo.set_execution(project_id, run_id, arn)


def cancel(project_id: str, run_id: str) -> dict[str, Any]:
    run = get_run(project_id, run_id)
    if run.status not in ACTIVE:
        raise Conflict(f"run {run_id} is {run.status}, not running; nothing to cancel")
    prediction_repo.mark_run(project_id, run_id, status="cancelled", reason="cancelled by the user", finished=True)
    if run.execution_arn:
        workflows.stop_execution(run.execution_arn, cause="cancelled by the user")
    prediction_repo.recount(project_id, run_id)
    return describe_run(project_id, run_id)


def _execution_ended(run: PredictionRun) -> bool:
    """The run reads as active, but the execution it last started has ended: it failed where its failure could
    not be recorded (the step that records it could not run), so it may be re-driven."""
    return bool(run.execution_arn) and workflows.execution_status(str(run.execution_arn)) != "RUNNING"


def redrive(project_id: str, run_id: str) -> dict[str, Any]:
    """A new execution over the run's chunks: files already predicted are skipped, failed ones tried again."""
    run = get_run(project_id, run_id)
    if run.status in ACTIVE and not _execution_ended(run):
        raise Conflict(f"run {run_id} is already {run.status}")
    _start_execution(project_id, run_id)
    return describe_run(project_id, run_id)


# --- state machine steps ------------------------------------------------------------------------------


def _chunk_size(run: PredictionRun) -> int:
    version = model_repo.get_version(run.project_id, run.model_name, run.model_version)
    return HOSTED_CHUNK_SIZE if version is not None and version.spec.host in REMOTE_HOSTS else CHUNK_SIZE


def plan(project_id: str, run_id: str) -> dict[str, Any]:
    run = get_run(project_id, run_id)
    bucket, prefix = get_settings().media_bucket, _chunks_prefix(project_id, run_id)
    keys = sorted(storage.list_keys(bucket, prefix))
    if not keys:  # the first execution: copy the frozen slice into chunks the run keeps
        total, size = run.total, _chunk_size(run)
        for start in range(0, total, size):
            found = storage.read_slice(
                bucket, storage.slice_key(project_id, run.slice_id), start, min(size, total - start)
            )
            key = f"{prefix}{start // size:05d}.json"
            storage.write_object(bucket, key, json.dumps(found.file_ids).encode(), "application/json")
            keys.append(key)
    done, failed = prediction_repo.recount(project_id, run_id)
    prediction_repo.mark_run(project_id, run_id, status="running", started=True, unless_status=("cancelled",))
    return {
        "chunks": [{"project_id": project_id, "run_id": run_id, "chunk_key": key} for key in keys],
        "done": done,
        "failed": failed,
    }


def finish(project_id: str, run_id: str) -> dict[str, Any]:
    done, failed = prediction_repo.recount(project_id, run_id)
    status = "completed_with_errors" if failed else "completed"
    run = get_run(project_id, run_id)
    if run.status == "cancelled":
        return {"status": run.status, "done": done, "failed": failed}
    model_repo.set_latest_run(project_id, run.model_name, run_id)  # before the run reads as finished
    prediction_repo.mark_run(project_id, run_id, status=status, finished=True, unless_status=("cancelled",))
    return {"status": status, "done": done, "failed": failed}


def fail(project_id: str, run_id: str, error: dict[str, Any]) -> dict[str, Any]:
    reason = ingest.reason_from_error(error)
    prediction_repo.recount(project_id, run_id)
    prediction_repo.mark_run(
        project_id, run_id, status="failed", reason=reason, finished=True, unless_status=("cancelled",)
    )
    return {"status": "failed", "reason": reason}


# --- reading predictions ---------------------------------------------------------------------------------


def file_predictions(project_id: str, run_id: str, file_id: str) -> dict[str, Any]:
    get_run(project_id, run_id)
    found = prediction_repo.get_predictions(project_id, run_id, [file_id]).get(file_id)
    if found is None:
        raise NotFound(f"run {run_id} has no prediction for file {file_id!r}")
    return _describe_prediction(found)


def _describe_prediction(p: FilePrediction) -> dict[str, Any]:
    return {
        "run_id": p.run_id,
        "file_id": p.file_id,
        "outcome": p.outcome,
        "instance_list": p.instances,
        "summary": p.summary,
        "reason": p.reason,
        "predicted_at": p.predicted_at.isoformat(),
    }


def predictions_page(project_id: str, run_id: str, *, limit: int, cursor: str | None = None) -> dict[str, Any]:
    """Up to ``limit`` of the run's predictions in file id order, ending early at the page's byte budget (a file
    may hold hundreds of detections), and the cursor of the next page."""
    get_run(project_id, run_id)
    listing = f"predictions:{project_id}/{run_id}"
    after = page_bytes.position_of(listing, cursor) if cursor else None
    found = prediction_repo.iter_predictions(project_id, run_id, after_file_id=after)
    page, more = page_bytes.take(_describe_prediction(p) for p in itertools.islice(found, limit + 1))
    if len(page) > limit:
        page, more = page[:limit], True
    return {"predictions": page, "cursor": page_bytes.cursor_after(listing, page[-1]["file_id"]) if more else None}


# --- evaluation and active learning ---------------------------------------------------------------------


def evaluate(
    project_id: str, run_id: str, *, iou: float, score_threshold: float | None, fn_weight: float, author: str
) -> dict[str, Any]:
    """Start an evaluation: a step of the prediction state machine (the model function, up to 15 minutes),
    so a large run does not outlast the API's 29 s. ``evaluation_status`` follows it."""
    run = get_run(project_id, run_id)
    if run.status not in ("completed", "completed_with_errors", "cancelled"):
        raise Conflict(f"run {run_id} is {run.status}; evaluate it once it has finished")
    if not 0 < iou <= 1 or not 0 <= fn_weight <= 1:
        raise BadRequest("iou must be in (0, 1] and fn_weight in [0, 1]")
    evaluation_id = f"ev_{secrets.token_hex(6)}"
    request = {
        "project_id": project_id,
        "run_id": run_id,
        "evaluation_id": evaluation_id,
        "iou": iou,
        "score_threshold": run.threshold if score_threshold is None else score_threshold,
        "fn_weight": fn_weight,
    }
    key = storage.run_prefix(project_id, run_id) + rules.EVALUATION_REQUEST
    record = {**request, "execution_arn": None, "requested_by": author, "requested_at": datetime.now(UTC).isoformat()}
    _write_json(key, record)  # before the execution starts: it may finish before start_execution returns
    try:
        arn = workflows.start_predictions(
            {"action": "evaluate", **request}, run_id=run_id, attempt=f"evaluate-{evaluation_id}"
        )
    except Exception as exc:
        _write_json(key, {**record, "start_error": f"{type(exc).__name__}: {exc}"[:2000]})
        raise
    _write_json(key, {**record, "execution_arn": arn})
    return evaluation_status(project_id, run_id)


def _write_json(key: str, body: dict[str, Any]) -> None:
    storage.write_object(get_settings().media_bucket, key, json.dumps(body).encode(), "application/json")


def _read_json(key: str) -> dict[str, Any] | None:
    try:
        return json.loads(storage.read_object(get_settings().media_bucket, key, max_bytes=1024 * 1024).body)
    except storage.ObjectMissing:
        return None


def evaluation_status(project_id: str, run_id: str) -> dict[str, Any]:
    """The last evaluation requested: ``running``, ``completed`` with its summary, or ``failed`` with why
    (its execution ended without a summary: the step's error after its retries)."""
    get_run(project_id, run_id)
    prefix = storage.run_prefix(project_id, run_id)
    request = _read_json(prefix + rules.EVALUATION_REQUEST)
    if request is None:
        raise NotFound(f"run {run_id} has not been evaluated yet; POST …/runs/{run_id}/evaluate first")
    asked = {k: request[k] for k in ("run_id", "evaluation_id", "iou", "score_threshold", "fn_weight")}

    def completed() -> dict[str, Any] | None:
        summary = _read_json(prefix + rules.EVALUATION_SUMMARY)
        if summary is not None and summary.get("evaluation_id") == request["evaluation_id"]:
            return {**summary, **asked, "status": "completed", "reason": None}
        return None

    if found := completed():
        return found
    if request.get("start_error"):
        return {**asked, "status": "failed", "reason": f"the evaluation did not start: {request['start_error']}"}
    if request["execution_arn"] is None:
        return {**asked, "status": "running", "reason": None}  # starting
    ended = workflows.execution_end(request["execution_arn"])
    if ended is not None and ended[0] == "RUNNING":
        return {**asked, "status": "running", "reason": None}
    # The execution may have written its summary and ended between the first read and now: read it again
    # before calling it failed.
    if found := completed():
        return found
    status, error = ended or ("gone", "")
    reason = f"the evaluation's execution ended ({status}) without a result: {error or 'no error given'}"
    return {**asked, "status": "failed", "reason": reason}


def evaluation_files(
    project_id: str, run_id: str, *, offset: int, limit: int, cursor: str | None = None
) -> dict[str, Any]:
    """Per-file results of the last evaluation, most disagreeing first: ``limit`` of them from ``offset`` (or
    where ``cursor`` carries on), fewer when their bytes reach the page's budget (a file's errors list each
    disagreeing box, so a crowded image weighs a lot)."""
    listing = f"evaluation-files:{project_id}/{run_id}"
    if cursor:
        offset = page_bytes.position_of(listing, cursor)
        if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
            raise BadRequest("the cursor is not one of this run's evaluation pages; ask for the page by offset")
    body = _evaluation_report(project_id, run_id)
    files, _ = page_bytes.take(body["files"][offset : offset + limit])
    following = offset + len(files)
    more = following < len(body["files"])
    return {
        "run_id": run_id,
        "iou": body["iou"],
        "file_count": body["file_count"],
        "offset": offset,
        "files": files,
        "next_offset": following if more else None,
        "cursor": page_bytes.cursor_after(listing, following) if more else None,
    }


def _evaluation_report(project_id: str, run_id: str) -> dict[str, Any]:
    """The last evaluation's full report (every file, most disagreeing first)."""
    get_run(project_id, run_id)
    key = storage.run_prefix(project_id, run_id) + rules.EVALUATION_FILES
    try:
        body = storage.read_object(get_settings().media_bucket, key, max_bytes=512 * 1024 * 1024).body
    except storage.ObjectMissing:
        raise NotFound(f"run {run_id} has not been evaluated yet; POST …/runs/{run_id}/evaluate first") from None
    report: dict[str, Any] = json.loads(body)
    return report


def send_to_review(project_id: str, run_id: str, *, top: int, author: str) -> dict[str, Any]:
    """A job over the ``top`` most disagreeing files of the run's last evaluation, every file reviewed: the files are
    listed in the dataset ``review-<run id>`` (the same files, not copies) and the job is launched."""
    if top < 1:
        raise BadRequest("top must be at least 1")
    ranked = _evaluation_report(project_id, run_id)["files"][:top]
    chosen = [f["file_id"] for f in ranked if f["disagreement"] > 0]
    if not chosen:
        raise Conflict(f"run {run_id}'s evaluation found no file where the model and the humans disagree")
    dataset = f"review-{run_id}"
    projects.ensure_dataset(project_id, dataset)
    files.transfer(project_id, chosen, mode="mirror", target_dataset=dataset, source_dataset=None, author=author)
    spec = JobSpec(
        name=f"review {run_id}: {len(chosen)} most disagreeing files",
        instructions=f"The model's run {run_id} disagrees most with the annotations of these files: check them.",
        datasets=[dataset],
        mode="copy_once",
        review_rate=1.0,
    )
    job = jobs.launch(project_id, jobs.create_job(project_id, spec, author=author).job_id)
    return {"run_id": run_id, "job_id": job.job_id, "dataset": dataset, "file_ids": chosen}


def select(
    project_id: str, run_id: str, *, k: int, strategy: str, seed: int, per_class_cap: int | None = None
) -> dict[str, Any]:
    """The ``k`` most uncertain files of the run that have no human annotation yet (at most ``per_class_cap``
    of each class: the label of the file's least certain prediction)."""
    if strategy not in rules.STRATEGIES:
        raise BadRequest(f"strategy must be one of {list(rules.STRATEGIES)}, not {strategy!r}")
    if k < 1:
        raise BadRequest("k must be at least 1")
    if per_class_cap is not None and per_class_cap < 1:
        raise BadRequest("per_class_cap must be at least 1 (or left out for no cap)")
    get_run(project_id, run_id)
    predictions = list(prediction_repo.iter_predictions(project_id, run_id, outcome="done"))
    unlabelled = set()
    ids = [p.file_id for p in predictions]
    for start in range(0, len(ids), 100):
        records = file_repo.get_files(project_id, ids[start : start + 100])
        unlabelled |= {fid for fid, r in records.items() if r.deleted_at is None and not any(r.label_counts.values())}
    candidates = [
        rules.Candidate(p.file_id, *rules.file_uncertainty_and_class(p.instances, p.probabilities, strategy))
        for p in predictions
        if p.file_id in unlabelled
    ]
    chosen = rules.select(candidates, k, seed, per_class_cap)
    return {
        "run_id": run_id,
        "strategy": strategy,
        "seed": seed,
        "per_class_cap": per_class_cap,
        "candidates": len(candidates),
        "files": [{"file_id": c.file_id, "uncertainty": round(c.uncertainty, 6), "label": c.label} for c in chosen],
    }
