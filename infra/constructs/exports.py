"""Exports of snapshots: a Standard state machine with a Map over pages of the snapshot's manifest.

    PlanExport -> ExportPages (Map, 4 at a time: ExportPage) -> AssembleExport -> Exported
          \\___________\\_______(any error)________> FailExport -> ExportFailed

Payloads carry ids and page numbers only: each page is rendered into part objects under the export's prefix,
and the assemble step streams them in order into one object by multipart upload.
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

PAGE_CONCURRENCY = 4
SNAPSHOTS_PREFIX = "snapshots/"
EXPORTS_PREFIX = "exports/"
HANDLERS = "annolake_service.handlers.exports"
ORIGINALS = "projects/*/files/*/original.*"  # packed shards hold the originals (storage.original_key)


class Exports(MapJobConstruct):
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
        self.plan = self.step("Plan", "plan_handler", "export: count the snapshot's pages", 1)
        self.page = self.step("Page", "page_handler", "export: render one page of a snapshot", 5)
        self.assemble = self.step("Assemble", "assemble_handler", "export: join the pages into one object", 15)
        self.fail = self.step("Fail", "fail_handler", "export: record why the export failed", 1)
        for step in (self.plan, self.assemble, self.fail):
            table.grant_read_write_data(step.function)
        table.grant_read_data(self.page.function)
        media_bucket.grant_read(self.page.function, SNAPSHOTS_PREFIX + "*")
        media_bucket.grant_read(self.page.function, ORIGINALS)  # read, never written: packed shards copy them
        media_bucket.grant_read(self.page.function, EXPORTS_PREFIX + "*")  # the parts an earlier attempt left
        media_bucket.grant_put(self.page.function, EXPORTS_PREFIX + "*")
        media_bucket.grant_read_write(self.assemble.function, EXPORTS_PREFIX + "*")
        media_bucket.grant_put(self.plan.function, EXPORTS_PREFIX + "*")  # the label schema the pages render with
        nag.acknowledge(
            self.plan.role,
            "IAM5",
            "Writes the export's pinned label schema under the exports prefix only (keys named by export ids at run "
            "time); the DynamoDB data grant on the single table covers its GSIs.",
            findings=[
                "Action::s3:Abort*",
                nag.objects_of(self, media_bucket, EXPORTS_PREFIX),
                nag.indexes_of(self, table),
            ],
        )
        nag.acknowledge(
            self.page.role,
            "IAM5",
            "Reads the snapshot manifests and the originals (packed shards hold them), reads and writes export parts, "
            "under their prefixes only (object keys are named by digests, file and export ids at run time); the "
            "DynamoDB read grant covers the table's GSIs.",
            findings=[
                *nag.S3_READ_ACTIONS,
                "Action::s3:Abort*",
                nag.objects_of(self, media_bucket, SNAPSHOTS_PREFIX),
                nag.objects_of(self, media_bucket, EXPORTS_PREFIX),
                nag.objects_of(self, media_bucket, ORIGINALS.removesuffix("*")),
                nag.indexes_of(self, table),
            ],
        )
        nag.acknowledge(
            self.assemble.role,
            "IAM5",
            "Reads export parts and writes the assembled export (multipart) under the exports prefix only; the "
            "DynamoDB data grant on the single table covers its GSIs.",
            findings=[
                *nag.S3_READ_ACTIONS,
                *nag.S3_WRITE_ACTIONS,
                nag.objects_of(self, media_bucket, EXPORTS_PREFIX),
                nag.indexes_of(self, table),
            ],
        )
        self.acknowledge_table_grant(table, self.fail)
        self.build_machine(
            log_name=f"annolake-{stage}-export",
            comment="Annolake export: one snapshot in one format, one execution per export (re-drives start anew)",
            definition=self._definition(),
            timeout=Duration.hours(12),
            steps=(self.plan, self.page, self.assemble, self.fail),
        )

    def _definition(self) -> sfn.IChainable:
        return map_job(
            self,
            MapJob(
                plan="PlanExport",
                map="ExportPages",
                item="ExportPage",
                finish="AssembleExport",
                fail="FailExport",
                failed="ExportFailed",
                succeeded="Exported",
                items="pages",
            ),
            plan=self.plan,
            item=self.page,
            finish=self.assemble,
            fail=self.fail,
            max_concurrency=PAGE_CONCURRENCY,
            failed_cause="see the export's status_reason",
        )
