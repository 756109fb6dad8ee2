"""Signing secrets, kept in Secrets Manager: webhooks' (the table holds only their ARN) and those of models
hosted over HTTP (named by project, model and version, so nothing about them is stored in the table)."""

from __future__ import annotations

from functools import lru_cache

from annolake_service.adapters.aws_clients import client
from annolake_service.shared.settings import get_settings


def secret_name(project_id: str, webhook_id: str) -> str:
    return f"{get_settings().secret_prefix}/webhooks/{project_id}/{webhook_id}"


def model_secret_name(project_id: str, model: str, version: int) -> str:
    return f"{get_settings().secret_prefix}/models/{project_id}/{model}/v{version}"


def store_secret(name: str, value: str) -> str:
    return client("secretsmanager").create_secret(Name=name, SecretString=value)["ARN"]


@lru_cache(maxsize=256)
def read_secret(arn: str) -> str:
    """Cached per process: a secret never changes under the same ARN (or model version's name) here."""
    return client("secretsmanager").get_secret_value(SecretId=arn)["SecretString"]


def delete_secret(arn: str) -> None:
    read_secret.cache_clear()
    client("secretsmanager").delete_secret(SecretId=arn, ForceDeleteWithoutRecovery=True)
