"""Predicting a chunk's files with a model the user hosts (``host="http"`` or ``"lambda"``): one batch per chunk
in the contract of ``domain/model_hosts.py``, each file with a short-lived presigned GET of its original.

An HTTP batch is signed as webhook deliveries are (``domain/webhooks.py``) with the model version's secret.
A host that cannot be reached after the retries, or whose answer is unusable, fails every file of the batch with
the reason; the run then ends ``completed_with_errors`` and a re-drive sends those files again.
"""

from __future__ import annotations

import json
import time
from typing import Any

from annolake_service.adapters import model_hosts, storage
from annolake_service.adapters import secrets as secret_store
from annolake_service.domain import model_hosts as contract
from annolake_service.domain import webhooks as signing
from annolake_service.domain.entities import FileRecord
from annolake_service.domain.models import ModelVersion
from annolake_service.shared.settings import get_settings

BATCH_EVENT = "predict_batch"


def _send(version: ModelVersion, request: dict[str, Any]) -> Any:
    body = json.dumps(request, separators=(",", ":")).encode()
    spec = version.spec
    if spec.host == "lambda":
        assert spec.function_arn is not None
        return model_hosts.invoke_function(spec.function_arn, body)
    assert spec.url is not None
    timestamp = int(time.time())
    secret = secret_store.read_secret(secret_store.model_secret_name(version.project_id, version.name, version.version))
    headers = {
        signing.EVENT_HEADER: BATCH_EVENT,
        signing.DELIVERY_HEADER: request["run_id"],
        signing.TIMESTAMP_HEADER: str(timestamp),
        signing.SIGNATURE_HEADER: signing.signature(secret, timestamp, body),
    }
    return model_hosts.post_batch(spec.url, body, headers, allow_private=get_settings().allow_private_urls)


def predict_files(
    run_id: str,
    version: ModelVersion,
    file_ids: list[str],
    records: dict[str, FileRecord],
    threshold: float,
    provenance: dict[str, Any],
) -> list[tuple[str, list[dict[str, Any]], str | None]]:
    """``(file id, instances, failure reason)`` for each of ``file_ids``, in order."""
    reasons: dict[str, str] = {}
    sendable: list[FileRecord] = []
    for file_id in file_ids:
        record = records.get(file_id)
        if record is None or record.deleted_at is not None or not record.original_key:
            reasons[file_id] = "ObjectMissing: the file was deleted or has no media"
        else:
            sendable.append(record)
    answers: dict[str, contract.FileAnswer] = {}
    if sendable:
        settings = get_settings()
        urls = storage.presigned_get_urls(
            settings.media_bucket, [r.original_key or "" for r in sendable], settings.presign_ttl_seconds
        )
        items = [contract.BatchItem(r.file_id, url, r.width, r.height) for r, url in zip(sendable, urls, strict=True)]
        asked = [r.file_id for r in sendable]
        try:
            answer = _send(version, contract.batch_request(run_id, version, items))
            answers = contract.read_answer(answer, asked, version, threshold, provenance)
        except model_hosts.HostFailed as exc:
            reasons.update(dict.fromkeys(asked, f"ModelUnreachable: {exc}"))
        except contract.AnswerInvalid as exc:
            reasons.update(dict.fromkeys(asked, f"ModelAnswerInvalid: {exc}"))
    out: list[tuple[str, list[dict[str, Any]], str | None]] = []
    for file_id in file_ids:
        found = answers.get(file_id)
        if found is not None and found.reason is None:
            out.append((file_id, found.instances, None))
        else:
            reason = reasons.get(file_id) or f"ModelAnswerInvalid: {found.reason if found else 'no answer'}"
            out.append((file_id, [], reason))
    return out
