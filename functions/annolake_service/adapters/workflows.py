"""Starting Step Functions executions."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from annolake_service.adapters.aws_clients import client
from annolake_service.shared.settings import get_settings


def start_ingest(payload: dict[str, Any], *, event_id: str) -> str | None:
    """Start one ingest execution named after the S3 event; None if that event already started one.

    Where the state machine enforces execution names, a redelivered event stops here; where it does
    not (Express), the ingest's conditional write on the file's natural key makes the rerun a no-op.
    """
    name = hashlib.sha256(event_id.encode()).hexdigest()[:64]
    sfn = client("stepfunctions")
    try:
        response = sfn.start_execution(
            stateMachineArn=get_settings().ingest_state_machine_arn, name=name, input=json.dumps(payload)
        )
    except sfn.exceptions.ExecutionAlreadyExists:
        return None
    return response["executionArn"]


def start_import(payload: dict[str, Any], *, name: str) -> str:
    response = client("stepfunctions").start_execution(
        stateMachineArn=get_settings().import_state_machine_arn, name=name[:80], input=json.dumps(payload)
    )
    return response["executionArn"]
