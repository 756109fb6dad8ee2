"""IAM proven before the first deploy: the local platform records each AWS call its functions and state machines
make, as the role that would make it (``recorder``), and the calls are checked against the provisioned roles'
policies (``check``): a missing grant, a call nobody can explain, an unacknowledged wildcard fail; grants
nobody used are listed. ``ANNOLAKE_IAM_AUDIT=<directory>`` turns the recording on for ``python -m infra.local``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from infra.local.iam_audit.grants import Grants
from infra.local.iam_audit.recorder import (
    AUDIT_VARIABLE,
    ActingAs,
    acting_as,
    install,
    installed,
    run_step_functions_executions_as_their_role,
)
from infra.local.provisioner import Deployment

__all__ = ["AUDIT_VARIABLE", "acting_as", "audit_directory", "install", "record_platform", "record_api"]


def audit_directory() -> Path | None:
    value = os.environ.get(AUDIT_VARIABLE)
    return Path(value) if value else None


def record_platform(directory: Path, deployment: Deployment, assembly: Path) -> None:
    """In the platform's process, once provisioned: write down the grants, record from now on."""
    Grants.of(deployment, assembly).save(directory)
    install(directory)
    run_step_functions_executions_as_their_role()


def record_api(app: Any) -> Any:
    """The API app, its AWS calls recorded as the API function's role when the audit is on."""
    directory = audit_directory()
    if directory is None:
        return app
    if installed() is None:  # an API worker process; the platform's own process records already
        install(directory)
    return ActingAs(app, Grants.load(directory).api_role)
