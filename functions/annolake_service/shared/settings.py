"""Runtime settings: the Lambda environment turned into one typed object.

The environment variable names below are a contract with ``infra/`` (which sets them on every
function) and with the local runtime (which resolves them from the synthesized template). A
variable that means the same thing has the same name and value on every function.
"""

from __future__ import annotations

import os
from functools import cached_property, lru_cache
from typing import Literal

from pydantic import BaseModel, Field


class Settings(BaseModel):
    stage: str = Field(default="local", description="STAGE: deployment stage name")
    table_name: str = Field(default="", description="TABLE_NAME: the single-table DynamoDB store")
    media_bucket: str = Field(default="", description="MEDIA_BUCKET: originals, thumbnails, exports")
    drop_bucket: str = Field(default="", description="DROP_BUCKET: s3://<drop>/<project>/<dataset>/...")
    ingest_state_machine_arn: str = Field(default="", description="INGEST_STATE_MACHINE_ARN")
    video_ingest_state_machine_arn: str = Field(
        default="", description="VIDEO_INGEST_STATE_MACHINE_ARN: extracts a video's frames in segments"
    )
    import_state_machine_arn: str = Field(default="", description="IMPORT_STATE_MACHINE_ARN")
    export_state_machine_arn: str = Field(default="", description="EXPORT_STATE_MACHINE_ARN: a snapshot's export")
    snapshot_state_machine_arn: str = Field(
        default="", description="SNAPSHOT_STATE_MACHINE_ARN: builds snapshots too large for one request"
    )
    snapshot_inline_files: int = Field(
        default=2000,
        ge=0,
        description="SNAPSHOT_INLINE_FILES: snapshots of up to this many files are built within the request",
    )
    snapshot_chunk_files: int = Field(
        default=5000, ge=1, le=10000, description="SNAPSHOT_CHUNK_FILES: files read by one step of a snapshot's build"
    )
    review_state_machine_arn: str = Field(default="", description="REVIEW_STATE_MACHINE_ARN: one per file in a job")
    launch_state_machine_arn: str = Field(default="", description="LAUNCH_STATE_MACHINE_ARN: a job's launch")
    predict_state_machine_arn: str = Field(default="", description="PREDICT_STATE_MACHINE_ARN: prediction runs")
    model_function_name: str = Field(
        default="", description="MODEL_FUNCTION_NAME: the function with onnxruntime (model checks, evaluation)"
    )
    model_host_function_prefix: str = Field(
        default="annolake-local-models-",
        description="MODEL_HOST_FUNCTION_PREFIX: the names a lambda-hosted model's function must start with (the "
        "model function may invoke only those)",
    )
    event_bus_name: str = Field(default="", description="EVENT_BUS_NAME: domain events (EventBridge)")
    secret_prefix: str = Field(default="annolake/local", description="SECRET_PREFIX: Secrets Manager names")
    user_pool_id: str = Field(default="", description="USER_POOL_ID: Cognito pool for JWT checks")
    user_pool_client_id: str = Field(default="", description="USER_POOL_CLIENT_ID: the SPA client")
    aws_region: str = Field(default="us-east-1", description="AWS_REGION")
    aws_endpoint_url: str | None = Field(
        default=None, description="AWS_ENDPOINT_URL: set only by the local runtime (the emulator)"
    )
    allow_private_urls: bool = Field(
        default=False, description="ALLOW_PRIVATE_URLS: from_url may fetch private/loopback hosts (local stage)"
    )
    queue_share: str = Field(
        default="0/1",
        pattern=r"^\d+/[1-9]\d*$",
        description="QUEUE_SHARE: i/n, this process's share of every task queue: it claims tasks of its share of a "
        "queue window first (processes told different i of one n no longer race for the same tasks); 0/1: no share",
    )
    presign_ttl_seconds: int = Field(default=900, description="PRESIGN_TTL_SECONDS: URL lifetime")
    page_max_bytes: int = Field(
        default=5 * 1024 * 1024,
        ge=1,
        description="PAGE_MAX_BYTES: a page's items stop here, under Lambda's 6 MB response limit",
    )

    query_engine: Literal["auto", "table"] = Field(
        default="auto",
        description="QUERY_ENGINE: auto (a dataset's columnar index once it is built) or table (always DynamoDB)",
    )
    athena_workgroup: str = Field(
        default="", description="ATHENA_WORKGROUP: runs index queries on Athena (empty: the embedded engine only)"
    )
    athena_database: str = Field(default="", description="ATHENA_DATABASE: the Glue database of the index table")
    athena_table: str = Field(default="", description="ATHENA_TABLE: the Glue table over every dataset's index")
    athena_min_index_bytes: int = Field(
        default=2_000_000_000,
        ge=0,
        description="ATHENA_MIN_INDEX_BYTES: a dataset whose index (base + deltas) is at least this large is queried "
        "on Athena: fetching more into a cold API function (~100 MB/s) would not fit API Gateway's 30 s",
    )
    freeze_index_margin_s: float = Field(
        default=120.0,
        ge=0,
        description="FREEZE_INDEX_MARGIN_S: a freeze reads the files listed this long before the query index's newest "
        "row from the table too (the index may meet changes out of order; a larger lag is detected and the table "
        "answers alone)",
    )
    index_compact_after: int = Field(
        default=16, ge=1, description="INDEX_COMPACT_AFTER: delta files that make the index updater compact"
    )

    video_max_bytes: int = Field(
        default=2 * 1024**3, ge=1, description="VIDEO_MAX_BYTES: the largest video ingested (bytes)"
    )
    video_max_duration_s: float = Field(
        default=3600.0,
        gt=0,
        description="VIDEO_MAX_DURATION_S: the longest video ingested (seconds); its frames are extracted in "
        "segments decoded side by side (VIDEO_SEGMENT_FRAMES), so length costs steps, not one step's time",
    )
    video_segment_frames: int = Field(
        default=1920,
        ge=32,
        multiple_of=32,
        description="VIDEO_SEGMENT_FRAMES: frames one video extraction step decodes (a multiple of the 32-frame "
        "chunk; 1920 is 64 s at 30 fps, about a minute of the step's time at 1080p)",
    )
    video_max_width: int = Field(default=3840, ge=1, description="VIDEO_MAX_WIDTH: the widest video ingested (pixels)")
    video_max_height: int = Field(
        default=2160, ge=1, description="VIDEO_MAX_HEIGHT: the tallest video ingested (pixels)"
    )

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        values = {name: env[name.upper()] for name in cls.model_fields if env.get(name.upper()) not in (None, "")}
        return cls.model_validate(values)

    @cached_property
    def queue_share_of(self) -> tuple[int, int]:
        """``QUEUE_SHARE`` as (i, n); an i beyond n is taken modulo n."""
        index, count = (int(part) for part in self.queue_share.split("/"))
        return index % count, count

    @property
    def cognito_issuer(self) -> str:
        """The ``iss`` of the pool's tokens: Cognito's URL everywhere (the emulator, moto, issues the same).

        The region is the pool id's prefix (``us-east-1_AbC…``), which is where the pool lives.
        """
        region = self.user_pool_id.split("_", 1)[0] if "_" in self.user_pool_id else self.aws_region
        return f"https://cognito-idp.{region}.amazonaws.com/{self.user_pool_id}"

    @property
    def cognito_jwks_url(self) -> str:
        """Where the pool's public signing keys are: Cognito's well-known URL, or the emulator's copy of it."""
        if self.aws_endpoint_url:
            return f"{self.aws_endpoint_url.rstrip('/')}/{self.user_pool_id}/.well-known/jwks.json"
        return f"{self.cognito_issuer}/.well-known/jwks.json"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings.from_env()
