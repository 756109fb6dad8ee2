"""Registering models: a version declares its classes and processing, its ONNX file is uploaded by presigned
POST, then checked by the model function (onnxruntime loads it and its inputs/outputs must fit the format).

A model the user hosts (``http``: an endpoint; ``lambda``: a function) is ready at once: an ``http`` version's
signing secret (given, or generated) is returned this once and kept in Secrets Manager, as webhooks' are; a
``lambda`` version's function must be named with the deployment's prefix (the only functions the model
function may invoke).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from annolake_service.adapters import model_function, storage
from annolake_service.adapters import secrets as secret_store
from annolake_service.adapters.dynamo import models as model_repo
from annolake_service.adapters.dynamo import predictions as prediction_repo
from annolake_service.domain.models import (
    MAX_MODEL_BYTES,
    MODEL_NAME,
    MODEL_NAME_PATTERN,
    REMOTE_HOSTS,
    LabelsUnmatched,
    ModelSpec,
    ModelVersion,
    RegisteredModel,
    class_labels,
)
from annolake_service.domain.predictions import EVALUATION_FILES, RUN_ID_PREFIX
from annolake_service.domain.url_policy import UrlRefused, check_url
from annolake_service.domain.webhooks import new_secret
from annolake_service.services import schema as schema_service
from annolake_service.shared.errors import BadRequest, Conflict, NotFound
from annolake_service.shared.settings import get_settings

UPLOAD_SECONDS = 3600
FUNCTION_ARN = re.compile(
    r"^arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:(?P<name>[A-Za-z0-9_-]{1,64})(:[\w$-]+)?$"
)


def describe_version(version: ModelVersion) -> dict[str, Any]:
    return {
        "name": version.name,
        "version": version.version,
        "status": version.status,
        "status_reason": version.status_reason,
        "spec": version.spec.model_dump(mode="json"),
        "class_labels": version.class_labels,
        "signature": version.signature,
        "created_by": version.created_by,
        "created_at": version.created_at.isoformat(),
    }


def describe_model(model: RegisteredModel, versions: list[ModelVersion]) -> dict[str, Any]:
    return {
        "name": model.name,
        "latest_version": model.latest_version,
        "latest_run": model.latest_run,
        "created_by": model.created_by,
        "created_at": model.created_at.isoformat(),
        "versions": [describe_version(v) for v in versions],
    }


def _check_host(spec: ModelSpec) -> None:
    """Refuse an http URL the platform would not call, or a function it may not invoke, naming the fix."""
    settings = get_settings()
    if spec.host == "http" and spec.url is not None:
        try:
            scheme, _ = check_url(spec.url)
        except UrlRefused as exc:
            raise BadRequest(f"model url: {exc}") from None
        if scheme != "https" and not settings.allow_private_urls:
            raise BadRequest(f"model url {spec.url!r} must use https")
    if spec.host == "lambda" and spec.function_arn is not None:
        matched = FUNCTION_ARN.fullmatch(spec.function_arn)
        if matched is None:
            raise BadRequest(
                f"function_arn {spec.function_arn!r} is not a Lambda function ARN "
                "(arn:aws:lambda:<region>:<account>:function:<name>)"
            )
        prefix = settings.model_host_function_prefix
        if not matched["name"].startswith(prefix):
            raise BadRequest(
                f"function {matched['name']!r} cannot be invoked by the platform: a model's function must be "
                f"named {prefix}<name> (the prefix its role may invoke); rename or alias it"
            )


def register_version(
    project_id: str, name: str, spec: ModelSpec, *, author: str, secret: str | None = None
) -> dict[str, Any]:
    """A new version: refused when a class matches no project label (named in the error). An ONNX version
    awaits its file (the answer carries the upload form); a hosted one is ready (an http one's secret is in the
    answer, this once)."""
    if not MODEL_NAME.fullmatch(name):
        raise BadRequest(
            f"model name {name!r} must match {MODEL_NAME_PATTERN} (a letter, then letters, digits, _ or -)"
        )
    if secret is not None and spec.host != "http":
        raise BadRequest(f"secret applies to http hosts only, not {spec.host!r}; leave it out")
    _check_host(spec)
    schema, _ = schema_service.get_schema(project_id)
    try:
        labels = class_labels(spec, schema.label_names)
    except LabelsUnmatched as exc:
        raise BadRequest(str(exc), details={"unmatched": exc.names}) from None
    hosted = spec.host in REMOTE_HOSTS
    for _attempt in range(3):
        try:
            version = model_repo.add_version(
                project_id,
                name,
                spec=spec,
                class_labels=labels,
                object_key_for=lambda number: storage.model_key(project_id, name, number),
                author=author,
                status="ready" if hosted else "awaiting_upload",
            )
            break
        except model_repo.VersionRaced:
            continue
    else:
        raise Conflict(f"model {name!r} is being registered by someone else at the same time; try again")
    if spec.host == "http":
        secret = secret or new_secret()
        secret_store.store_secret(secret_store.model_secret_name(project_id, name, version.version), secret)
        return {**describe_version(version), "upload": None, "secret": secret}
    if hosted:
        return {**describe_version(version), "upload": None, "secret": None}
    upload = storage.presigned_post(
        get_settings().media_bucket,
        version.object_key,
        content_type="application/octet-stream",
        max_bytes=MAX_MODEL_BYTES,
        expires_in=UPLOAD_SECONDS,
    )
    return {**describe_version(version), "upload": upload, "secret": None}


def get_version(project_id: str, name: str, version: int | None = None) -> ModelVersion:
    """The version (default: the newest), or NotFound naming what exists."""
    model = model_repo.get_model(project_id, name)
    if model is None:
        known = sorted(m.name for m in model_repo.list_models(project_id))
        raise NotFound(f"model {name!r} not found in project {project_id!r}; registered models: {known}")
    number = version or model.latest_version
    found = model_repo.get_version(project_id, name, number)
    if found is None:
        raise NotFound(f"model {name!r} has no version {number} (its newest is {model.latest_version})")
    return found


def ready_version(project_id: str, name: str, version: int | None = None) -> ModelVersion:
    found = get_version(project_id, name, version)
    if found.status != "ready":
        hint = "upload its file and check it (POST …/check)" if found.status == "awaiting_upload" else "register a new"
        raise Conflict(
            f"model {name!r} version {found.version} is {found.status}"
            + (f" ({found.status_reason})" if found.status_reason else "")
            + f"; {hint} version"
        )
    return found


def check_version(project_id: str, name: str, version: int) -> dict[str, Any]:
    """Have the model function load the uploaded file and compare its graph with the declared format."""
    found = get_version(project_id, name, version)
    if found.status == "ready":
        return describe_version(found)
    if not storage.list_keys(get_settings().media_bucket, found.object_key):
        raise BadRequest(f"upload the ONNX file first (the upload form of model {name!r} version {version})")
    result = model_function.invoke({"action": "check", "project_id": project_id, "name": name, "version": version})
    if result["problem"]:
        model_repo.set_version_status(
            project_id, name, version, status="rejected", reason=result["problem"], signature=result["signature"]
        )
        raise BadRequest(
            f"model {name!r} version {version} does not fit format {found.spec.format!r}: {result['problem']}",
            details={"signature": result["signature"]},
        )
    model_repo.set_version_status(project_id, name, version, status="ready", reason=None, signature=result["signature"])
    return describe_version(get_version(project_id, name, version))


def list_models(project_id: str) -> list[dict[str, Any]]:
    return [describe_model(m, []) for m in model_repo.list_models(project_id)]


def get_model(project_id: str, name: str) -> dict[str, Any]:
    model = model_repo.get_model(project_id, name)
    if model is None:
        raise NotFound(f"model {name!r} not found in project {project_id!r}")
    return describe_model(model, model_repo.list_versions(project_id, name))


def model_names(project_id: str) -> set[str]:
    return {m.name for m in model_repo.list_models(project_id)}


def _run_of(project_id: str, ref: str) -> str | None:
    """A query's run reference: a run id, or a model's latest finished run (None: it has none)."""
    if ref.startswith(RUN_ID_PREFIX):
        return ref
    model = model_repo.get_model(project_id, ref)
    return model.latest_run if model else None


EVAL_METRICS = ("tp", "fp", "fn", "disagreement")


def evaluations_for_query(project_id: str, refs: set[str]) -> dict[str, dict[str, dict[str, float]]]:
    """``{ref: {file id: {tp, fp, fn, disagreement}}}`` for the ``eval.<ref>`` a query names, from the per-file
    results of the run's last finished evaluation (a run not evaluated yet holds no file)."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    for ref in refs:
        run_id = _run_of(project_id, ref)
        out[ref] = {}
        if run_id is None:
            continue
        key = storage.run_prefix(project_id, run_id) + EVALUATION_FILES
        try:
            body = storage.read_object(get_settings().media_bucket, key, max_bytes=512 * 1024 * 1024).body
        except storage.ObjectMissing:
            continue
        for entry in json.loads(body)["files"]:
            out[ref][entry["file_id"]] = {metric: entry[metric] for metric in EVAL_METRICS}
    return out


