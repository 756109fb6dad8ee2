"""Domain events: one EventBridge bus; each consumer gets a rule -> SQS queue (with a dead-letter queue) -> Lambda.

The queue between the rule and the function buffers bursts (a bulk import emits one ``file_ingested`` per
file), gives SQS's retries with partial batch responses, and keeps what still fails in a dead-letter queue
that an alarm watches, instead of EventBridge's fire-and-forget invoke.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.constructs.queues import batched_queue

SOURCE = "annolake"  # adapters/events.py publishes with this source


class DomainEvents(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, stage: str) -> None:
        super().__init__(scope, construct_id)
        self.bus = events.EventBus(self, "Bus", event_bus_name=f"annolake-{stage}")
        self.dead_letter_queues: list[sqs.Queue] = []

    def grant_publish(self, grantee: iam.IGrantable) -> None:
        self.bus.grant_put_events_to(grantee)

    def subscribe(
        self,
        construct_id: str,
        function: lambda_.Function,
        *,
        detail_types: list[str] | None = None,
        batch_size: int = 10,
        max_batching_window: Duration | None = None,
    ) -> sqs.Queue:
        """Deliver the bus's events (of ``detail_types``, or all) to ``function`` through a queue, in batches of
        up to ``batch_size`` gathered for up to ``max_batching_window`` (none: whatever is waiting)."""
        queue, dead_letters = batched_queue(
            self,
            queue_id=f"{construct_id}Queue",
            dead_letters_id=f"{construct_id}DeadLetters",
            function=function,
            batch_size=batch_size,
            max_batching_window=max_batching_window,
            max_receive_count=5,
        )
        pattern = events.EventPattern(source=[SOURCE], detail_type=detail_types) if detail_types else None
        rule = events.Rule(
            self,
            f"{construct_id}Rule",
            event_bus=self.bus,
            event_pattern=pattern or events.EventPattern(source=[SOURCE]),
            description=f"{construct_id}: {', '.join(detail_types) if detail_types else 'every domain event'}",
        )
        rule.add_target(targets.SqsQueue(queue))
        self.dead_letter_queues.append(dead_letters)
        return queue
