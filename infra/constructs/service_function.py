"""One Lambda function of the service: the shared code asset, the dependency layer and the common environment.

Every function runs ``functions/`` (one package, ``annolake_service``) on Python 3.12 / arm64 with X-Ray
tracing, logs to its own log group with the stage's retention, and gets an execution role that may write
only to that log group (no AWSLambdaBasicExecutionRole); each construct that uses a function adds the
grants its handler needs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.constructs.dependency_layer import ARCHITECTURE, RUNTIME
from infra.constructs.nag import acknowledge

FUNCTIONS_DIR = Path(__file__).resolve().parents[2] / "functions"
CODE_EXCLUDES = ["**/__pycache__", "**/*.pyc"]


@dataclass(frozen=True)
class FunctionDefaults:
    """What every function of a stage shares."""

    code: lambda_.Code
    layer: lambda_.ILayerVersion
    environment: Mapping[str, str]
    log_retention: logs.RetentionDays
    removal_policy: RemovalPolicy

    def with_environment(self, extra: Mapping[str, str]) -> FunctionDefaults:
        return replace(self, environment={**self.environment, **extra})


def service_code() -> lambda_.Code:
    """The code asset of every function (one object per stack: CDK stages and uploads it once)."""
    return lambda_.Code.from_asset(str(FUNCTIONS_DIR), exclude=CODE_EXCLUDES)


class ServiceFunction(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        defaults: FunctionDefaults,
        handler: str,
        description: str,
        memory_size: int = 512,
        timeout: Duration = Duration.seconds(30),
        environment: Mapping[str, str] | None = None,
        layers: Sequence[lambda_.ILayerVersion] | None = None,
        **function_props: Any,
    ) -> None:
        super().__init__(scope, construct_id)
        self.log_group = logs.LogGroup(
            self, "LogGroup", retention=defaults.log_retention, removal_policy=defaults.removal_policy
        )
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"Execution role of {description}",
        )
        self.log_group.grant_write(self.role)
        self.function = lambda_.Function(
            self,
            "Function",
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            handler=handler,
            code=defaults.code,
            layers=list(layers) if layers is not None else [defaults.layer],  # the dependency layer by default
            description=description,
            memory_size=memory_size,
            timeout=timeout,
            role=self.role,
            log_group=self.log_group,
            tracing=lambda_.Tracing.ACTIVE,
            environment={**defaults.environment, **(environment or {})},
            **function_props,
        )
        acknowledge(
            self.function,
            "L1",
            "Python 3.12 on purpose: the dependency layer is built for cp312 (layers/build.py); the runtime "
            "moves together with the layer build.",
        )
        acknowledge(
            self.role,
            "IAM5",
            "Active X-Ray tracing needs xray:PutTraceSegments and xray:PutTelemetryRecords, which support "
            "no resource-level permissions.",
            findings=["Resource::*"],
        )
