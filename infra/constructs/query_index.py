"""The query index updater: the single table's change stream (keys only) -> delta files of each dataset's
columnar index in the media bucket (``index/``), compacted by the same function once enough accumulate."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.constructs import nag
from infra.constructs.service_function import FunctionDefaults, ServiceFunction

INDEX_PREFIX = "index/"


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
