"""AWS clients, created once per process, with botocore's standard retry mode.

Built on botocore directly (PynamoDB already needs it); boto3 would add its resource layer and
s3transfer to every cold start without being used.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import botocore.session
from botocore.config import Config

from annolake_service.shared.settings import get_settings

_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5}, signature_version="s3v4")


@cache
def session() -> botocore.session.Session:
    """One botocore session per process: its credentials are resolved once, then refreshed by botocore."""
    return botocore.session.get_session()


def credentials() -> Any:
    """The credentials the clients sign with (refreshed by botocore when they are temporary)."""
    return session().get_credentials()


@cache
def client(service: str) -> Any:
    settings = get_settings()
    return session().create_client(
        service,
        region_name=settings.aws_region,
        endpoint_url=settings.aws_endpoint_url,
        config=_CONFIG,
    )
