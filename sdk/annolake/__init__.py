"""Annolake SDK. ``Project()`` connects with explicit arguments, environment, or credentials.json."""

from annolake.client import (
    AnnolakeAPIError,
    ApiClient,
    AuthenticationError,
    InvalidRequest,
    NotFound,
    PermissionDenied,
    VersionConflict,
)
from annolake.credentials import Credentials, CredentialsNotFound
from annolake.directory import Dataset
from annolake.file import File, IngestFailed
from annolake.project import Project
from annolake.webhooks import verify_webhook
from annolake.workflow import Job, Task

__all__ = [
    "AnnolakeAPIError",
    "ApiClient",
    "AuthenticationError",
    "Credentials",
    "CredentialsNotFound",
    "Dataset",
    "File",
    "IngestFailed",
    "InvalidRequest",
    "Job",
    "NotFound",
    "PermissionDenied",
    "Project",
    "Task",
    "VersionConflict",
    "verify_webhook",
]
__version__ = "0.1.0"
