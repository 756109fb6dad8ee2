"""moto's S3 key store read under concurrent deletes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from infra.local.moto_patches.patching import replace


def s3_listings_survive_concurrent_deletes() -> None:
    """moto iterates a bucket's keys by copying their names, then looking each name up again: a key deleted
    between the two (an export's parts cleaned up while a listing runs) raised ``KeyError`` and failed the
    listing with a 500. Iterating the copy's own entries lists what the bucket held when the listing began."""
    from moto.s3.utils import _VersionedKeyStore

    def entries(_: Any) -> Callable[[Any], Iterator[tuple[str, Any]]]:
        def items(self: Any) -> Iterator[tuple[str, Any]]:
            for name, versions in self._self_iterable().items():
                if versions:
                    yield name, versions[-1]

        return items

    def latest(_: Any) -> Callable[[Any], Iterator[Any]]:
        def values(self: Any) -> Iterator[Any]:
            for versions in self._self_iterable().values():
                if versions:
                    yield versions[-1]

        return values

    def every_version(_: Any) -> Callable[[Any], Iterator[tuple[str, list[Any]]]]:
        def lists(self: Any) -> Iterator[tuple[str, list[Any]]]:
            yield from self._self_iterable().items()

        return lists

    for name in ("items", "iteritems"):
        replace(_VersionedKeyStore, name, "listing-survives-deletes", entries)
    for name in ("values", "itervalues"):
        replace(_VersionedKeyStore, name, "listing-survives-deletes", latest)
    for name in ("lists", "iterlists"):
        replace(_VersionedKeyStore, name, "listing-survives-deletes", every_version)
