"""The emulator's clients as the state store calls them, and errors that name the resource."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from infra.local.state.model import StateStoreError

_CLIENT_CONFIG = Config(retries={"max_attempts": 5, "mode": "standard"}, connect_timeout=10, read_timeout=120)
OBJECT_HEADERS = ("CacheControl", "ContentDisposition", "ContentEncoding", "ContentLanguage")


class Clients:
    """One client per service on the emulator, made on first use."""

    def __init__(self, session: boto3.Session, endpoint_url: str) -> None:
        self._session = session
        self._endpoint_url = endpoint_url
        self._clients: dict[str, Any] = {}
        self.region: str = session.region_name or "us-east-1"

    def _client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self._session.client(
                service, endpoint_url=self._endpoint_url, region_name=self.region, config=_CLIENT_CONFIG
            )
        return self._clients[service]

    @property
    def dynamodb(self) -> Any:
        return self._client("dynamodb")

    @property
    def s3(self) -> Any:
        return self._client("s3")

    @property
    def cognito(self) -> Any:
        return self._client("cognito-idp")


@contextlib.contextmanager
def naming(what: str) -> Iterator[None]:
    """Name the resource in the error of a failed call (botocore's messages do not say which one)."""
    try:
        yield
    except ClientError as error:
        raise StateStoreError(f"{what} failed: {error}") from error


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def object_headers(response: Mapping[str, Any]) -> dict[str, Any]:
    """What is kept of an object besides its body: content type, user metadata and the headers above."""
    headers: dict[str, Any] = {
        "content_type": response.get("ContentType"),
        "metadata": dict(response.get("Metadata", {})),
    }
    headers.update({name: response[name] for name in OBJECT_HEADERS if response.get(name)})
    return headers
