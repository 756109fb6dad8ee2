"""The review and launch state machines' Lambda steps, and the consumer of ``file_ingested`` events.

Each step parses its input and calls one service function.
"""

from __future__ import annotations

import functools
import json
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from annolake_service.domain.workflow import TaskKind
from annolake_service.services import jobs, review_workflow, workflow_progress
from annolake_service.services.steps import step
from annolake_service.shared.observability import logger


def _keys(event: dict[str, Any]) -> tuple[str, str, str]:
    return event["project_id"], event["job_id"], event["file_id"]


@logger.inject_lambda_context
@step
def prepare_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return review_workflow.prepare(*_keys(event))


@logger.inject_lambda_context
@step
def open_task_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return review_workflow.open_task(
        *_keys(event),
        kind=TaskKind(event["kind"]),
        token=event["token"],
        round_=int(event.get("round") or 0),
        slot=int(event.get("slot") or 0),
        authors=event.get("authors") or [],
        send_back_to=event.get("send_back_to"),
        comment=event.get("comment"),
    )


@logger.inject_lambda_context
@step
def consolidate_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return review_workflow.consolidate(*_keys(event), event.get("annotated") or [])


@logger.inject_lambda_context
@step
def complete_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return review_workflow.complete(*_keys(event))


@logger.inject_lambda_context
@step
def fail_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return review_workflow.fail(*_keys(event), event.get("error") or {})


@logger.inject_lambda_context
@step
def plan_launch_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return jobs.plan_launch(event["project_id"], event["job_id"])


@logger.inject_lambda_context
@step
def launch_chunk_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return jobs.launch_chunk(event["project_id"], event["job_id"], event["chunk_key"])


@logger.inject_lambda_context
@step
def finish_launch_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return jobs.finish_launch(event["project_id"], event["job_id"])


@logger.inject_lambda_context
@step
def fail_launch_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return jobs.fail_launch(event["project_id"], event["job_id"], event.get("error") or {})


@logger.inject_lambda_context
def file_ingested_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    """SQS batch of ``file_ingested`` events; failed records are retried by SQS (partial batch response)."""
    project_jobs = functools.cache(jobs.list_jobs)  # each project's jobs read once per batch

    def file_arrived(record: SQSRecord) -> int:
        detail = json.loads(record.body)["detail"]  # the EventBridge event the rule put on the queue
        project_id = detail["project_id"]
        return jobs.file_arrived(project_id, detail["dataset_id"], detail["file_id"], project_jobs(project_id))

    return process_partial_response(
        event=event, record_handler=file_arrived, processor=BatchProcessor(event_type=EventType.SQS), context=context
    )


@logger.inject_lambda_context
def progress_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """A batch of the table's change stream (filtered to tasks submitted and job files completed). A failure
    raises: the stream retries the batch, splits it to find a bad record, then sends it to the dead-letter
    queue."""
    return workflow_progress.apply(event.get("Records", []))
