"""Versioned annotations: a save never overwrites, it appends.

A file's annotations are a chain of immutable versions (1, 2, ...). Each version holds the live
instances after the save and the instances that save removed. Each instance is itself versioned:
an edited instance gets a new ``id`` whose ``previous_id`` is the id it replaced and whose
``root_id`` is the id of its first version, so per-instance history is a filter on ``root_id``.

Saves are optimistic: the caller names the file version it last read; any other current
version is a conflict (the API answers 409 with the current version).
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from annolake_service.domain.instances import InvalidInstances

_BOOKKEEPING = {"id", "root_id", "previous_id", "version", "created_by", "created_at", "deleted_by", "deleted_at"}
# A version is stored as one DynamoDB item (400 KB at most, keys and bookkeeping included): its live and
# removed instances, as JSON, get this much of it.
MAX_VERSION_BYTES = 350 * 1024


class StaleVersion(Exception):
    def __init__(self, expected: int, current: int) -> None:
        super().__init__(f"version {expected} is stale; the file is at version {current}")
        self.expected = expected
        self.current = current


class UnknownInstance(ValueError):
    pass


class AnnotationTooLarge(InvalidInstances):
    """A version that would not fit in its stored item; the message says what to change."""


def new_instance_id() -> str:
    return f"in_{secrets.token_hex(8)}"


def content_of(instance: dict[str, Any]) -> dict[str, Any]:
    """What a user edits: everything but the version bookkeeping."""
    return {k: v for k, v in instance.items() if k not in _BOOKKEEPING}


def same_instances(current: list[dict[str, Any]], incoming: list[dict[str, Any]]) -> bool:
    """Whether a version's live instances are ``incoming`` (validated), in order: saving them changes nothing."""
    return [content_of(i) for i in current] == [content_of(i) for i in incoming]


@dataclass
class AnnotationChange:
    version: int
    instance_list: list[dict[str, Any]]
    deleted: list[dict[str, Any]] = field(default_factory=list)
    created: int = 0
    updated: int = 0
    unchanged: int = 0


def apply_save(
    *,
    current_version: int,
    current_instances: list[dict[str, Any]],
    expected_version: int,
    incoming: list[dict[str, Any]],
    author: str,
    now: datetime,
) -> AnnotationChange:
    """Compute the next version from the caller's full instance list (validated beforehand)."""
    if expected_version != current_version:
        raise StaleVersion(expected_version, current_version)
    live = {inst["id"]: inst for inst in current_instances}
    version = current_version + 1
    stamp = now.isoformat()
    change = AnnotationChange(version=version, instance_list=[])
    kept: set[str] = set()
    for raw in incoming:
        content = content_of(raw)
        previous_id = raw.get("id")
        if previous_id is None:
            instance_id = new_instance_id()
            change.instance_list.append(
                {
                    **content,
                    "id": instance_id,
                    "root_id": instance_id,
                    "previous_id": None,
                    "version": 1,
                    "created_by": author,
                    "created_at": stamp,
                }
            )
            change.created += 1
            continue
        before = live.get(previous_id)
        if before is None:
            raise UnknownInstance(
                f"instance id {previous_id!r} is not live on this file at version {current_version}; "
                "omit 'id' for new instances"
            )
        if previous_id in kept:
            raise UnknownInstance(f"instance id {previous_id!r} appears twice in the save")
        kept.add(previous_id)
        if content_of(before) == content:
            change.instance_list.append(before)
            change.unchanged += 1
            continue
        instance_id = new_instance_id()
        change.instance_list.append(
            {
                **content,
                "id": instance_id,
                "root_id": before["root_id"],
                "previous_id": previous_id,
                "version": before["version"] + 1,
                "created_by": author,
                "created_at": stamp,
            }
        )
        change.updated += 1
    change.deleted = [
        {**inst, "deleted_by": author, "deleted_at": stamp} for inst_id, inst in live.items() if inst_id not in kept
    ]
    _check_fits(change)
    return change


def _check_fits(change: AnnotationChange) -> None:
    kept, removed = len(json.dumps(change.instance_list)), len(json.dumps(change.deleted))  # as stored
    if kept + removed <= MAX_VERSION_BYTES:
        return
    limit = f"one annotation version holds at most {MAX_VERSION_BYTES // 1024} KB of instances"
    if kept > MAX_VERSION_BYTES:
        raise AnnotationTooLarge(
            f"the {len(change.instance_list)} instances come to {kept // 1024} KB once stored; {limit}: "
            "use fewer polygon points or fewer instances"
        )
    raise AnnotationTooLarge(
        f"this save comes to {(kept + removed) // 1024} KB once stored: a version keeps the "
        f"{len(change.deleted)} instances it removes ({removed // 1024} KB) beside the "
        f"{len(change.instance_list)} it holds ({kept // 1024} KB); {limit}: remove instances in one save "
        "and add the new ones in the next"
    )


def initial_instances(instances: list[dict[str, Any]], *, author: str, now: datetime) -> list[dict[str, Any]]:
    """Version-1 bookkeeping for pre-labels attached at ingest."""
    return apply_save(
        current_version=0,
        current_instances=[],
        expected_version=0,
        incoming=[content_of(i) for i in instances],
        author=author,
        now=now,
    ).instance_list


def instance_history(versions: list[tuple[int, list[dict], list[dict]]], root_id: str) -> list[dict[str, Any]]:
    """Every version of one instance (by ``root_id``), oldest first, with its deletion if any.

    ``versions`` are (file version, live instances, deleted instances) tuples in order.
    """
    seen: dict[str, dict[str, Any]] = {}
    for file_version, live, deleted in versions:
        for inst in [*live, *deleted]:
            if inst.get("root_id") == root_id:
                key = inst["id"] + ("#deleted" if "deleted_at" in inst else "")
                seen.setdefault(key, {**inst, "file_version": file_version})
    return sorted(seen.values(), key=lambda i: (i["file_version"], "deleted_at" in i))
