"""The query index's functions. The updater: the single table's change stream (keys only) -> delta files of each
dataset's columnar index in the media bucket (``index/``), compacted by the same function once enough accumulate.
The compactor: an EventBridge schedule folds the deltas of every index that has some (so a dataset that stops
changing before it reaches that many is compacted too); its errors are alarmed (``monitoring.py``).
Athena: a Glue table over every dataset's index files and a workgroup whose results are encrypted and expire,
for the datasets too large for the API function's embedded engine (``grant_athena``)."""

from __future__ import annotations

import re

from aws_cdk import Duration, Stack
from aws_cdk import aws_athena as athena
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_glue as glue
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.constructs import nag
from infra.constructs.queues import stream_fed
from infra.constructs.service_function import FunctionDefaults, ServiceFunction
from infra.constructs.storage import ATHENA_RESULTS_PREFIX

#: the item kinds whose changes the index updater reads from the table's stream (files, dataset memberships)
INDEXED = ("file", "dataset_member")

INDEX_PREFIX = "index/"
COMPACTION_SCHEDULE = "rate(1 hour)"  # the emulator runs it too (infra/local/schedules.py)
INDEX_TABLE = "query_index"
# The columns every index file has (``domain/query/index_rows.BASE_COLUMNS`` in Glue's types; a test holds the two
# together). Label and attribute columns are added by the API function as queries name them (``UpdateTable``).
INDEX_COLUMNS = {
    "file_id": "string",
    "position": "string",
    "seq": "string",
    "deleted": "boolean",
    "name": "string",
    "type": "string",
    "status": "string",
    "width": "bigint",
    "height": "bigint",
    "created": "timestamp",
    "metadata": "string",
    "dataset_names": "array<string>",
    "dataset_ids": "array<string>",
}
ATHENA_SCAN_LIMIT_BYTES = 10 * 1024**3  # a runaway query stops at 10 GB scanned ($0.05)
PARQUET_FORMAT = "org.apache.hadoop.hive.ql.io.parquet"


def catalog_name(stage: str) -> str:
    """Glue database names take lower-case letters, digits and underscores."""
    return "annolake_" + re.sub(r"[^a-z0-9_]", "_", stage.lower())


