"""The compute stack: functions, the HTTP API, the ingest state machine and its S3 triggers, alarms."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.constructs import nag
from infra.constructs.api import Api
from infra.constructs.dependency_layer import DependencyLayer
from infra.constructs.events import DomainEvents
from infra.constructs.exports import Exports
from infra.constructs.imports import Imports
from infra.constructs.ingest import Ingest
from infra.constructs.monitoring import Monitoring
from infra.constructs.predictions import Predictions
from infra.constructs.query_index import QueryIndex
from infra.constructs.service_function import FunctionDefaults, service_code
from infra.constructs.snapshots import Snapshots
from infra.constructs.webhooks import Webhooks
from infra.constructs.workflow import Workflow
from infra.stacks.data_stack import DataStack

# CDK's singleton that applies bucket notifications (Custom::S3BucketNotifications); its id is fixed.
NOTIFICATIONS_HANDLER_ID = "BucketNotificationsHandler050a0587b7544547bf325f094a3db834"


def secret_prefix(stage: str) -> str:
    return f"annolake/{stage}"


def model_host_function_prefix(stage: str) -> str:
    """The names of the functions lambda-hosted models may be (the model function may invoke only these)."""
    return f"annolake-{stage}-models-"


def common_environment(data: DataStack) -> dict[str, str]:
    """The environment every function gets (``annolake_service.shared.settings`` reads it).

    One name means one value on every function: the local runtime runs all handlers in one process
    with the functions' environments merged.
    """
    return {
        "TABLE_NAME": data.tables.table.table_name,
        "MEDIA_BUCKET": data.storage.media_bucket.bucket_name,
        "DROP_BUCKET": data.storage.drop_bucket.bucket_name,
        "USER_POOL_ID": data.identity.user_pool.user_pool_id,
        "USER_POOL_CLIENT_ID": data.identity.client.user_pool_client_id,
        "STAGE": data.config.name,
        "SECRET_PREFIX": secret_prefix(data.config.name),
        "MODEL_HOST_FUNCTION_PREFIX": model_host_function_prefix(data.config.name),
        "POWERTOOLS_SERVICE_NAME": "annolake",
        "LOG_LEVEL": "INFO",
        # from_url downloads refuse private/loopback/link-local hosts unless the stage allows them (local only)
        "ALLOW_PRIVATE_URLS": "true" if data.config.allow_private_urls else "false",
    }


class AppStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, data: DataStack, **kwargs: Any) -> None:
        config = data.config
        super().__init__(scope, construct_id, description=f"Annolake {config.name}: API, ingest, alarms", **kwargs)
        layer = DependencyLayer(self, "DependencyLayer", removal_policy=config.removal_policy)
        defaults = FunctionDefaults(
            code=service_code(),
            layer=layer.layer,
            environment=common_environment(data),
            log_retention=config.log_retention,
            removal_policy=config.removal_policy,
        )
        # Imported by attributes rather than used directly: their notifications (and CDK's handler that
        # applies them) then live in this stack, so the data stack never references app resources.
        media_bucket, drop_bucket = (
            s3.Bucket.from_bucket_attributes(
                self, f"{bucket.node.id}Ref", bucket_name=bucket.bucket_name, bucket_arn=bucket.bucket_arn
            )
            for bucket in (data.storage.media_bucket, data.storage.drop_bucket)
        )
        self.events = DomainEvents(self, "Events", stage=config.name)
        defaults = defaults.with_environment({"EVENT_BUS_NAME": self.events.bus.event_bus_name})
        # what every job construct takes: its functions' defaults, the stage, the table and the media bucket
        shared: dict[str, Any] = {
            "defaults": defaults,
            "stage": config.name,
            "table": data.tables.table,
            "media_bucket": media_bucket,
        }
        self.ingest = Ingest(self, "Ingest", **shared, drop_bucket=drop_bucket, events=self.events)
        self.imports = Imports(self, "Imports", **shared, events=self.events)
        self.exports = Exports(self, "Exports", **shared)
        self.snapshots = Snapshots(self, "Snapshots", **shared)
        self.workflow = Workflow(self, "Workflow", **shared, events=self.events)
        self.predictions = Predictions(
            self,
            "Predictions",
            **shared,
            removal_policy=config.removal_policy,
            secret_prefix=secret_prefix(config.name),
            hosted_function_prefix=model_host_function_prefix(config.name),
        )
        self.webhooks = Webhooks(
            self,
            "Webhooks",
            defaults=defaults,
            table=data.tables.table,
            events=self.events,
            secret_prefix=secret_prefix(config.name),
        )
        self.query_index = QueryIndex(
            self, "QueryIndex", defaults=defaults, stage=config.name, table=data.tables.table, media_bucket=media_bucket
        )
        self.api = Api(
            self,
            "Api",
            defaults=defaults,
            table=data.tables.table,
            media_bucket=media_bucket,
            drop_bucket=drop_bucket,
            started={
                "INGEST": self.ingest.state_machine,
                "IMPORT": self.imports.state_machine,
                "EXPORT": self.exports.state_machine,
                "SNAPSHOT": self.snapshots.state_machine,  # large snapshots
            },
            workflow=self.workflow,
            predictions=self.predictions,
            events=self.events,
            webhook_secrets_arn=self.webhooks.secrets_arn,
            user_pool=data.identity.user_pool,
        )
        self.query_index.grant_athena(self.api.handler.function)
        self.monitoring = Monitoring(
            self,
            "Monitoring",
            api_function=self.api.handler.function,
            ingest_state_machine=self.ingest.state_machine,
            video_ingest_state_machine=self.ingest.video.state_machine,
            trigger_dead_letter_queue=self.ingest.dead_letter_queue,
            workflow_state_machines={
                "ReviewStateMachine": self.workflow.review_state_machine,
                "LaunchStateMachine": self.workflow.launch_state_machine,
                "PredictStateMachine": self.predictions.state_machine,
            },
            event_dead_letter_queues=[
                *self.events.dead_letter_queues,
                self.query_index.dead_letter_queue,
                self.workflow.progress_dead_letter_queue,
            ],
            scheduled_functions={"QueryIndexCompaction": self.query_index.compactor.function},
            alarm_email=config.alarm_email,
        )
        CfnOutput(self, "ApiUrl", value=self.api.stage.url, description="Base URL of the API (routes under /api/v1)")
        CfnOutput(self, "IngestStateMachineArn", value=self.ingest.state_machine.state_machine_arn)
        CfnOutput(self, "ReviewStateMachineArn", value=self.workflow.review_state_machine.state_machine_arn)
        CfnOutput(self, "EventBusName", value=self.events.bus.event_bus_name)
        self._acknowledge_notifications_handler()

    def _acknowledge_notifications_handler(self) -> None:
        handler = self.node.try_find_child(NOTIFICATIONS_HANDLER_ID)
        if handler is None:
            return
        nag.acknowledge(
            handler,
            "IAM4",
            "CDK's own BucketNotificationsHandler singleton (not configurable) uses the AWS-managed basic "
            "execution role for its logs.",
            findings=["Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"],
        )
