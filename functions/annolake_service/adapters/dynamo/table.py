"""The table itself: pointing the item classes at it, its connection, and whether it answers."""

from __future__ import annotations

from functools import cache
from typing import Any

from annolake_service.adapters.aws_clients import client
from annolake_service.adapters.dynamo.items import MODELS, FileItem
from annolake_service.shared.settings import get_settings


@cache
def bind() -> None:
    """Point every item class at the configured table (and at the emulator when running locally)."""
    settings = get_settings()
    for model in MODELS:
        model.Meta.table_name = settings.table_name
        model.Meta.region = settings.aws_region
        model.Meta.host = settings.aws_endpoint_url
        model.Meta.max_retry_attempts = 5


def connection() -> Any:
    """The low-level connection transactions are written through."""
    bind()
    return FileItem._get_connection().connection


def table_answers() -> bool:
    try:
        client("dynamodb").describe_table(TableName=get_settings().table_name)
    except Exception:  # noqa: BLE001 - health reports any failure as "not answering"
        return False
    return True
