"""Download a user-supplied URL with limits on size, time and redirects, checking every hop."""

from __future__ import annotations

import socket
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import urllib3

from annolake_service.domain.url_policy import UrlRefused, check_addresses, check_url

MAX_REDIRECTS = 3


class FetchFailed(Exception):
    pass


@dataclass(frozen=True)
class Fetched:
    body: bytes
    content_type: str
    final_url: str


_pool = urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(connect=5, read=20))


def _resolve(host: str, port: int) -> list[str]:
    try:
        return sorted({info[4][0] for info in socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)})
    except socket.gaierror as exc:
        raise FetchFailed(f"cannot resolve {host}: {exc.strerror}") from None


def fetch(url: str, *, max_bytes: int, allow_private: bool) -> Fetched:
    """GET ``url``; refuse bodies over ``max_bytes`` without reading them whole."""
    for _ in range(MAX_REDIRECTS + 1):
        scheme, host = check_url(url)
        port = urlsplit(url).port or (443 if scheme == "https" else 80)
        check_addresses(host, _resolve(host, port), allow_private=allow_private)
        try:
            response = _pool.request("GET", url, redirect=False, preload_content=False)
        except urllib3.exceptions.HTTPError as exc:
            raise FetchFailed(f"downloading {url} failed: {exc}") from None
        try:
            if response.status in (301, 302, 303, 307, 308) and response.headers.get("Location"):
                url = urljoin(url, response.headers["Location"])
                continue
            if response.status != 200:
                raise FetchFailed(f"{url} answered HTTP {response.status}; the URL must return the file itself")
            declared = int(response.headers.get("Content-Length") or 0)
            if declared > max_bytes:
                raise FetchFailed(f"{url} is {declared} bytes; the limit is {max_bytes} bytes")
            body = response.read(max_bytes + 1)
            if len(body) > max_bytes:
                raise FetchFailed(f"{url} is larger than the limit of {max_bytes} bytes")
            return Fetched(body=body, content_type=response.headers.get("Content-Type", ""), final_url=url)
        finally:
            response.release_conn()
    raise FetchFailed(f"{url} redirected more than {MAX_REDIRECTS} times")


__all__ = ["FetchFailed", "Fetched", "UrlRefused", "fetch"]
