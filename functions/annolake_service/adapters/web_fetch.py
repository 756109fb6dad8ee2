"""Download a user-supplied URL with limits on size, time and redirects, checking every hop."""

from __future__ import annotations

import socket
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
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


CONNECT_TIMEOUT, READ_TIMEOUT = 5.0, 20.0
_pool = urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(connect=CONNECT_TIMEOUT, read=READ_TIMEOUT))


def _resolve(host: str, port: int) -> list[str]:
    try:
        return sorted({str(info[4][0]) for info in socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)})
    except socket.gaierror as exc:
        raise FetchFailed(f"cannot resolve {host}: {exc.strerror}") from None


class TooLarge(FetchFailed):
    """The body is over the caller's limit (declared, or found while reading)."""

    def __init__(self, message: str, limit: int) -> None:
        super().__init__(message)
        self.limit = limit


@dataclass(frozen=True)
class Streamed:
    """An answer being read: ``chunks`` yields its body in pieces of at most ``chunk_bytes``, and raises TooLarge
    past ``max_bytes`` (FetchFailed when the connection fails on the way)."""

    content_type: str
    final_url: str
    chunks: Iterator[bytes]


STREAM_CHUNK_BYTES = 1024 * 1024


@contextmanager
def stream(
    url: str, *, max_bytes: int, allow_private: bool, chunk_bytes: int = STREAM_CHUNK_BYTES
) -> Iterator[Streamed]:
    """GET ``url`` (every redirect hop checked against the URL policy) and stream its body, never whole in memory."""
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
                raise TooLarge(f"{url} is {declared} bytes; the limit is {max_bytes} bytes", max_bytes)
            pieces = _pieces(response, url, max_bytes, chunk_bytes)
            yield Streamed(response.headers.get("Content-Type", ""), url, pieces)
            return
        finally:
            response.release_conn()
    raise FetchFailed(f"{url} redirected more than {MAX_REDIRECTS} times")


def _pieces(response: urllib3.BaseHTTPResponse, url: str, max_bytes: int, chunk_bytes: int) -> Iterator[bytes]:
    size = 0
    try:
        for piece in capped(response.stream(chunk_bytes), max_bytes, url):
            size += len(piece)
            yield piece
    except urllib3.exceptions.HTTPError as exc:
        raise FetchFailed(f"downloading {url} failed after {size} bytes: {exc}") from None


def capped(pieces: Iterable[bytes], max_bytes: int, what: str) -> Iterator[bytes]:
    """``pieces`` as they come, raising TooLarge once they add up to more than ``max_bytes``."""
    size = 0
    for piece in pieces:
        size += len(piece)
        if size > max_bytes:
            raise TooLarge(f"{what} is larger than the limit of {max_bytes} bytes", max_bytes)
        yield piece


def fetch(url: str, *, max_bytes: int, allow_private: bool) -> Fetched:
    """GET ``url``; refuse bodies over ``max_bytes`` without reading them whole."""
    with stream(url, max_bytes=max_bytes, allow_private=allow_private) as answer:
        body = b"".join(answer.chunks)
    return Fetched(body=body, content_type=answer.content_type, final_url=answer.final_url)


__all__ = ["FetchFailed", "Fetched", "Streamed", "TooLarge", "UrlRefused", "capped", "fetch", "stream"]


class DeliveryFailed(Exception):
    """A POST that did not succeed after its retries; the message is what the receiver last said."""

    def __init__(self, message: str, attempts: int) -> None:
        super().__init__(message)
        self.attempts = attempts


_RETRIED_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


def post_json(
    url: str, body: bytes, headers: dict[str, str], *, allow_private: bool, attempts: int, backoff_seconds: float
) -> int:
    """POST ``body`` with retries and exponential backoff (urllib3's ``Retry``); the final status, or DeliveryFailed.

    Connection errors and 408/425/429/5xx are retried; redirects are not followed (a webhook URL must answer
    itself). The receiver's address is checked against the URL policy before sending.
    """
    status, _ = post_for_answer(
        url, body, headers, allow_private=allow_private, attempts=attempts, backoff_seconds=backoff_seconds
    )
    return status


def post_for_answer(
    url: str,
    body: bytes,
    headers: dict[str, str],
    *,
    allow_private: bool,
    attempts: int,
    backoff_seconds: float,
    read_timeout: float | None = None,
    max_answer_bytes: int = 1024 * 1024,
) -> tuple[int, bytes]:
    """``post_json`` that also returns the answer's body (up to ``max_answer_bytes``; DeliveryFailed beyond)."""
    try:
        scheme, host = check_url(url)
        port = urlsplit(url).port or (443 if scheme == "https" else 80)
        check_addresses(host, _resolve(host, port), allow_private=allow_private)
    except (FetchFailed, UrlRefused) as exc:
        raise DeliveryFailed(str(exc), 0) from None
    retry = urllib3.Retry(
        total=attempts - 1,
        backoff_factor=backoff_seconds,
        status_forcelist=_RETRIED_STATUSES,
        allowed_methods=None,  # POST too: deliveries carry an id, receivers deduplicate on it
        redirect=False,
        raise_on_status=False,
        respect_retry_after_header=True,
    )
    timeout = urllib3.Timeout(connect=CONNECT_TIMEOUT, read=read_timeout or READ_TIMEOUT)
    try:
        response = _pool.request(
            "POST",
            url,
            body=body,
            headers={"Content-Type": "application/json", **headers},
            retries=retry,
            preload_content=False,
            timeout=timeout,
        )
    except urllib3.exceptions.MaxRetryError as exc:
        raise DeliveryFailed(f"could not reach {url}: {exc.reason}", attempts) from None
    except urllib3.exceptions.HTTPError as exc:
        raise DeliveryFailed(f"could not deliver to {url}: {exc}", attempts) from None
    try:
        tries = len(response.retries.history) + 1 if response.retries else 1
        try:
            answer = response.read(max_answer_bytes + 1)
        except urllib3.exceptions.HTTPError as exc:
            raise DeliveryFailed(f"reading the answer of {url} failed: {exc}", tries) from None
    finally:
        response.release_conn()
    if not 200 <= response.status < 300:
        text = answer[:300].decode("utf-8", "replace")
        raise DeliveryFailed(f"{url} answered HTTP {response.status}: {text}", tries)
    if len(answer) > max_answer_bytes:
        raise DeliveryFailed(f"{url} answered more than {max_answer_bytes} bytes", tries)
    return response.status, answer


__all__ += ["DeliveryFailed", "post_for_answer", "post_json"]
