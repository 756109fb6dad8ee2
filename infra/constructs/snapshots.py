"""Snapshot builds: a Standard state machine with a Map over chunks of a snapshot's frozen file list.

    PlanSnapshot -> SnapshotChunks (Map, 8 at a time: SnapshotChunk) -> FinishSnapshot -> SnapshotReady
          \\______________\\_______(any error)________> FailSnapshot -> SnapshotFailed

The API freezes the matching files (sorted by id) and starts one execution for a snapshot too large to build
within a request. Payloads carry the project, the snapshot's name and chunk numbers only: each chunk writes its
manifest lines, index records and tallies under the build's prefix, and the finish step streams them in order
into the manifest and its index (named by the manifest's digest) by multipart upload.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.constructs import nag
from infra.constructs.service_function import FunctionDefaults, ServiceFunction
from infra.constructs.state_machine import LoggedStateMachine, MapJob, map_job

CHUNK_CONCURRENCY = 8
SNAPSHOTS_PREFIX = "snapshots/"


class Snapshots(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        defaults: FunctionDefaults,
        stage: str,
        table: dynamodb.ITable,
        media_bucket: s3.IBucket,
    ) -> None:
        super().__init__(scope, construct_id)
        self._defaults = defaults
        self.plan = self._step("Plan", "plan_handler", "snapshot: list the chunks of the frozen file list", 1)
        self.chunk = self._step("Chunk", "chunk_handler", "snapshot: read one chunk's pinned versions", 5)
        self.finish = self._step("Finish", "finish_handler", "snapshot: write the manifest and its index", 15)
        self.fail = self._step("Fail", "fail_handler", "snapshot: record why the build failed", 1)
        table.grant_read_data(self.plan.function)
        table.grant_read_data(self.chunk.function)
        for step in (self.finish, self.fail):
            table.grant_read_write_data(step.function)
        media_bucket.grant_read(self.chunk.function, SNAPSHOTS_PREFIX + "*")
        media_bucket.grant_put(self.chunk.function, SNAPSHOTS_PREFIX + "*")
        for step in (self.finish, self.fail):
            media_bucket.grant_read_write(step.function, SNAPSHOTS_PREFIX + "*")  # and delete the build's parts
        nag.acknowledge(
            self.chunk.role,
            "IAM5",
            "Reads a build's frozen file list and writes its chunk parts under the snapshots prefix only (keys "
            "are named by build ids at run time); the DynamoDB read grant covers the table's GSIs.",
            findings=[
                *nag.S3_READ_ACTIONS,
                "Action::s3:Abort*",
                nag.objects_of(self, media_bucket, SNAPSHOTS_PREFIX),
                nag.indexes_of(self, table),
            ],
        )
        for step in (self.finish, self.fail):
            nag.acknowledge(
                step.role,
                "IAM5",
                "Reads a build's parts, writes the manifest and index (multipart) and deletes the parts, under the "
                "snapshots prefix only; the DynamoDB data grant on the single table covers its GSIs.",
                findings=[
                    *nag.S3_READ_ACTIONS,
                    *nag.S3_WRITE_ACTIONS,
                    nag.objects_of(self, media_bucket, SNAPSHOTS_PREFIX),
                    nag.indexes_of(self, table),
                ],
            )
        nag.acknowledge(
            self.plan.role,
            "IAM5",
            "The DynamoDB read grant on the single table covers its GSIs.",
            findings=[nag.indexes_of(self, table)],
        )
        machine = LoggedStateMachine(
            self,
            "StateMachine",
            defaults=defaults,
            log_name=f"annolake-{stage}-snapshot",
            comment="Annolake snapshot build: one execution per snapshot too large to build within a request",
            definition=self._definition(),
            state_machine_type=sfn.StateMachineType.STANDARD,
            timeout=Duration.hours(6),
            steps=(self.plan, self.chunk, self.finish, self.fail),
        )
        self.log_group, self.state_machine = machine.log_group, machine.state_machine

    def _step(self, construct_id: str, handler: str, description: str, minutes: int) -> ServiceFunction:
        return ServiceFunction(
            self,
            construct_id,
            defaults=self._defaults,
            handler=f"annolake_service.handlers.snapshots.{handler}",
            description=description,
            memory_size=1024,
            timeout=Duration.minutes(minutes),
        )

    def _definition(self) -> sfn.IChainable:
        return map_job(
            self,
            MapJob(
                plan="PlanSnapshot",
                map="SnapshotChunks",
                item="SnapshotChunk",
                finish="FinishSnapshot",
                fail="FailSnapshot",
                failed="SnapshotFailed",
                succeeded="SnapshotReady",
            ),
            plan=self.plan,
            item=self.chunk,
            finish=self.finish,
            fail=self.fail,
            max_concurrency=CHUNK_CONCURRENCY,
            failed_cause="see the snapshot's status_reason",
        )
