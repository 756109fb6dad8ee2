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
from infra.constructs.service_function import FunctionDefaults
from infra.constructs.state_machine import MapJob, MapJobConstruct, map_job

CHUNK_CONCURRENCY = 8
SNAPSHOTS_PREFIX = "snapshots/"
HANDLERS = "annolake_service.handlers.snapshots"


class Snapshots(MapJobConstruct):
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
        super().__init__(scope, construct_id, defaults=defaults, handlers=HANDLERS, memory_size=1024)
        self.plan = self.step("Plan", "plan_handler", "snapshot: list the chunks of the frozen file list", 1)
        self.chunk = self.step("Chunk", "chunk_handler", "snapshot: read one chunk's pinned versions", 5)
        self.finish = self.step("Finish", "finish_handler", "snapshot: write the manifest and its index", 15)
        self.fail = self.step("Fail", "fail_handler", "snapshot: record why the build failed", 1)
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
        self.acknowledge_table_grant(table, self.plan, grant="read")
        self.build_machine(
            log_name=f"annolake-{stage}-snapshot",
            comment="Annolake snapshot build: one execution per snapshot too large to build within a request",
            definition=self._definition(),
            timeout=Duration.hours(6),
            steps=(self.plan, self.chunk, self.finish, self.fail),
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
