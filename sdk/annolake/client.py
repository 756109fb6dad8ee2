"""A pooled HTTP client for the Annolake API (urllib3: keep-alive, retries with backoff)."""

from __future__ import annotations

import json
import os
from typing import Any

import urllib3
from urllib3.util import Retry

from annolake.errors import (
    STATUS_ERRORS,
    AnnolakeAPIError,
    AuthenticationError,
    InvalidRequest,
    NotFound,
    PermissionDenied,
    VersionConflict,
)

# The errors were defined here once; importing them from ``annolake.client`` still works.
__all__ = [
    "API_PREFIX",
    "AnnolakeAPIError",
    "ApiClient",
    "AuthenticationError",
    "InvalidRequest",
    "NotFound",
    "PermissionDenied",
    "VersionConflict",
]

API_PREFIX = "/api/v1"


class ApiClient:
    """Authenticated JSON calls to one Annolake deployment; picklable (a copy opens its own connections)."""

    def __init__(self, host: str, client_id: str, client_secret: str, *, timeout: float = 30.0) -> None:
        self._connect(host, client_id, client_secret, timeout)

    def _connect(self, host: str, client_id: str, client_secret: str, timeout: float) -> None:
        self._arguments = (host, client_id, client_secret, timeout)  # to rebuild the pool after unpickling
        self.base_url = host.rstrip("/") + API_PREFIX
        self._headers = urllib3.make_headers(basic_auth=f"{client_id}:{client_secret}")
        self._headers["Accept"] = "application/json"
        retry = Retry(
            total=5,
            backoff_factor=0.2,
            status_forcelist=(429, 502, 503, 504),
            allowed_methods=frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"}),
        )
        self._pool = urllib3.PoolManager(retries=retry, timeout=urllib3.Timeout(total=timeout), maxsize=16)
        self._pid = os.getpid()

    @property
    def arguments(self) -> tuple[str, str, str, float]:
        """``(host, client_id, client_secret, timeout)``: what a copy connects with."""
        return self._arguments

    def __getstate__(self) -> dict[str, Any]:
        return {"arguments": self._arguments}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._connect(*state["arguments"])

    def request(self, method: str, path: str, *, body: Any = None, fields: dict[str, Any] | None = None) -> Any:
        if os.getpid() != self._pid:  # a forked DataLoader worker must not share the parent's sockets
            self.__setstate__(self.__getstate__())
        headers = dict(self._headers)
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        response = self._pool.request(
            method, self.base_url + path, body=payload, fields=fields, headers=headers, redirect=False
        )
        try:
            data = json.loads(response.data) if response.data else None
        except ValueError:  # not JSON: a proxy's or the server's own plain-text error page
            if response.status < 400:
                raise AnnolakeAPIError(
                    response.status, "invalid_response", f"{method} {path} answered {response.status} without JSON"
                ) from None
            data = None
        if response.status >= 400:
            error = (data or {}).get("error", {}) if isinstance(data, dict) else {}
            raise STATUS_ERRORS.get(response.status, AnnolakeAPIError)(
                response.status,
                error.get("code", "http_error"),
                error.get("message", response.data.decode(errors="replace")[:500]),
                error.get("details"),
            )
        return data

    def get(self, path: str, **fields: Any) -> Any:
        return self.request("GET", path, fields={k: v for k, v in fields.items() if v is not None} or None)

    def get_all(self, path: str, key: str, **fields: Any) -> list[Any]:
        """Every item of a listing: its pages (each bounded in bytes by the API) followed by their cursors."""
        items: list[Any] = []
        cursor = None
        while True:
            page = self.get(path, **fields, cursor=cursor)
            items.extend(page[key])
            cursor = page.get("cursor")
            if not cursor:
                return items

    def post(self, path: str, body: Any) -> Any:
        return self.request("POST", path, body=body)

    def put(self, path: str, body: Any) -> Any:
        return self.request("PUT", path, body=body)

    def patch(self, path: str, body: Any) -> Any:
        return self.request("PATCH", path, body=body)

    def delete(self, path: str) -> Any:
        return self.request("DELETE", path)

    def post_form(self, url: str, fields: dict[str, Any]) -> int:
        """A multipart form POST to a presigned S3 URL (no API credentials sent)."""
        response = self._pool.request("POST", url, fields=fields, retries=False)
        if response.status >= 300:
            raise InvalidRequest(response.status, "upload_refused", response.data.decode(errors="replace")[:1000])
        return response.status
