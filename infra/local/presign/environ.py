"""What the guard reads from a WSGI request: host, headers, the path as signed, a virtual-hosted bucket."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, unquote, urlsplit

WSGIEnviron = dict[str, Any]
StartResponse = Callable[..., Any]
WSGIApp = Callable[[WSGIEnviron, StartResponse], Iterable[bytes]]


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def host(environ: WSGIEnviron) -> str:
    named = environ.get("HTTP_HOST")
    if named:
        return named
    name, port, scheme = (
        environ.get("SERVER_NAME", ""),
        str(environ.get("SERVER_PORT", "")),
        environ.get("wsgi.url_scheme"),
    )
    default = (scheme == "http" and port == "80") or (scheme == "https" and port == "443")
    return name if default or not port else f"{name}:{port}"


def header(environ: WSGIEnviron, name: str) -> str | None:
    key = name.upper().replace("-", "_")
    if key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        value = environ.get(key)
        return value if value else None
    return environ.get(f"HTTP_{key}")


def decoded_path(environ: WSGIEnviron) -> str:
    """The request's path, percent-decoded (the server hands it over as latin-1 decoded bytes, PEP 3333)."""
    return (environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")).encode("latin-1").decode("utf-8", "replace")


def path_candidates(environ: WSGIEnviron) -> list[str]:
    """The path as the client sent it (what the signer saw), and its canonical re-encoding as a fallback.

    Both name the same resource; clients differ in which characters they escape (botocore: all but ``/~``).
    """
    raw_uri = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    candidates: list[str] = []
    if raw_uri:
        raw_path = raw_uri.split("?", 1)[0]
        if "://" in raw_path:  # absolute-form request target
            raw_path = urlsplit(raw_path).path
        candidates.append(raw_path.encode("latin-1").decode("utf-8", "replace"))
    if not candidates:
        candidates.append(quote(decoded_path(environ), safe="/~"))
    canonical = quote(unquote(candidates[0]), safe="/~")
    if canonical not in candidates:
        candidates.append(canonical)
    return candidates


def virtual_host_bucket(host_name: str) -> str | None:
    """The bucket of a virtual-hosted-style S3 host (``b.s3.amazonaws.com``, ``b.s3.eu-west-1.amazonaws.com``,
    ``b.localhost``), or None for a path-style host."""
    if host_name.startswith("["):
        return None
    labels = host_name.split(":", 1)[0].split(".")
    for index, label in enumerate(labels):
        if index > 0 and (label == "s3" or label.startswith("s3-")):
            return ".".join(labels[:index])
    if len(labels) >= 2 and labels[-1] == "localhost":
        return ".".join(labels[:-1])
    return None
