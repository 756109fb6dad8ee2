"""Where an arriving object belongs, read from its S3 key.

Drop folder:  ``<project>/<dataset>/<any/path/name.ext>``; ``<project>/<name.ext>`` goes to the dataset ``default``
Uploads:      ``uploads/<project>/<dataset>/<upload id>/<name.ext>`` (presigned POST target)
A ``<name>.json`` beside an image is that image's sidecar of pre-labels, not a file of its own.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from urllib.parse import unquote_plus

UPLOADS_PREFIX = "uploads/"
SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")
DEFAULT_DATASET = "default"


class ObjectKeyRejected(ValueError):
    """The key does not name a project and dataset; the message says the expected layout."""


@dataclass(frozen=True)
class ArrivedObject:
    project_id: str
    dataset_name: str
    original_name: str  # file name as the user gave it
    relative_path: str  # path below the dataset folder
    source: str  # "drop" | "upload"
    upload_id: str | None = None

    @property
    def is_sidecar(self) -> bool:
        return self.original_name.lower().endswith(".json")


def decode_event_key(raw_key: str) -> str:
    """S3 event keys are URL-encoded with ``+`` for spaces (a literal plus arrives as %2B)."""
    return unquote_plus(raw_key)


def parse_object_key(key: str) -> ArrivedObject:
    source = "drop"
    upload_id = None
    parts = key.split("/")
    if key.startswith(UPLOADS_PREFIX):
        source = "upload"
        parts = parts[1:]
        if len(parts) < 4:
            raise ObjectKeyRejected(f"upload key {key!r} must be uploads/<project>/<dataset>/<upload id>/<name>")
        project_id, dataset_name, relative = parts[0], parts[1], "/".join(parts[3:])
        upload_id = parts[2]
    else:
        if len(parts) < 2 or not parts[-1]:
            raise ObjectKeyRejected(
                f"drop key {key!r} must be <project>/<dataset>/<name>: put files inside a project's dataset folder"
            )
        if len(parts) == 2:  # dropped at the project's top level: its default dataset, never left unseen
            project_id, dataset_name, relative = parts[0], DEFAULT_DATASET, parts[1]
        else:
            project_id, dataset_name, relative = parts[0], parts[1], "/".join(parts[2:])
    if not SLUG.match(project_id):
        raise ObjectKeyRejected(f"{project_id!r} is not a project id (lowercase letters, digits, '-')")
    if not dataset_name:
        raise ObjectKeyRejected(f"key {key!r} has an empty dataset name")
    return ArrivedObject(
        project_id=project_id,
        dataset_name=dataset_name,
        original_name=posixpath.basename(relative),
        relative_path=relative,
        source=source,
        upload_id=upload_id,
    )


def sidecar_key_for(key: str) -> str:
    """``a/b/img.jpg`` -> ``a/b/img.json`` (the sidecar of pre-labels for that image)."""
    stem, _ext = posixpath.splitext(key)
    return f"{stem}.json"
