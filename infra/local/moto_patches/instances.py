"""moto's models stop keeping every instance they ever made.

Each moto model class appends every instance it creates to ``instances_tracked``, for moto's dashboard (which
the local platform does not serve), and nothing removes them until a reset. A DynamoDB ``Item`` is created for
every stored item and for every copy a read, an update or a transaction makes, so a platform left running
held every item any request ever answered: 39,000 ``Item``s for a dataset of 3,000 items after 20 queries of a
page, and its memory grew with every request. S3's keys likewise: every deleted or overwritten object (each
dropped upload once ingested, each index delta once compacted) stayed in memory, about 4 KB each.

moto's S3 reset walks the list to dispose keys no bucket holds any more; a bucket disposes the keys it drops
(a delete, an overwrite), and a key collected unreferenced disposes itself, so nothing is left open.
"""

from __future__ import annotations

from typing import Any

from infra.local.moto_patches.patching import replace


class _Discarded(list):
    """An ``instances_tracked`` that keeps nothing appended to it."""

    def append(self, _instance: Any) -> None:
        return None


_DISCARDED = _Discarded()


def keep_no_model_instances() -> None:
    from moto.core.common_models import BaseModel

    def make(tracking_new: Any) -> Any:
        def untracked_new(cls: type, *args: Any, **kwargs: Any) -> Any:
            # set again after each reset (moto's reset gives every model a new list)
            if cls.__dict__.get("instances_tracked") is not _DISCARDED:
                cls.instances_tracked = _DISCARDED  # type: ignore[attr-defined]
            return tracking_new(cls, *args, **kwargs)

        return untracked_new

    replace(BaseModel, "__new__", "keep_no_model_instances", make)
