"""Which URLs the platform will fetch for ``from_url``: http(s) to public addresses only.

Refusing private, loopback, link-local (169.254.x: the instance metadata service), multicast and
reserved addresses keeps a user-supplied URL from reaching the deployment's own network (SSRF).
Every redirect hop is checked again by the fetcher.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from urllib.parse import urlsplit


class UrlRefused(ValueError):
    pass


def check_url(url: str) -> tuple[str, str]:
    """(scheme, host) of an acceptable URL, or UrlRefused naming the problem."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise UrlRefused(f"only http and https URLs can be imported, not {parts.scheme or 'a bare path'!r}")
    if not parts.hostname:
        raise UrlRefused(f"URL {url!r} has no host")
    if parts.username or parts.password:
        raise UrlRefused("URLs with credentials in them are refused; use a presigned URL instead")
    return parts.scheme, parts.hostname


def check_addresses(host: str, addresses: Iterable[str], *, allow_private: bool) -> None:
    """Refuse a host that resolves to any non-public address (unless private hosts are allowed)."""
    for address in addresses:
        ip = ipaddress.ip_address(address)
        if allow_private:
            continue
        if not ip.is_global or ip.is_multicast:
            raise UrlRefused(
                f"{host} resolves to {ip}, a private, loopback or link-local address; only public hosts can be "
                "imported from"
            )
