"""What runs in the model function (onnxruntime, numpy, pycocotools in its own layer): checking a model file,
predicting one chunk of a run's files (with onnxruntime, or by a model the user hosts: ``remote_inference``),
and evaluating a run against the human annotations.

The API never imports this module; it calls the model function (``adapters.model_function``) or starts the
prediction state machine.
"""

from __future__ import annotations

import contextvars
import json
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np

from annolake_service.adapters import onnx_runtime, storage
from annolake_service.adapters.dynamo import files as file_repo
from annolake_service.adapters.dynamo import models as model_repo
from annolake_service.adapters.dynamo import predictions as prediction_repo
from annolake_service.domain import evaluation, inference
from annolake_service.domain.models import REMOTE_HOSTS, GraphMismatch, ModelVersion, check_signature
from annolake_service.domain.predictions import EVALUATION_FILES, EVALUATION_SUMMARY, summarize
from annolake_service.services import remote_inference
from annolake_service.services import schema as schema_service
from annolake_service.shared.observability import logger
from annolake_service.shared.settings import get_settings

READ_ATTEMPTS = 3
WRITE_EVERY = 25  # files recorded per batch write (DynamoDB's most per request)
PROGRESS_EVERY = 100  # files recorded per update of the run's live counters (a chunk's worth)
READ_AHEAD = 8  # images fetched at once while the model runs (within the S3 client's 10 pooled connections)


class _Recorder:
    """Records a chunk's outcomes in batch writes of ``WRITE_EVERY`` and bumps the run's live counters once per
    ``PROGRESS_EVERY`` recorded (the counters are made exact by ``recount`` when the run ends or is re-driven,
    so a chunk cut short between a write and its bump loses nothing)."""

    def __init__(self, project_id: str, run_id: str) -> None:
        self.project_id, self.run_id = project_id, run_id
        self.pending: list[prediction_repo.Outcome] = []
        self.unreported = {"done": 0, "failed": 0}

    def add(self, outcome: prediction_repo.Outcome) -> None:
        self.pending.append(outcome)
        if len(self.pending) >= WRITE_EVERY:
            self._write()

    def close(self) -> None:
        self._write()
        self._report()

    def _write(self) -> None:
        if not self.pending:
            return
        prediction_repo.record_predictions(self.project_id, self.run_id, self.pending)
        failed = sum(1 for o in self.pending if o.reason)
        self.unreported["done"] += len(self.pending) - failed
        self.unreported["failed"] += failed
        self.pending = []
        if sum(self.unreported.values()) >= PROGRESS_EVERY:
            self._report()

    def _report(self) -> None:
        if sum(self.unreported.values()):
            prediction_repo.add_progress(self.project_id, self.run_id, **self.unreported)
            self.unreported = {"done": 0, "failed": 0}


def check_model_file(project_id: str, name: str, version: int) -> dict[str, Any]:
    """``{"problem": None | why, "signature": inputs/outputs}`` of the uploaded file of a version."""
    found = model_repo.get_version(project_id, name, version)
    if found is None:
        return {"problem": f"model {name!r} has no version {version}", "signature": None}
    body = storage.read_object(get_settings().media_bucket, found.object_key, max_bytes=200 * 1024 * 1024).body
    try:
        session = onnx_runtime.session_from_bytes(body)
    except onnx_runtime.ModelUnreadable as exc:
        return {"problem": str(exc), "signature": None}
    inputs, outputs = onnx_runtime.signature(session)
    described = {
        "inputs": [{"name": t.name, "shape": list(t.shape), "type": t.type} for t in inputs],
        "outputs": [{"name": t.name, "shape": list(t.shape), "type": t.type} for t in outputs],
    }
    try:
        check_signature(found.spec, inputs, outputs)
    except GraphMismatch as exc:
        return {"problem": str(exc), "signature": described}
    return {"problem": None, "signature": described}


