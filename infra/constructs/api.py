"""The HTTP API: every ``/api/*`` request goes to one Lambda running the FastAPI app (Mangum).

There is no gateway authorizer on purpose: the app authenticates each request itself, with a Cognito JWT
verified against the user pool's JWKS or with a project API key (client id + secret), because API keys
are project-scoped records in DynamoDB that a JWT authorizer cannot check.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

import jsii
from aws_cdk import ArnFormat, Duration, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk.aws_apigatewayv2_integrations import HttpLambdaIntegration
from constructs import Construct

from infra.constructs import nag
from infra.constructs.events import DomainEvents
from infra.constructs.predictions import Predictions
from infra.constructs.service_function import FunctionDefaults, ServiceFunction
from infra.constructs.workflow import Workflow

ACCESS_LOG_FORMAT = {
    "requestId": "$context.requestId",
    "ip": "$context.identity.sourceIp",
    "requestTime": "$context.requestTime",
    "httpMethod": "$context.httpMethod",
    "routeKey": "$context.routeKey",
    "path": "$context.path",
    "status": "$context.status",
    "protocol": "$context.protocol",
    "responseLength": "$context.responseLength",
    "responseLatency": "$context.responseLatency",
    "integrationError": "$context.integrationErrorMessage",
}


class Api(Construct):
    """The HTTP API and its function. ``started``: the state machines it starts, by the name of the variable
    that gives it their ARN (``<NAME>_STATE_MACHINE_ARN``); the workflow's and predictions' machines it also
    describes, stops or answers."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        defaults: FunctionDefaults,
        table: dynamodb.ITable,
        media_bucket: s3.IBucket,
        drop_bucket: s3.IBucket,
        started: Mapping[str, sfn.IStateMachine],
        workflow: Workflow,
        predictions: Predictions,
        events: DomainEvents,
        webhook_secrets_arn: str,
        user_pool: cognito.IUserPool,
        rate_limit: int = 200,
        burst_limit: int = 400,
    ) -> None:
        super().__init__(scope, construct_id)
        self.handler = ServiceFunction(
            self,
            "Handler",
            defaults=defaults,
            handler="annolake_service.api.handler.handler",
            description="api: the FastAPI app behind the HTTP API",
            memory_size=1024,
            timeout=Duration.seconds(29),  # API Gateway's integration timeout
            # Cold starts resume from a snapshot of the initialized app (the imports of FastAPI, pydantic and the
            # routes) instead of importing it; only published versions snapshot, so the API calls the alias.
            snap_start=lambda_.SnapStartConf.ON_PUBLISHED_VERSIONS,
            environment={
                **{f"{name}_STATE_MACHINE_ARN": machine.state_machine_arn for name, machine in started.items()},
                "REVIEW_STATE_MACHINE_ARN": workflow.review_arn,
                "LAUNCH_STATE_MACHINE_ARN": workflow.launch_arn,
                "PREDICT_STATE_MACHINE_ARN": predictions.state_machine.state_machine_arn,
                "MODEL_FUNCTION_NAME": predictions.model.function.function_name,
            },
        )
        function = self.handler.function
        self.alias = lambda_.Alias(
            self,
            "Live",
            alias_name="live",
            version=function.current_version,
            description="the API's published version (SnapStart snapshots published versions only)",
        )
        import_executions = self._executions_of(started["IMPORT"])
        export_executions = self._executions_of(started["EXPORT"])
        table.grant_read_write_data(function)
        media_bucket.grant_read_write(function)
        drop_bucket.grant_read(function)
        for machine in started.values():
            machine.grant_start_execution(function)
        user_pool.grant(function, "cognito-idp:AdminGetUser", "cognito-idp:AdminCreateUser")  # member invites
        workflow.launch_state_machine.grant_start_execution(function)
        workflow.review_state_machine.grant_start_execution(function)  # re-drive
        # Is a file's workflow still waiting (services.jobs.resume_file)? Did a launch or an import end unrecorded?
        function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["states:DescribeExecution"],
                resources=[
                    workflow.review_executions_arn,
                    workflow.launch_executions_arn,
                    import_executions,
                    predictions.executions_arn,  # an evaluation that failed: its error
                ],
            )
        )
        workflow.review_state_machine.grant_task_response(function)  # submit / review hand results back
        events.grant_publish(function)
        predictions.state_machine.grant_start_execution(function)  # runs and re-drives
        function.add_to_role_policy(  # cancel a run or an export
            iam.PolicyStatement(
                actions=["states:StopExecution"], resources=[predictions.executions_arn, export_executions]
            )
        )
        predictions.model.function.grant_invoke(function)  # check a model file
        function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["secretsmanager:CreateSecret", "secretsmanager:DeleteSecret"],
                resources=[webhook_secrets_arn, predictions.model_secrets_arn],
            )
        )
        nag.acknowledge(
            self.handler.role,
            "IAM5",
            "Item access to the single table and its GSIs (keys are data), and S3 object grants on the media "
            "bucket (read/write: presigned URLs, exports) and drop bucket (read) whose keys are known only at "
            "run time; webhook and hosted models' secrets, created at run time under a name prefix each; the "
            "executions of the review launch and import state machines (one per file, launch or import run, "
            "named at run time) and of the prediction and export state machines (cancel); published versions of "
            "the model function (its invoke grant).",
            findings=[
                *nag.S3_READ_ACTIONS,
                *nag.S3_WRITE_ACTIONS,
                nag.objects_of(self, media_bucket),
                nag.objects_of(self, drop_bucket),
                nag.indexes_of(self, table),
                f"Resource::{nag.flat_name(self, webhook_secrets_arn)}",
                f"Resource::{nag.flat_name(self, predictions.model_secrets_arn)}",
                f"Resource::{nag.flat_name(self, workflow.review_executions_arn)}",
                f"Resource::{nag.flat_name(self, workflow.launch_executions_arn)}",
                f"Resource::{nag.flat_name(self, import_executions)}",
                f"Resource::{nag.flat_name(self, export_executions)}",
                f"Resource::{nag.flat_name(self, predictions.executions_arn)}",
                nag.versions_of(self, predictions.model.function),
            ],
        )

        self.http_api = apigwv2.HttpApi(
            self,
            "HttpApi",
            description="Annolake API (/api/*)",
            create_default_stage=False,
        )
        self.http_api.add_routes(
            path="/api/{proxy+}",
            methods=[apigwv2.HttpMethod.ANY],
            integration=HttpLambdaIntegration(
                "Lambda", self.alias, payload_format_version=apigwv2.PayloadFormatVersion.VERSION_2_0
            ),
        )
        self.access_logs = logs.LogGroup(
            self, "AccessLogs", retention=defaults.log_retention, removal_policy=defaults.removal_policy
        )
        self.stage = apigwv2.HttpStage(
            self,
            "DefaultStage",
            http_api=self.http_api,
            stage_name="$default",
            auto_deploy=True,
            throttle=apigwv2.ThrottleSettings(rate_limit=rate_limit, burst_limit=burst_limit),
            access_log_settings=_AccessLogSettings(self.access_logs),
        )
        nag.acknowledge(
            self.http_api,
            "APIG4",
            "Authentication happens in the app: Cognito JWTs verified against the user pool's JWKS, or "
            "project API keys stored in DynamoDB, which a gateway authorizer cannot check.",
        )

    def _executions_of(self, machine: sfn.IStateMachine) -> str:
        """The ARN pattern of the machine's executions (named at run time)."""
        name = Stack.of(self).split_arn(machine.state_machine_arn, ArnFormat.COLON_RESOURCE_NAME).resource_name
        return Stack.of(self).format_arn(
            service="states", resource="execution", resource_name=f"{name}:*", arn_format=ArnFormat.COLON_RESOURCE_NAME
        )


@jsii.implements(apigwv2.IAccessLogSettings)
class _AccessLogSettings:
    """``apigwv2.IAccessLogSettings``: JSON lines into ``log_group``."""

    def __init__(self, log_group: logs.ILogGroup) -> None:
        self._log_group = log_group

    @property
    def destination(self) -> apigwv2.IAccessLogDestination:
        return apigwv2.LogGroupLogDestination(self._log_group)

    @property
    def format(self) -> apigw.AccessLogFormat:
        return apigw.AccessLogFormat.custom(json.dumps(ACCESS_LOG_FORMAT))
