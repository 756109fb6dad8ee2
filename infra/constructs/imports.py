"""Bulk imports: a Standard state machine (a job may run for many minutes) with a Map over item chunks.

    PlanImport -> ImportChunks (Map, 4 at a time: ImportChunk) -> FinishImport -> Imported
          \\___________\\______(any error)_____> FailImport -> ImportFailed

Payloads carry keys only: the plan writes item chunks to S3 and passes their keys to the Map.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.constructs import nag
from infra.constructs.events import DomainEvents
from infra.constructs.service_function import FunctionDefaults
from infra.constructs.state_machine import MapJob, MapJobConstruct, map_job

CHUNK_CONCURRENCY = 4
HANDLERS = "annolake_service.handlers.imports"


class Imports(MapJobConstruct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        defaults: FunctionDefaults,
        stage: str,
        table: dynamodb.ITable,
        media_bucket: s3.IBucket,
        events: DomainEvents,
    ) -> None:
        super().__init__(scope, construct_id, defaults=defaults, handlers=HANDLERS, memory_size=1024)
        self.plan = self.step("Plan", "plan_handler", "import: parse the manifest into item chunks", 5)
        self.chunk = self.step("Chunk", "chunk_handler", "import: store and register one chunk of items", 15)
        self.finish = self.step("Finish", "finish_handler", "import: record the outcome", 1)
        self.fail = self.step("Fail", "fail_handler", "import: record why the job failed", 1)
        steps = (self.plan, self.chunk, self.finish, self.fail)
        for step in steps:
            table.grant_read_write_data(step.function)
        events.grant_publish(self.chunk.function)  # file_ingested
        for step in (self.plan, self.chunk):
            media_bucket.grant_read_write(step.function)
            nag.acknowledge(
                step.role,
                "IAM5",
                "S3 object grants on the media bucket's import prefix (keys chosen by the uploader at run time); "
                "the DynamoDB data grant on the single table covers its GSIs.",
                findings=[
                    *nag.S3_READ_ACTIONS,
                    *nag.S3_WRITE_ACTIONS,
                    nag.objects_of(self, media_bucket),
                    nag.indexes_of(self, table),
                ],
            )
        self.acknowledge_table_grant(table, self.finish, self.fail)
        self.build_machine(
            log_name=f"annolake-{stage}-import",
            comment="Annolake bulk import: COCO, YOLO or JSONL, one execution per import job",
            definition=self._definition(),
            timeout=Duration.hours(12),
            steps=steps,
        )

    def _definition(self) -> sfn.IChainable:
        return map_job(
            self,
            MapJob(
                plan="PlanImport",
                map="ImportChunks",
                item="ImportChunk",
                finish="FinishImport",
                fail="FailImport",
                failed="ImportFailed",
                succeeded="Imported",
            ),
            plan=self.plan,
            item=self.chunk,
            finish=self.finish,
            fail=self.fail,
            max_concurrency=CHUNK_CONCURRENCY,
            failed_cause="see the import's status_reason",
        )
