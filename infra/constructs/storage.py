"""S3: the media bucket (originals, thumbnails, exports, browser uploads), the drop bucket, and their access logs.

Every bucket is private (all public access blocked), S3-managed encrypted and refuses plain-HTTP requests;
the two data buckets log server access to a dedicated bucket.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.config import StageConfig

UPLOADS_PREFIX = "uploads/"
QUARANTINE_PREFIX = "quarantine/"  # refused originals and sidecars, kept with their reason (services/ingest.py)
SLICES_PREFIX = "slices/"
ATHENA_RESULTS_PREFIX = "athena-results/"  # the query index's Athena workgroup writes results here (a day)
SLICE_RETENTION = Duration.days(7)  # how long a frozen slice (a training run's file order) can be streamed
ACCESS_LOG_RETENTION = Duration.days(365)


class Storage(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, config: StageConfig) -> None:
        super().__init__(scope, construct_id)
        self._config = config
        self.access_logs_bucket = self._bucket(
            "AccessLogsBucket",
            lifecycle_rules=[s3.LifecycleRule(id="expire-access-logs", expiration=ACCESS_LOG_RETENTION)],
        )
        self.media_bucket = self._bucket(
            "MediaBucket",
            server_access_logs_bucket=self.access_logs_bucket,
            server_access_logs_prefix="media/",
            cors=self._browser_cors(),
            lifecycle_rules=[
                # Presigned-POST targets: ingest moves them under projects/ within minutes; leftovers go.
                s3.LifecycleRule(id="expire-uploads", prefix=UPLOADS_PREFIX, expiration=Duration.days(1)),
                s3.LifecycleRule(id="expire-slices", prefix=SLICES_PREFIX, expiration=SLICE_RETENTION),
                s3.LifecycleRule(id="expire-athena-results", prefix=ATHENA_RESULTS_PREFIX, expiration=Duration.days(1)),
                s3.LifecycleRule(
                    id="abort-incomplete-multipart-uploads",
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                ),
            ],
        )
        # Users drop files at s3://<drop>/<project>/<dataset>/... with their own S3 clients, which may
        # take a while for a large multipart copy; abandoned parts are cleaned up after a week.
        self.drop_bucket = self._bucket(
            "DropBucket",
            server_access_logs_bucket=self.access_logs_bucket,
            server_access_logs_prefix="drop/",
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="abort-incomplete-multipart-uploads",
                    abort_incomplete_multipart_upload_after=Duration.days(7),
                )
            ],
        )

    def _bucket(self, construct_id: str, **props: Any) -> s3.Bucket:
        return s3.Bucket(
            self,
            construct_id,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            removal_policy=self._config.removal_policy,
            **props,
        )

    def _browser_cors(self) -> list[s3.CorsRule]:
        """The web UI fetches media and uploads with presigned URLs straight from the browser."""
        return [
            s3.CorsRule(
                allowed_methods=[
                    s3.HttpMethods.GET,
                    s3.HttpMethods.POST,
                    s3.HttpMethods.PUT,
                    s3.HttpMethods.HEAD,
                ],
                allowed_origins=list(self._config.cors_allowed_origins),
                allowed_headers=["*"],
                exposed_headers=["ETag"],
                max_age=3000,
            )
        ]
