"""Webhook delivery: every domain event -> (rule, queue) -> a function that POSTs it, signed, to the
project's subscriptions. Signing secrets live in Secrets Manager under ``<SECRET_PREFIX>/webhooks/``."""

from __future__ import annotations

from aws_cdk import ArnFormat, Duration, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from constructs import Construct

from infra.constructs import nag
from infra.constructs.events import DomainEvents
from infra.constructs.service_function import FunctionDefaults, ServiceFunction


def webhook_secrets_arn(scope: Construct, secret_prefix: str) -> str:
    """Every webhook secret's ARN (Secrets Manager appends a random suffix to each name)."""
    return Stack.of(scope).format_arn(
        service="secretsmanager",
        resource="secret",
        resource_name=f"{secret_prefix}/webhooks/*",
        arn_format=ArnFormat.COLON_RESOURCE_NAME,
    )


class Webhooks(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        defaults: FunctionDefaults,
        table: dynamodb.ITable,
        events: DomainEvents,
        secret_prefix: str,
    ) -> None:
        super().__init__(scope, construct_id)
        self.secrets_arn = webhook_secrets_arn(self, secret_prefix)
        self.deliver = ServiceFunction(
            self,
            "Deliver",
            defaults=defaults,
            handler="annolake_service.handlers.webhooks.handler",
            description="webhooks: POST signed domain events to subscribers, with retries",
            timeout=Duration.minutes(3),  # a few attempts per subscriber with backoff and HTTP timeouts
        )
        table.grant_read_write_data(self.deliver.function)
        self.deliver.function.add_to_role_policy(
            iam.PolicyStatement(actions=["secretsmanager:GetSecretValue"], resources=[self.secrets_arn])
        )
        nag.acknowledge(
            self.deliver.role,
            "IAM5",
            "Reads the signing secrets of webhooks, created at run time under one name prefix; the DynamoDB data "
            "grant on the single table covers its GSIs.",
            findings=[f"Resource::{nag.flat_name(self, self.secrets_arn)}", nag.indexes_of(self, table)],
        )
        # Events gathered for up to a second: a batch reads each project's webhooks once, so under load a
        # delivery costs a fraction of a read, not one each; a subscriber hears of an event within ~1 s.
        self.queue = events.subscribe(
            "Webhooks", self.deliver.function, batch_size=5, max_batching_window=Duration.seconds(1)
        )
