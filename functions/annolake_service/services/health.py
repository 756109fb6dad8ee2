"""Whether the stores this deployment depends on answer."""

from __future__ import annotations

from annolake_service.adapters import storage
from annolake_service.adapters.dynamo.table import table_answers
from annolake_service.shared.settings import get_settings


def check_health() -> tuple[str, dict[str, bool]]:
    settings = get_settings()
    return settings.stage, {
        "table": table_answers(),
        "media_bucket": storage.bucket_answers(settings.media_bucket),
        "drop_bucket": storage.bucket_answers(settings.drop_bucket),
    }
