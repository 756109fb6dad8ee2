"""Alarms on what needs a person: API errors, failed ingest executions, S3 events the trigger gave up on,
failed scheduled runs."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Aws, Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

PERIOD = Duration.minutes(5)


class Monitoring(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        api_function: lambda_.IFunction,
        ingest_state_machine: sfn.IStateMachine,
        video_ingest_state_machine: sfn.IStateMachine,
        trigger_dead_letter_queue: sqs.IQueue,
        workflow_state_machines: dict[str, sfn.IStateMachine],  # by the name their alarms start with
        event_dead_letter_queues: Sequence[sqs.IQueue],
        scheduled_functions: dict[str, lambda_.IFunction],  # by the name their alarms start with
        alarm_email: str | None,
    ) -> None:
        super().__init__(scope, construct_id)
        # No KMS key: alarm notifications carry alarm metadata only, and CloudWatch cannot publish to a topic
        # encrypted with the AWS-managed SNS key (it would need a customer-managed key and its key policy).
        self.topic = sns.Topic(self, "AlarmTopic", display_name="Annolake alarms", enforce_ssl=True)
        # The topic policy replaces SNS's default one, so the alarms of this account must be let in.
        self.topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowThisAccountsAlarms",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["sns:Publish"],
                resources=[self.topic.topic_arn],
                conditions={
                    "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
                    "ArnLike": {
                        "aws:SourceArn": f"arn:{Aws.PARTITION}:cloudwatch:{Aws.REGION}:{Aws.ACCOUNT_ID}:alarm:*"
                    },
                },
            )
        )
        if alarm_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(alarm_email))

        self.alarms = [
            self._any(
                api_function.metric_errors(period=PERIOD),
                "ApiErrors",
                "The API function raised errors (unhandled exceptions, timeouts).",
            ),
            self._any(
                ingest_state_machine.metric_failed(period=PERIOD),
                "IngestExecutionsFailed",
                "Ingest executions failed (a quarantined file is not a failure).",
            ),
            self._any(
                video_ingest_state_machine.metric_failed(period=PERIOD),
                "VideoIngestExecutionsFailed",
                "Video ingest executions failed (a quarantined video is not a failure): the video is neither ready "
                "nor quarantined. Re-drive the execution once the cause is fixed: only missing segments are decoded.",
            ),
            self._any_visible(
                trigger_dead_letter_queue,
                "TriggerDeadLetters",
                "S3 object-created events the trigger function could not handle after its retries; the files "
                "were not ingested. Redrive them from the dead-letter queue.",
            ),
        ]
        self.alarms += [
            self._any(
                machine.metric_failed(period=PERIOD),
                f"{name}Failed",
                "Workflow executions failed after their retries; the job's files show why. Re-drive them with "
                "POST /jobs/{id}/redrive once the cause is fixed.",
            )
            for name, machine in workflow_state_machines.items()
        ]
        self.alarms += [
            self._any_visible(
                queue,
                f"{queue.node.id}Alarm",
                "Domain events a consumer could not handle after its retries (new files not given to jobs, or "
                "webhook deliveries). Redrive them from the dead-letter queue.",
            )
            for queue in event_dead_letter_queues
        ]
        self.alarms += [
            self._any(
                function.metric_errors(period=PERIOD),
                f"{name}Errors",
                "A scheduled run failed (its log names what); the next run tries again.",
            )
            for name, function in scheduled_functions.items()
        ]
        action = cw_actions.SnsAction(self.topic)
        for alarm in self.alarms:
            alarm.add_alarm_action(action)

    def _any(self, metric: cloudwatch.Metric, construct_id: str, description: str) -> cloudwatch.Alarm:
        """An alarm as soon as the metric counts one in a period."""
        return metric.create_alarm(
            self,
            construct_id,
            alarm_description=description,
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )

    def _any_visible(self, queue: sqs.IQueue, construct_id: str, description: str) -> cloudwatch.Alarm:
        """An alarm as soon as a (dead-letter) queue holds a message."""
        return queue.metric_approximate_number_of_messages_visible(period=PERIOD, statistic="Maximum").create_alarm(
            self,
            construct_id,
            alarm_description=description,
            threshold=0,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