def _page_predictions(project_id: str, ref: str, file_ids: list[str]) -> tuple[str | None, dict[str, list[dict]]]:
    """What a page asked for with ``predictions=<ref>`` carries: the run that answers (a model's latest finished
    run, or a run id; None while the model has none) and, by file id, the instances (with their scores) it
    predicted for each file it predicted. A file it did not predict, or failed on, is not in the map."""
    if ref.startswith(RUN_ID_PREFIX):
        if prediction_repo.get_run(project_id, ref) is None:
            raise BadRequest(f"predictions={ref!r}: no prediction run with that id in project {project_id!r}")
        run_id: str | None = ref
    else:
        model = model_repo.get_model(project_id, ref)
        if model is None:
            raise BadRequest(
                f"predictions={ref!r}: no model of that name in project {project_id!r}; name a model (its latest "
                "finished run answers) or a run id (pr_…)"
            )
        run_id = model.latest_run
    if run_id is None or not file_ids:
        return run_id, {}
    found = prediction_repo.get_predictions(project_id, run_id, file_ids)
    return run_id, {file_id: p.instances for file_id, p in found.items() if p.outcome == "done"}


def stream_file_id(item: dict[str, Any]) -> str | None:
    """A stream page item's file id; None for a file deleted since the slice froze."""
    return None if item["file"].get("status") == "deleted" else item["file"]["id"]


