"""GETs of presigned media URLs over one keep-alive connection pool, with retries and backoff.

A 403 from storage means the presigned URL expired (or was refused): it is raised as ``UrlExpired`` so
the caller can mint a new URL (``SliceReader`` re-reads the page). Error messages name the URL without
its query string, which carries the signature.
"""

from __future__ import annotations

import threading
from typing import Any

import urllib3

from annolake.errors import FetchError, UrlExpired

__all__ = ["Downloader", "FetchError", "UrlExpired"]


class Downloader:
    """GETs presigned URLs over one pooled set of keep-alive connections; thread-safe, for parallel callers.

    ``timeout`` bounds connecting and each wait for bytes (not the whole body, so large files work).
    Picklable: a copy makes its own pool when first used.
    """

    def __init__(
        self, concurrency: int = 16, retries: int = 4, backoff_factor: float = 0.2, timeout: float = 30.0
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be >= 1")
        self.concurrency = concurrency
        self.retries = retries
        self.backoff_factor = backoff_factor
        self.timeout = timeout
        self._lock = threading.Lock()
        self._pool: urllib3.PoolManager | None = None

    # -- lifecycle ----------------------------------------------------------------------------
    @property
    def pool(self) -> urllib3.PoolManager:
        with self._lock:
            if self._pool is None:
                retry = urllib3.Retry(
                    total=self.retries,
                    backoff_factor=self.backoff_factor,
                    status_forcelist=(429, 500, 502, 503, 504),
                    allowed_methods={"GET"},
                    raise_on_status=False,
                )
                self._pool = urllib3.PoolManager(
                    maxsize=self.concurrency,
                    block=True,
                    retries=retry,
                    timeout=urllib3.Timeout(connect=self.timeout, read=self.timeout),
                )
            return self._pool

    def close(self) -> None:
        """Close the connections (a later fetch opens new ones)."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.clear()

    def __enter__(self) -> Downloader:
        return self

    def __exit__(self, *_: Any) -> None:
        self.close()

    def __getstate__(self) -> dict[str, Any]:
        return {
            "concurrency": self.concurrency,
            "retries": self.retries,
            "backoff_factor": self.backoff_factor,
            "timeout": self.timeout,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(**state)  # type: ignore[misc]

    # -- downloads ----------------------------------------------------------------------------
    def fetch(self, url: str) -> bytes:
        """The body of one GET. Raises ``UrlExpired`` on 403, ``FetchError`` on anything else but 2xx."""
        try:
            response = self.pool.request("GET", url)
        except urllib3.exceptions.HTTPError as error:
            if isinstance(error, urllib3.exceptions.MaxRetryError):
                reason = f"no answer after {self.retries} retries: {error.reason}"
            else:
                reason = f"{type(error).__name__}: {error}"
            # ``from None``: urllib3's own message would repeat the URL with its signature.
            raise FetchError(url, 0, reason) from None
        if response.status == 403:
            raise UrlExpired(url)
        if not 200 <= response.status < 300:
            body = response.data[:200].decode(errors="replace")
            raise FetchError(url, response.status, f"HTTP {response.status}: {body}")
        return response.data
