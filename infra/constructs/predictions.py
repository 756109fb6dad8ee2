"""Prediction runs: the model function (onnxruntime in a layer of its own) and a Standard state machine.

    RunOrEvaluate -> PlanPredictions -> PredictChunks (Map, 4 at a time: PredictChunk on the model function)
          |                -> FinishPredictions
          |      \\___________\\______(any error)_____> FailPredictions -> PredictionsFailed
          \\-- action "evaluate" --> EvaluateRun (the model function) -> Evaluated

Payloads carry keys only: the plan writes the run's file ids in chunks to S3 and passes their keys to the
Map. A model the user hosts is called from the same chunk step: an HTTPS endpoint (signed with the version's
secret, read from Secrets Manager under ``<SECRET_PREFIX>/models/``) or a Lambda function, which must be named
with the stage's prefix (``annolake-<stage>-models-``): the one name pattern the model function may invoke.
An evaluation runs in the same machine (up to the function's 15 minutes, not the API's 29 s); the API
reads its outcome from S3 or, when it failed, from the execution. The model function also answers the API
synchronously to check an uploaded model.
"""

from __future__ import annotations

from aws_cdk import ArnFormat, Duration, RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.constructs import nag
from infra.constructs.dependency_layer import DependencyLayer
from infra.constructs.service_function import FunctionDefaults, ServiceFunction
from infra.constructs.state_machine import MapJob, MapJobConstruct, lambda_step, map_job

CHUNK_CONCURRENCY = 4
HANDLERS = "annolake_service.handlers.predict"


class Predictions(MapJobConstruct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        defaults: FunctionDefaults,
        stage: str,
        table: dynamodb.ITable,
        media_bucket: s3.IBucket,
        removal_policy: RemovalPolicy,
        secret_prefix: str,
        hosted_function_prefix: str,
    ) -> None:
        super().__init__(scope, construct_id, defaults=defaults, handlers=HANDLERS, memory_size=512)
        self.state_machine_name = f"annolake-{stage}-predict"
        self.executions_arn = Stack.of(self).format_arn(
            service="states",
            resource="execution",
            resource_name=f"{self.state_machine_name}:*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        self.model_layer = DependencyLayer(
            self,
            "ModelLayer",
            removal_policy=removal_policy,
            layer="model",
            description="Annolake model function: onnxruntime (CPU), numpy, pycocotools and the service's dependencies",
        ).layer
        self.model = ServiceFunction(
            self,
            "Model",
            defaults=defaults,
            handler="annolake_service.handlers.model.handler",
            description="models: check an ONNX model, predict a chunk of a run, evaluate a run",
            memory_size=3008,
            timeout=Duration.minutes(15),
            layers=[self.model_layer],  # its only layer: the model runtime and what the function imports
        )
        stack = Stack.of(self)
        self.model_secrets_arn = stack.format_arn(
            service="secretsmanager",
            resource="secret",
            resource_name=f"{secret_prefix}/models/*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        self.hosted_functions_arn = stack.format_arn(
            service="lambda",
            resource="function",
            resource_name=f"{hosted_function_prefix}*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        self.model.function.add_to_role_policy(
            iam.PolicyStatement(actions=["secretsmanager:GetSecretValue"], resources=[self.model_secrets_arn])
        )
        self.model.function.add_to_role_policy(
            iam.PolicyStatement(actions=["lambda:InvokeFunction"], resources=[self.hosted_functions_arn])
        )
        nag.acknowledge(
            self.model.role,
            "IAM5",
            "Models the user hosts: the signing secrets of http-hosted versions (created at run time under one name "
            "prefix) and the functions of lambda-hosted ones (named by the user with the stage's prefix, the only "
            "functions it may invoke).",
            findings=[
                f"Resource::{nag.flat_name(self, self.model_secrets_arn)}",
                f"Resource::{nag.flat_name(self, self.hosted_functions_arn)}",
            ],
        )
        self.plan = self.step("Plan", "plan_handler", "predictions: write the run's chunks", 5)
        self.finish = self.step("Finish", "finish_handler", "predictions: record the outcome", 1)
        self.fail = self.step("Fail", "fail_handler", "predictions: record why the run failed", 1)
        steps = (self.plan, self.model, self.finish, self.fail)
        for step in steps:
            table.grant_read_write_data(step.function)
        media_bucket.grant_read_write(self.plan.function, "slices/*")
        media_bucket.grant_read_write(self.plan.function, "runs/*")
        media_bucket.grant_read(self.model.function)  # models/, originals, run chunks
        media_bucket.grant_write(self.model.function, "runs/*")  # evaluation reports
        for step in (self.plan, self.model):
            nag.acknowledge(
                step.role,
                "IAM5",
                "S3 object grants on the media bucket (model files, originals, run chunks under runs/, frozen "
                "slices under slices/: keys made at run time); the DynamoDB data grant covers the table's GSIs.",
                findings=[
                    *nag.S3_READ_ACTIONS,
                    *nag.S3_WRITE_ACTIONS,
                    nag.objects_of(self, media_bucket),
                    nag.objects_of(self, media_bucket, "runs/"),
                    nag.objects_of(self, media_bucket, "slices/"),
                    nag.indexes_of(self, table),
                ],
            )
        self.acknowledge_table_grant(table, self.finish, self.fail)
        self.build_machine(
            log_name=f"annolake-{stage}-predict",
            state_machine_name=self.state_machine_name,
            comment="Annolake prediction runs: one execution per run (or re-drive) of a model over a frozen slice",
            definition=self._definition(),
            timeout=Duration.hours(24),
            steps=steps,
        )

    def _definition(self) -> sfn.IChainable:
        predict = map_job(
            self,
            MapJob(
                plan="PlanPredictions",
                map="PredictChunks",
                item="PredictChunk",
                finish="FinishPredictions",
                fail="FailPredictions",
                failed="PredictionsFailed",
                succeeded="Predicted",
            ),
            plan=self.plan,
            item=self.model,
            finish=self.finish,
            fail=self.fail,
            max_concurrency=CHUNK_CONCURRENCY,
            failed_cause="see the run's status_reason",
        )
        evaluate = lambda_step(
            self, "EvaluateRun", self.model, payload_response_only=True, result_path="$.evaluation"
        ).next(sfn.Succeed(self, "Evaluated"))
        wanted = sfn.Condition.and_(
            sfn.Condition.is_present("$.action"), sfn.Condition.string_equals("$.action", "evaluate")
        )
        return sfn.Choice(self, "RunOrEvaluate").when(wanted, evaluate).otherwise(predict)
