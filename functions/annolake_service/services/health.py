"""Whether the stores this deployment depends on answer."""

from __future__ import annotations

from annolake_service.adapters import storage
from annolake_service.adapters.aws_clients import client
from annolake_service.adapters.dynamo.table import bind, table_answers
from annolake_service.shared.settings import get_settings


def check_health() -> tuple[str, dict[str, bool]]:
    settings = get_settings()
    return settings.stage, {
        "table": table_answers(),
        "media_bucket": storage.bucket_answers(settings.media_bucket),
        "drop_bucket": storage.bucket_answers(settings.drop_bucket),
    }


#: The services the API's requests call besides DynamoDB: files' URLs (S3) and tasks' workflows (Step Functions).
API_SERVICES = ("s3", "stepfunctions")


def connect_api() -> None:
    """Make the API's AWS clients now, as its process starts (a function's init phase, an API worker's start):
    made by its first requests instead, they kept those requests, and all queued behind them, waiting."""
    bind()
    for service in API_SERVICES:
        client(service)
