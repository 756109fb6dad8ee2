"""What the state machines' Lambda steps share: one retry policy, and the acknowledged grants of their roles."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from infra.constructs import nag
from infra.constructs.service_function import ServiceFunction

RETRIED_ERRORS = [
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
    "TransientError",  # adapters.storage.TransientError: the Lambda error name is the class name
]


def lambda_step(scope: Construct, state_id: str, step: ServiceFunction, **props: Any) -> tasks.LambdaInvoke:
    """A LambdaInvoke state retried on transient errors (2 s, x2 backoff, 3 attempts) and nothing else."""
    task = tasks.LambdaInvoke(
        scope,
        state_id,
        lambda_function=step.function,
        retry_on_service_exceptions=False,  # replaced by the one retrier below
        **props,
    )
    task.add_retry(errors=RETRIED_ERRORS, interval=Duration.seconds(2), max_attempts=3, backoff_rate=2)
    return task


def acknowledge_state_machine_role(
    scope: Construct, machine: sfn.StateMachine, steps: Iterable[ServiceFunction]
) -> None:
    nag.acknowledge(
        machine.role,
        "IAM5",
        "lambda:InvokeFunction on <function arn>:* lets the tasks invoke published versions of the step "
        "functions (LambdaInvoke's grant); CloudWatch Logs delivery and X-Ray actions support no "
        "resource-level permissions.",
        findings=["Resource::*", *(nag.versions_of(scope, step.function) for step in steps)],
    )
