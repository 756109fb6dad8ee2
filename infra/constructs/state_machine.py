"""A state machine whose steps are Lambda functions: logged, traced, its steps retried on transient errors.

``lambda_step`` builds each step's state with the one retry policy; ``map_job`` the definition of the jobs run
as plan -> Map -> finish / fail (imports, exports, snapshots, predictions), ``MapJobConstruct`` what their
constructs declare alike; ``LoggedStateMachine`` gives the
machine its log group (under ``/aws/vendedlogs/states/``, which keeps Step Functions from growing the account's
size-limited CloudWatch Logs resource policy with one statement per log group), full execution logging,
X-Ray tracing, and its role, whose step grants are acknowledged to cdk-nag.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from infra.constructs import nag
from infra.constructs.service_function import FunctionDefaults, ServiceFunction

LOG_GROUP_PREFIX = "/aws/vendedlogs/states/"
RETRIED_ERRORS = [
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
    "TransientError",  # adapters.aws_clients.TransientError: the Lambda error name is the class name
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


class LoggedStateMachine(Construct):
    """The state machine ``definition`` (built with ``lambda_step`` over ``steps``), logged to its own log group.

    The machine keeps the construct's id as its own (it is the hidden ``Default`` child) and the log group is
    created beside the construct as ``log_group_id``: the logical ids of both stay those they had before this
    construct existed, so a deployed stack does not replace its named log groups and state machines.
    ``include_execution_data``: log states' input and output too (they hold keys only, never user content).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        defaults: FunctionDefaults,
        log_name: str,
        definition: sfn.IChainable,
        state_machine_type: sfn.StateMachineType,
        comment: str,
        steps: Iterable[ServiceFunction],
        state_machine_name: str | None = None,
        timeout: Duration | None = None,
        include_execution_data: bool = False,
        log_group_id: str | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.log_group = logs.LogGroup(
            scope,
            log_group_id or f"{construct_id}Logs",
            log_group_name=f"{LOG_GROUP_PREFIX}{log_name}",
            retention=defaults.log_retention,
            removal_policy=defaults.removal_policy,
        )
        self.state_machine = sfn.StateMachine(
            self,
            "Default",
            state_machine_name=state_machine_name,
            comment=comment,
            definition_body=sfn.DefinitionBody.from_chainable(definition),
            state_machine_type=state_machine_type,
            timeout=timeout,
            logs=sfn.LogOptions(
                destination=self.log_group, level=sfn.LogLevel.ALL, include_execution_data=include_execution_data
            ),
            tracing_enabled=True,
        )
        self.role: iam.IRole = self.state_machine.role
        nag.acknowledge(
            self.role,
            "IAM5",
            "lambda:InvokeFunction on <function arn>:* lets the tasks invoke published versions of the step "
            "functions (LambdaInvoke's grant); CloudWatch Logs delivery and X-Ray actions support no "
            "resource-level permissions.",
            findings=["Resource::*", *(nag.versions_of(scope, step.function) for step in steps)],
        )


@dataclass(frozen=True)
class MapJob:
    """The state ids of a job run as plan -> Map over the plan's items -> finish, with a failure path:

        <plan> -> <map> (<item> on each of ``$.plan.<items>``) -> <finish> -> <succeeded>
           \\________\\____________(any error)____________> <fail> -> <failed>

    The plan's answer is kept at ``$.plan``, the finish's at ``$.outcome``, an error at ``$.error`` and the fail
    step's answer at ``$.failure``; the Map's results are discarded (each item writes its own output)."""

    plan: str
    map: str
    item: str
    finish: str
    fail: str
    failed: str
    succeeded: str
    items: str = "chunks"


def map_job(
    scope: Construct,
    ids: MapJob,
    *,
    plan: ServiceFunction,
    item: ServiceFunction,
    finish: ServiceFunction,
    fail: ServiceFunction,
    max_concurrency: int,
    failed_cause: str,
    failure_handled: bool = False,
) -> sfn.IChainable:
    """The definition ``ids`` names, its states made in ``scope`` (their ids are the ASL state names).

    ``failure_handled``: the fail step records an outcome of the job (a refused input), not a fault, so the
    execution ends in ``<failed>`` as a Succeed state rather than a Fail."""

    def invoke(state_id: str, step: ServiceFunction, result_path: str) -> tasks.LambdaInvoke:
        return lambda_step(scope, state_id, step, payload_response_only=True, result_path=result_path)

    end = (
        sfn.Succeed(scope, ids.failed, comment=failed_cause)
        if failure_handled
        else sfn.Fail(scope, ids.failed, error=ids.failed, cause=failed_cause)
    )
    failed = invoke(ids.fail, fail, "$.failure").next(end)
    planned = invoke(ids.plan, plan, "$.plan")
    mapped = sfn.Map(
        scope,
        ids.map,
        items_path=f"$.plan.{ids.items}",
        max_concurrency=max_concurrency,
        result_path=sfn.JsonPath.DISCARD,
    )
    mapped.item_processor(invoke(ids.item, item, sfn.JsonPath.DISCARD))
    finished = invoke(ids.finish, finish, "$.outcome")
    for state in (planned, mapped, finished):
        state.add_catch(failed, errors=["States.ALL"], result_path="$.error")
    return planned.next(mapped).next(finished).next(sfn.Succeed(scope, ids.succeeded))


class MapJobConstruct(Construct):
    """What every plan -> Map -> finish / fail job declares alike: its step functions (one handler module, one
    memory size), the acknowledgement that a step's table grant covers the GSIs, and its logged Standard
    state machine (``log_group``, ``state_machine``)."""

    def __init__(
        self, scope: Construct, construct_id: str, *, defaults: FunctionDefaults, handlers: str, memory_size: int
    ) -> None:
        super().__init__(scope, construct_id)
        self.defaults = defaults
        self._handlers = handlers
        self._memory_size = memory_size

    def step(
        self, construct_id: str, handler: str, description: str, minutes: int, **function_props: Any
    ) -> ServiceFunction:
        """A step function running ``<handlers>.<handler>`` for at most ``minutes`` (``function_props``: more of
        ``ServiceFunction``'s, ``memory_size`` among them in place of the construct's)."""
        function_props.setdefault("memory_size", self._memory_size)
        return ServiceFunction(
            self,
            construct_id,
            defaults=self.defaults,
            handler=f"{self._handlers}.{handler}",
            description=description,
            timeout=Duration.minutes(minutes),
            **function_props,
        )

    def acknowledge_table_grant(self, table: dynamodb.ITable, *steps: ServiceFunction, grant: str = "data") -> None:
        """Steps whose only wildcard is the one their grant on ``table`` gives on its GSIs."""
        for step in steps:
            nag.acknowledge(
                step.role,
                "IAM5",
                f"The DynamoDB {grant} grant on the single table covers its GSIs.",
                findings=[nag.indexes_of(self, table)],
            )

    def build_machine(
        self,
        *,
        log_name: str,
        comment: str,
        definition: sfn.IChainable,
        timeout: Duration,
        steps: Iterable[ServiceFunction],
        state_machine_name: str | None = None,
    ) -> None:
        machine = LoggedStateMachine(
            self,
            "StateMachine",
            defaults=self.defaults,
            log_name=log_name,
            state_machine_name=state_machine_name,
            comment=comment,
            definition=definition,
            state_machine_type=sfn.StateMachineType.STANDARD,
            timeout=timeout,
            steps=steps,
        )
        self.log_group, self.state_machine = machine.log_group, machine.state_machine
