"""Annolake SDK: datasets, files, labelling jobs, and slices streamed into PyTorch or TensorFlow.

``Project()`` connects with explicit arguments, the ``ANNOLAKE_*`` environment variables, or a
credentials.json. The PyTorch and TensorFlow loaders are attributes of this package too, imported on first
use, so ``import annolake`` imports neither framework.
"""

from __future__ import annotations

from importlib import import_module, metadata
from typing import Any

from annolake._scope import Scope
from annolake.client import ApiClient
from annolake.credentials import Credentials
from annolake.directory import Dataset, Directories
from annolake.errors import (
    AnnolakeAPIError,
    AnnolakeError,
    AuthenticationError,
    CredentialsNotFound,
    ExportFailed,
    FetchError,
    FileUnavailable,
    ImportFailed,
    IngestFailed,
    InvalidRequest,
    MediaMismatch,
    NotFound,
    PermissionDenied,
    RunFailed,
    SnapshotFailed,
    UrlExpired,
    VersionConflict,
)
from annolake.file import File, Files
from annolake.models import Model, Models, PredictionRun
from annolake.project import Project
from annolake.reader import SliceReader, StreamOptions
from annolake.samples import SampleFile
from annolake.slices import Slice
from annolake.snapshots import Snapshot, Snapshots
from annolake.webhooks import verify_webhook
from annolake.workflow import Job, Jobs, Task, Tasks, Webhooks

try:
    __version__ = metadata.version("annolake")
except metadata.PackageNotFoundError:  # run from a source tree that was never installed
    __version__ = "0+unknown"

__all__ = [
    "AnnolakeAPIError",
    "AnnolakeError",
    "ApiClient",
    "AuthenticationError",
    "Credentials",
    "CredentialsNotFound",
    "Dataset",
    "Directories",
    "ExportFailed",
    "FetchError",
    "File",
    "FileUnavailable",
    "Files",
    "ImportFailed",
    "IngestFailed",
    "InvalidRequest",
    "Job",
    "Jobs",
    "MediaMismatch",
    "Model",
    "Models",
    "NotFound",
    "PermissionDenied",
    "PredictionRun",
    "Project",
    "RunFailed",
    "SampleFile",
    "Scope",
    "Slice",
    "SliceReader",
    "Snapshot",
    "SnapshotFailed",
    "Snapshots",
    "StreamOptions",
    "Task",
    "Tasks",
    "UrlExpired",
    "VersionConflict",
    "Webhooks",
    "__version__",
    "verify_webhook",
]

# Framework loaders, imported when first read. They stay out of ``__all__`` so ``from annolake import *``
# works without torch or tensorflow installed.
_LAZY = {
    "SliceDataset": "annolake.torch_data",
    "StreamingSliceDataset": "annolake.torch_data",
    "SliceLoader": "annolake.torch_data",
    "detection_collate": "annolake.torch_data",
    "slice_to_tensorflow": "annolake.tf_data",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'annolake' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
