"""A Lambda function fed in batches by an SQS queue or by the table's change stream, with the dead-letter queue an
alarm watches."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.constructs import nag


def _dead_letter_queue(scope: Construct, construct_id: str, what: str) -> sqs.Queue:
    """An SSE-SQS, TLS-only queue keeping what failed for 14 days (``what`` it is, for cdk-nag's record)."""
    queue = sqs.Queue(
        scope,
        construct_id,
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        retention_period=Duration.days(14),
    )
    nag.acknowledge(queue, "SQS3", f"This queue is itself {what}.")
    return queue


def batched_queue(
    scope: Construct,
    *,
    queue_id: str,
    dead_letters_id: str,
    function: lambda_.Function,
    batch_size: int,
    max_batching_window: Duration | None,
    max_receive_count: int,
) -> tuple[sqs.Queue, sqs.Queue]:
    """A queue (SSE-SQS, TLS only) whose messages reach ``function`` in batches of up to ``batch_size`` gathered
    for up to ``max_batching_window`` (none: whatever is waiting), reporting partial batch failures; a message
    received ``max_receive_count`` times goes to the dead-letter queue. Returns (queue, dead-letter queue)."""
    dead_letters = _dead_letter_queue(scope, dead_letters_id, "the dead-letter queue of a function's queue")
    queue = sqs.Queue(
        scope,
        queue_id,
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        # AWS's guidance: at least six times the function's timeout, so retries do not overlap an invocation.
        visibility_timeout=Duration.seconds(6 * function.timeout.to_seconds()) if function.timeout else None,
        dead_letter_queue=sqs.DeadLetterQueue(max_receive_count=max_receive_count, queue=dead_letters),
    )
    function.add_event_source(
        sources.SqsEventSource(
            queue, batch_size=batch_size, max_batching_window=max_batching_window, report_batch_item_failures=True
        )
    )
    return queue, dead_letters


def stream_fed(
    scope: Construct,
    *,
    dead_letters_id: str,
    function: lambda_.Function,
    table: dynamodb.ITable,
    filters: Sequence[Mapping[str, Any]] | None = None,
) -> sqs.Queue:
    """``function`` fed by ``table``'s change stream from its oldest record, up to 100 records a batch gathered
    for up to a second (only those matching one of ``filters``, Lambda's event filter patterns); a batch that
    fails is split to isolate a bad record and retried ten times, then described on the returned dead-letter
    queue."""
    dead_letters = _dead_letter_queue(scope, dead_letters_id, "a stream mapping's on-failure queue")
    table.grant_stream_read(function)
    function.add_event_source(
        sources.DynamoEventSource(
            table,
            starting_position=lambda_.StartingPosition.TRIM_HORIZON,
            batch_size=100,
            max_batching_window=Duration.seconds(1),
            bisect_batch_on_error=True,
            retry_attempts=10,
            on_failure=sources.SqsDlq(dead_letters),
            filters=filters,
        )
    )
    return dead_letters