def predict_image(
    session: Any, version: ModelVersion, body: bytes, threshold: float, provenance: dict[str, Any]
) -> tuple[list[dict[str, Any]], list[float] | None]:
    """One image's instances (and a classifier's class distribution)."""
    spec = version.spec
    rgb = inference.decode_rgb(body)
    square, box = inference.letterbox(rgb, spec.input_size)
    tensor = inference.normalise(square, spec)
    input_name = session.get_inputs()[0].name
    if spec.format == "torchvision" and len(session.get_inputs()[0].shape) == 3:
        tensor = tensor[0]
    outputs = session.run(None, {input_name: tensor})
    if spec.format == "yolo":
        found = inference.decode_yolo(outputs[0], spec, box, threshold)
        return inference.detection_instances(found, version.class_labels, provenance), None
    if spec.format == "torchvision":
        boxes, labels, scores = (np.asarray(o) for o in outputs)
        found = inference.decode_torchvision(boxes, labels.astype(np.int64), scores, spec, box, threshold)
        return inference.detection_instances(found, version.class_labels, provenance), None
    probabilities = inference.class_probabilities(outputs[0], spec)
    tags = inference.tag_instances(probabilities, version.class_labels, threshold, provenance)
    return tags, [round(float(p), 6) for p in probabilities]


def _read_media(key: str) -> bytes:
    """The image bytes, retried with backoff on transient storage errors."""
    for attempt in range(READ_ATTEMPTS):
        try:
            return storage.read_object(get_settings().media_bucket, key, max_bytes=100 * 1024 * 1024).body
        except storage.TransientError:
            if attempt == READ_ATTEMPTS - 1:
                raise
            time.sleep(0.5 * 2**attempt)
    raise AssertionError("unreachable")


def predict_chunk(project_id: str, run_id: str, chunk_key: str) -> dict[str, int]:
    """Predict each file of one chunk not yet done in the run; a file that cannot be read fails alone."""
    run = prediction_repo.get_run(project_id, run_id)
    if run is None or run.status == "cancelled":
        return {"done": 0, "failed": 0, "skipped": 0}
    version = model_repo.get_version(project_id, run.model_name, run.model_version)
    assert version is not None, "a run is only started for a ready version"
    file_ids: list[str] = json.loads(
        storage.read_object(get_settings().media_bucket, chunk_key, max_bytes=16 * 1024 * 1024).body
    )
    recorded = prediction_repo.get_predictions(project_id, run_id, file_ids)
    done = {file_id for file_id, p in recorded.items() if p.outcome == "done"}
    todo = [f for f in file_ids if f not in done]
    provenance = {"source": "model", "model": run.model_name, "version": run.model_version, "run": run_id}
    tally = {"done": 0, "failed": 0, "skipped": len(done)}
    recorder = _Recorder(project_id, run_id)
    if version.spec.host in REMOTE_HOSTS:
        records = file_repo.get_files(project_id, todo)
        answered = remote_inference.predict_files(run_id, version, todo, records, run.threshold, provenance)
        outcomes = [prediction_repo.Outcome(f, i, summarize(i), None, reason) for f, i, reason in answered]
        for outcome in outcomes:
            recorder.add(outcome)
        recorder.close()
        tally["failed"] = sum(1 for o in outcomes if o.reason)
        tally["done"] = len(outcomes) - tally["failed"]
        logger.info("prediction chunk done", extra={"run_id": run_id, "chunk": chunk_key, **tally})
        return tally
    session = onnx_runtime.session(version.object_key)
    media = file_repo.get_media_keys(project_id, todo)
    wanted = [(file_id, media.get(file_id)) for file_id in todo]
    for file_id, fetched in _read_ahead(wanted, _read_original):
        instances: list[dict[str, Any]] = []
        probabilities = None
        reason = None
        try:
            body = fetched.result()
            instances, probabilities = predict_image(session, version, body, run.threshold, provenance)
        except (storage.ObjectMissing, storage.ObjectTooLarge, inference.ImageUnreadable) as exc:
            reason = f"{type(exc).__name__}: {exc}"
        recorder.add(prediction_repo.Outcome(file_id, instances, summarize(instances), probabilities, reason))
        tally["failed" if reason else "done"] += 1
    recorder.close()
    logger.info("prediction chunk done", extra={"run_id": run_id, "chunk": chunk_key, **tally})
    return tally


