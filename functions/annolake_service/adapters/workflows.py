"""Starting Step Functions executions."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from annolake_service.adapters.aws_clients import client
from annolake_service.shared.settings import get_settings


def start_ingest(payload: dict[str, Any], *, event_id: str) -> str:
    """Start one ingest execution; its name is derived from the S3 event so retries are traceable."""
    name = hashlib.sha256(event_id.encode()).hexdigest()[:64]
    response = client("stepfunctions").start_execution(
        stateMachineArn=get_settings().ingest_state_machine_arn,
        name=name,
        input=json.dumps(payload),
    )
    return response["executionArn"]