class QueryIndex(Construct):
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
        self._athena(stage, media_bucket)
        self.updater = ServiceFunction(
            self,
            "Updater",
            defaults=defaults,
            handler="annolake_service.handlers.query_index.handler",
            description="query index: table changes -> Parquet deltas of each dataset's index, and compaction",
            memory_size=1024,  # DuckDB compacts a dataset's index in memory
            timeout=Duration.minutes(15),  # a first build reads a whole dataset
        )
        function = self.updater.function
        table.grant_read_write_data(function)  # reads files and memberships; writes the index manifests
        media_bucket.grant_read_write(function, f"{INDEX_PREFIX}*")
        media_bucket.grant_delete(function, f"{INDEX_PREFIX}*")
        self.dead_letter_queue = stream_fed(
            self,
            dead_letters_id="DeadLetters",
            function=function,
            table=table,
            filters=[
                # Only file items and dataset memberships reach the index; a removed item has an old image only.
                lambda_.FilterCriteria.filter({"dynamodb": {image: {"kind": {"S": lambda_.FilterRule.or_(*INDEXED)}}}})
                for image in ("NewImage", "OldImage")
            ],
        )
        nag.acknowledge(
            self.updater.role,
            "IAM5",
            "Item access to the single table and its GSIs (keys are data), and S3 object grants on the index "
            "files (one prefix, keys made at run time).",
            findings=[
                nag.indexes_of(self, table),
                nag.objects_of(self, media_bucket, INDEX_PREFIX),
                *nag.S3_READ_ACTIONS,
                *nag.S3_WRITE_ACTIONS,
            ],
        )

        self.compactor = ServiceFunction(
            self,
            "Compactor",
            defaults=defaults,
            handler="annolake_service.handlers.query_index.compact_handler",
            description="query index: scheduled compaction of every index's delta files",
            memory_size=1024,  # DuckDB compacts a dataset's index in memory
            timeout=Duration.minutes(15),
        )
        compactor = self.compactor.function
        # Lists projects (GSI1) and each project's manifests (key queries), replaces a manifest conditionally.
        table.grant(compactor, "dynamodb:Query", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DescribeTable")
        media_bucket.grant_read_write(compactor, f"{INDEX_PREFIX}*")
        media_bucket.grant_delete(compactor, f"{INDEX_PREFIX}*")
        self.schedule = events.Rule(
            self,
            "CompactionSchedule",
            schedule=events.Schedule.expression(COMPACTION_SCHEDULE),
            description="Compact every query index that has delta files",
            # Runs that fail are alarmed and the next run retries, so Lambda's async retries are not needed.
            targets=[targets.LambdaFunction(compactor, retry_attempts=0)],
        )
        nag.acknowledge(
            self.compactor.role,
            "IAM5",
            "Key queries on the single table's GSI1 (the projects), and S3 object grants on the index files "
            "(one prefix, keys made at run time).",
            findings=[
                nag.indexes_of(self, table),
                nag.objects_of(self, media_bucket, INDEX_PREFIX),
                *nag.S3_READ_ACTIONS,
                *nag.S3_WRITE_ACTIONS,
            ],
        )

    def _athena(self, stage: str, media_bucket: s3.IBucket) -> None:
        """The Glue table over ``index/<project>/<dataset>/`` (partitions projected from the key, so a new dataset
        needs no registration) and the workgroup that queries it."""
        account = Stack.of(self).account
        self.database_name = catalog_name(stage)
        database = glue.CfnDatabase(
            self,
            "Catalog",
            catalog_id=account,
            database_input=glue.CfnDatabase.DatabaseInputProperty(
                name=self.database_name, description="Annolake's columnar query indexes (Parquet in the media bucket)"
            ),
        )
        index_root = f"s3://{media_bucket.bucket_name}/{INDEX_PREFIX}"
        self.index_table = glue.CfnTable(
            self,
            "IndexTable",
            catalog_id=account,
            database_name=self.database_name,
            table_input=glue.CfnTable.TableInputProperty(
                name=INDEX_TABLE,
                description="Every dataset's query index: one row per file and change (the newest row wins)",
                table_type="EXTERNAL_TABLE",
                parameters={
                    "classification": "parquet",
                    "projection.enabled": "true",
                    "projection.project.type": "injected",
                    "projection.dataset.type": "injected",
                    "storage.location.template": index_root + "${project}/${dataset}/",
                },
                partition_keys=[
                    glue.CfnTable.ColumnProperty(name="project", type="string"),
                    glue.CfnTable.ColumnProperty(name="dataset", type="string"),
                ],
                storage_descriptor=glue.CfnTable.StorageDescriptorProperty(
                    location=index_root,
                    input_format=f"{PARQUET_FORMAT}.MapredParquetInputFormat",
                    output_format=f"{PARQUET_FORMAT}.MapredParquetOutputFormat",
                    serde_info=glue.CfnTable.SerdeInfoProperty(
                        serialization_library=f"{PARQUET_FORMAT}.serde.ParquetHiveSerDe"
                    ),
                    columns=[glue.CfnTable.ColumnProperty(name=n, type=t) for n, t in INDEX_COLUMNS.items()],
                ),
            ),
        )
        self.index_table.add_dependency(database)
        self.workgroup = athena.CfnWorkGroup(
            self,
            "WorkGroup",
            name=f"annolake-{stage}-query",
            description="Query-index reads too large for the API function's embedded engine",
            state="ENABLED",
            recursive_delete_option=True,
            work_group_configuration=athena.CfnWorkGroup.WorkGroupConfigurationProperty(
                enforce_work_group_configuration=True,
                publish_cloud_watch_metrics_enabled=True,
                bytes_scanned_cutoff_per_query=ATHENA_SCAN_LIMIT_BYTES,
                engine_version=athena.CfnWorkGroup.EngineVersionProperty(
                    selected_engine_version="Athena engine version 3"
                ),
                result_configuration=athena.CfnWorkGroup.ResultConfigurationProperty(
                    output_location=f"s3://{media_bucket.bucket_name}/{ATHENA_RESULTS_PREFIX}",
                    encryption_configuration=athena.CfnWorkGroup.EncryptionConfigurationProperty(
                        encryption_option="SSE_S3"
                    ),
                ),
            ),
        )
        stack = Stack.of(self)
        self.workgroup_arn = stack.format_arn(service="athena", resource="workgroup", resource_name=self.workgroup.name)
        self.catalog_arns = [
            stack.format_arn(service="glue", resource="catalog"),
            stack.format_arn(service="glue", resource="database", resource_name=self.database_name),
            stack.format_arn(service="glue", resource="table", resource_name=f"{self.database_name}/{INDEX_TABLE}"),
        ]

    def grant_athena(self, function: lambda_.Function) -> None:
        """Let ``function`` run index queries on Athena and add the table's columns (its S3 access to the index
        and the results prefix comes with its media bucket grant), and tell it where they are."""
        function.add_environment("ATHENA_WORKGROUP", self.workgroup.name)
        function.add_environment("ATHENA_DATABASE", self.database_name)
        function.add_environment("ATHENA_TABLE", INDEX_TABLE)
        function.add_to_role_policy(
            iam.PolicyStatement(
                actions=[
                    "athena:StartQueryExecution",
                    "athena:GetQueryExecution",
                    "athena:GetQueryResults",
                    "athena:StopQueryExecution",
                ],
                resources=[self.workgroup_arn],
            )
        )
        function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["glue:GetDatabase", "glue:GetTable", "glue:UpdateTable"], resources=self.catalog_arns
            )
        )