def attach_predictions(
    project_id: str,
    ref: str | None,
    items: list[dict[str, Any]],
    file_id_of: Callable[[dict[str, Any]], str | None] = stream_file_id,
) -> dict[str, Any]:
    """A page asked for ``predictions=<ref>`` (a model or a run id): each item of a live file (``file_id_of``:
    its file id, None for a deleted one) gets ``predictions``, the instances with scores that run predicted for
    the file (null where it predicted nothing for it); the page's ``predictions_run`` names the run (null while
    the model has no finished run). Not asked: the page's ``predictions_run`` is null."""
    if ref is None:  # items carry ``predictions: null`` as built
        return {"predictions_run": None}
    live = [(item, file_id) for item in items if (file_id := file_id_of(item)) is not None]
    run_id, found = _page_predictions(project_id, ref, [file_id for _, file_id in live])
    for item, file_id in live:
        item["predictions"] = found.get(file_id)
    return {"predictions_run": run_id}


def summaries_for_query(project_id: str, refs: set[str], file_ids: list[str]) -> dict[str, dict[str, dict]]:
    """``{file id: {ref: summary}}`` for the ``predictions.<ref>`` a query names: a model's latest finished
    run, or a run id. A model with no finished run yet gives every file an empty summary."""
    runs = {ref: _run_of(project_id, ref) for ref in refs}
    out: dict[str, dict[str, dict]] = {file_id: {} for file_id in file_ids}
    for ref, run_id in runs.items():
        found = prediction_repo.get_predictions(project_id, run_id, file_ids) if run_id else {}
        for file_id in file_ids:
            prediction = found.get(file_id)
            out[file_id][ref] = prediction.summary if prediction else {}
    return out