def _read_original(media_key: str | None) -> bytes:
    """The image of a file (``get_media_keys`` gives no key for a file deleted or without media)."""
    if media_key is None:
        raise storage.ObjectMissing("the file was deleted or has no media")
    return _read_media(media_key)


def _read_ahead(
    todo: list[tuple[str, str | None]], read: Callable[[str | None], bytes]
) -> Iterator[tuple[str, Future[bytes]]]:
    """``(file id, future of its bytes)`` in order, with up to ``READ_AHEAD`` reads in flight while the caller
    predicts: a chunk waits on storage about once, not once per file. About ``READ_AHEAD`` images are held at
    once. Each read runs in a copy of the caller's context (what the local runtime knows the function by)."""
    with ThreadPoolExecutor(max_workers=READ_AHEAD, thread_name_prefix="predict-read") as pool:
        futures: list[tuple[str, Future[bytes]]] = []
        for file_id, media_key in todo:
            futures.append((file_id, pool.submit(contextvars.copy_context().run, read, media_key)))
            if len(futures) > READ_AHEAD:
                yield futures.pop(0)
        yield from futures


# --- evaluation ---------------------------------------------------------------------------------------


def evaluation_key(project_id: str, run_id: str) -> str:
    return storage.run_prefix(project_id, run_id) + EVALUATION_FILES


def evaluate_run(
    project_id: str,
    run_id: str,
    *,
    iou: float,
    score_threshold: float,
    fn_weight: float,
    evaluation_id: str | None = None,
) -> dict[str, Any]:
    """Evaluate the run's detections against the files' current human boxes: the full report, then its summary
    (which tells the API that evaluation ``evaluation_id`` is done), go to S3."""
    started = time.perf_counter()
    predicted: dict[str, list[evaluation.Box]] = {}
    for prediction in prediction_repo.iter_predictions(project_id, run_id, outcome="done"):
        predicted[prediction.file_id] = evaluation.boxes_of(prediction.instances)
    humans: dict[str, list[evaluation.Box]] = {}
    authors: dict[str, str] = {}
    ids = list(predicted)
    for start in range(0, len(ids), 100):
        versions: dict[str, int] = {}
        for file_id, (record, instances) in file_repo.get_files_with_instances(
            project_id, ids[start : start + 100]
        ).items():
            humans[file_id] = evaluation.boxes_of([i for i in instances if i.get("source") != "model"])
            versions[file_id] = record.annotation_version
        authors.update(file_repo.version_authors(project_id, versions))
    schema, _ = schema_service.get_schema(project_id)
    report = evaluation.evaluate_run(
        predicted,
        humans,
        list(schema.label_names),
        iou_threshold=iou,
        score_threshold=score_threshold,
        fn_weight=fn_weight,
    )
    files = sorted(report.files, key=lambda f: (-f.disagreement, f.file_id))
    body = {
        "run_id": run_id,
        "iou": iou,
        "score_threshold": score_threshold,
        "fn_weight": fn_weight,
        "mean_ap": report.mean_ap,
        "per_class_ap": report.per_class_ap,
        "totals": report.totals,
        "pr_curves": report.pr_curves,
        "annotators": evaluation.annotator_disagreement(files, authors),
        "file_count": len(files),
        "seconds": round(time.perf_counter() - started, 3),
        "files": [
            {
                "file_id": f.file_id,
                "tp": f.tp,
                "fp": f.fp,
                "fn": f.fn,
                "mismatches": f.mismatches,
                "disagreement": round(f.disagreement, 6),
                "errors": f.errors,
            }
            for f in files
        ],
    }
    bucket = get_settings().media_bucket
    storage.write_object(bucket, evaluation_key(project_id, run_id), json.dumps(body).encode(), "application/json")
    summary = {"evaluation_id": evaluation_id, **{key: value for key, value in body.items() if key != "files"}}
    key = storage.run_prefix(project_id, run_id) + EVALUATION_SUMMARY
    storage.write_object(bucket, key, json.dumps(summary).encode(), "application/json")
    return summary
