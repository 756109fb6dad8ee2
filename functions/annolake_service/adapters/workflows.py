"""Starting Step Functions executions."""

from __future__ import annotations

import hashlib
import json
import uuid
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


def start_video_ingest(payload: dict[str, Any]) -> str:
    """Hand an arrived video to the video ingest machine, under a name of its own: a hand-over retried after it
    started one starts a second, which finds the arrival registered (and moved) and records nothing."""
    response = client("stepfunctions").start_execution(
        stateMachineArn=get_settings().video_ingest_state_machine_arn, name=uuid.uuid4().hex, input=json.dumps(payload)
    )
    return response["executionArn"]


def start_import(payload: dict[str, Any], *, name: str) -> str:
    response = client("stepfunctions").start_execution(
        stateMachineArn=get_settings().import_state_machine_arn, name=name[:80], input=json.dumps(payload)
    )
    return response["executionArn"]


def start_export(payload: dict[str, Any], *, name: str) -> str:
    response = client("stepfunctions").start_execution(
        stateMachineArn=get_settings().export_state_machine_arn, name=name[:80], input=json.dumps(payload)
    )
    return response["executionArn"]


def start_snapshot(payload: dict[str, Any], *, name: str) -> str:
    response = client("stepfunctions").start_execution(
        stateMachineArn=get_settings().snapshot_state_machine_arn, name=name[:80], input=json.dumps(payload)
    )
    return response["executionArn"]


def snapshot_execution_arn(name: str) -> str:
    """The ARN ``start_snapshot(..., name=name)`` gives its execution (execution ARNs are derived from names)."""
    machine = get_settings().snapshot_state_machine_arn
    return machine.replace(":stateMachine:", ":execution:", 1) + ":" + name[:80]


def _execution_name(*parts: str) -> str:
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:64]


def start_review(payload: dict[str, Any], *, job_id: str, file_id: str, attempt: str = "") -> str | None:
    """Start the file's review workflow in the job; None if it was already started (names are unique)."""
    sfn = client("stepfunctions")
    try:
        response = sfn.start_execution(
            stateMachineArn=get_settings().review_state_machine_arn,
            name=_execution_name("review", job_id, file_id, attempt),
            input=json.dumps(payload),
        )
    except sfn.exceptions.ExecutionAlreadyExists:
        return None
    return response["executionArn"]


def start_launch(payload: dict[str, Any], *, job_id: str, attempt: str) -> str:
    response = client("stepfunctions").start_execution(
        stateMachineArn=get_settings().launch_state_machine_arn,
        name=_execution_name("launch", job_id, attempt),
        input=json.dumps(payload),
    )
    return response["executionArn"]


def start_predictions(payload: dict[str, Any], *, run_id: str, attempt: str) -> str:
    response = client("stepfunctions").start_execution(
        stateMachineArn=get_settings().predict_state_machine_arn,
        name=_execution_name("predict", run_id, attempt),
        input=json.dumps(payload),
    )
    return response["executionArn"]


def stop_execution(execution_arn: str, *, cause: str) -> None:
    """Stop a running execution; one that already ended (or never existed) is left as it is."""
    sfn = client("stepfunctions")
    try:
        sfn.stop_execution(executionArn=execution_arn, error="Cancelled", cause=cause[:32000])
    except sfn.exceptions.ExecutionDoesNotExist:
        return


class TaskTokenGone(Exception):
    """The workflow no longer waits on this token (it already got the result, or was stopped)."""


def send_task_success(token: str, output: dict[str, Any]) -> None:
    sfn = client("stepfunctions")
    try:
        sfn.send_task_success(taskToken=token, output=json.dumps(output))
    except (sfn.exceptions.TaskTimedOut, sfn.exceptions.InvalidToken, sfn.exceptions.TaskDoesNotExist) as exc:
        raise TaskTokenGone(str(exc)) from exc


def execution_status(execution_arn: str) -> str | None:
    """RUNNING, SUCCEEDED, FAILED, …; None if the execution does not exist (any more)."""
    ended = execution_end(execution_arn)
    return None if ended is None else ended[0]


def execution_end(execution_arn: str) -> tuple[str, str] | None:
    """The execution's status and, when it failed, its error and cause; None if it does not exist (any more)."""
    sfn = client("stepfunctions")
    try:
        described = sfn.describe_execution(executionArn=execution_arn)
    except sfn.exceptions.ExecutionDoesNotExist:
        return None
    error = ": ".join(part for part in (described.get("error"), described.get("cause")) if part)
    return described["status"], error
