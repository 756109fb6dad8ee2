"""The query index's functions. The updater: the single table's change stream (keys only) -> delta files of each
dataset's columnar index in the media bucket (``index/``), compacted by the same function once enough accumulate.
The compactor: an EventBridge schedule folds the deltas of every index that has some (so a dataset that stops
changing before it reaches that many is compacted too); its errors are alarmed (``monitoring.py``)."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.constructs import nag
from infra.constructs.service_function import FunctionDefaults, ServiceFunction

INDEX_PREFIX = "index/"
COMPACTION_SCHEDULE = "rate(1 hour)"  # the emulator runs it too (infra/local/schedules.py)


class QueryIndex(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        defaults: FunctionDefaults,
        table: dynamodb.ITable,
        media_bucket: s3.IBucket,
    ) -> None:
        super().__init__(scope, construct_id)
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
        table.grant_stream_read(function)
        media_bucket.grant_read_write(function, f"{INDEX_PREFIX}*")
        media_bucket.grant_delete(function, f"{INDEX_PREFIX}*")
        self.dead_letter_queue = sqs.Queue(
            self,
            "DeadLetters",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(14),
        )
        nag.acknowledge(self.dead_letter_queue, "SQS3", "This queue is itself the stream mapping's on-failure queue.")
        function.add_event_source(
            sources.DynamoEventSource(
                table,
                starting_position=lambda_.StartingPosition.TRIM_HORIZON,
                batch_size=100,
                max_batching_window=Duration.seconds(1),
                bisect_batch_on_error=True,
                retry_attempts=10,
                on_failure=sources.SqsDlq(self.dead_letter_queue),
            )
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
