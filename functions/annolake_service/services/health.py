"""Whether the stores this deployment depends on answer."""

from __future__ import annotations

from annolake_service.adapters import storage, store
from annolake_service.shared.settings import get_settings


def check_health() -> tuple[str, dict[str, bool]]:
    settings = get_settings()
    return settings.stage, {
        "table": store.table_answers(),
        "media_bucket": storage.bucket_answers(settings.media_bucket),
        "drop_bucket": storage.bucket_answers(settings.drop_bucket),
    }
