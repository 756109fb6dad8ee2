"""Authentication and project authorization: the dependencies every route declares.

- ``authenticate`` turns the ``Authorization`` header into a ``Principal``:
  ``Basic base64(client_id:client_secret)`` is an API key (what the SDK sends), ``Bearer <JWT>`` a
  Cognito user pool token (what the web UI sends), ID or access token, verified against the pool's JWKS.
- ``require(action)`` guards a route under ``/projects/{project_string_id}``: API keys act only in their
  own project with the role they were issued with; users with their membership role
  (``domain/permissions.py`` holds the matrix). A user who is not a member gets 404, as if the project
  did not exist.

Each permission of the matrix has one dependency alias (``CanReadFiles``, ``CanManageJobs``, ...), so routes
read like the spec::

    router = APIRouter(prefix="/projects/{project_string_id}/datasets")

    @router.get("")
    def list_datasets(access: CanReadDatasets) -> DatasetsPublic: ...
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Path, Security
from fastapi.security import HTTPAuthorizationCredentials
from fastapi.security.http import HTTPBase

from annolake_service.domain.permissions import Action
from annolake_service.services.access import (
    HOW_TO_AUTHENTICATE,
    AuthenticationFailed,
    Principal,
    ProjectAccess,
    authorize,
    principal_from_credentials,
)

# Two views of the one Authorization header, so that OpenAPI (and the docs' "Authorize" button) lists both
# schemes. Neither raises: ``authenticate`` reports what is missing or wrong.
API_KEY_SCHEME = HTTPBase(
    scheme="basic",
    scheme_name="ApiKey",
    description="An API key: HTTP Basic with the key's client_id as username and client_secret as password.",
    auto_error=False,
)
USER_TOKEN_SCHEME = HTTPBase(
    scheme="bearer",
    scheme_name="CognitoToken",
    description="A Cognito user pool ID token or access token issued to the web client.",
    auto_error=False,
)


# --- authentication -----------------------------------------------------------------------


def authenticate(
    api_key: Annotated[HTTPAuthorizationCredentials | None, Security(API_KEY_SCHEME)],
    _user_token: Annotated[HTTPAuthorizationCredentials | None, Security(USER_TOKEN_SCHEME)],
) -> Principal:
    """The caller, from ``Authorization: Basic …`` (API key) or ``Authorization: Bearer …`` (Cognito token)."""
    if api_key is None:  # both views parse the same header: neither has anything
        raise AuthenticationFailed(f"authentication required: {HOW_TO_AUTHENTICATE}")
    return principal_from_credentials(api_key.scheme, api_key.credentials)


#: The prefix of every project route; ``require`` reads its ``project_string_id``.
PROJECT_PATH = "/projects/{project_string_id}"


def require(action: Action) -> Callable[..., ProjectAccess]:
    """A dependency for routes with a ``{project_string_id}`` path parameter: the caller may do ``action`` there."""

    def dependency(
        project_string_id: Annotated[str, Path(description="The project's URL-safe id")],
        principal: Annotated[Principal, Depends(authenticate)],
    ) -> ProjectAccess:
        return authorize(principal, project_string_id, action)

    dependency.__name__ = f"require_{action.name.lower()}"
    dependency.__doc__ = f"The caller's access to the project, which must allow {action.value}."
    return dependency


# --- one dependency alias per permission ----------------------------------------------------

#: The authenticated caller (routes outside a project: listing and creating projects).
CurrentPrincipal = Annotated[Principal, Depends(authenticate)]

CanReadProject = Annotated[ProjectAccess, Depends(require(Action.PROJECT_READ))]
CanUpdateProject = Annotated[ProjectAccess, Depends(require(Action.PROJECT_UPDATE))]
CanDeleteProject = Annotated[ProjectAccess, Depends(require(Action.PROJECT_DELETE))]
CanReadMembers = Annotated[ProjectAccess, Depends(require(Action.MEMBER_READ))]
CanManageMembers = Annotated[ProjectAccess, Depends(require(Action.MEMBER_MANAGE))]
CanManageApiKeys = Annotated[ProjectAccess, Depends(require(Action.API_KEY_MANAGE))]
CanManageWebhooks = Annotated[ProjectAccess, Depends(require(Action.WEBHOOK_MANAGE))]
CanReadDatasets = Annotated[ProjectAccess, Depends(require(Action.DATASET_READ))]
CanWriteDatasets = Annotated[ProjectAccess, Depends(require(Action.DATASET_WRITE))]
CanDeleteDatasets = Annotated[ProjectAccess, Depends(require(Action.DATASET_DELETE))]
CanReadSchema = Annotated[ProjectAccess, Depends(require(Action.SCHEMA_READ))]
CanWriteSchema = Annotated[ProjectAccess, Depends(require(Action.SCHEMA_WRITE))]
CanReadFiles = Annotated[ProjectAccess, Depends(require(Action.FILE_READ))]
CanUploadFiles = Annotated[ProjectAccess, Depends(require(Action.FILE_UPLOAD))]
CanUpdateFiles = Annotated[ProjectAccess, Depends(require(Action.FILE_UPDATE))]
CanDeleteFiles = Annotated[ProjectAccess, Depends(require(Action.FILE_DELETE))]
CanReadAnnotations = Annotated[ProjectAccess, Depends(require(Action.ANNOTATION_READ))]
CanWriteAnnotations = Annotated[ProjectAccess, Depends(require(Action.ANNOTATION_WRITE))]
CanReadJobs = Annotated[ProjectAccess, Depends(require(Action.JOB_READ))]
CanManageJobs = Annotated[ProjectAccess, Depends(require(Action.JOB_MANAGE))]
CanAnnotateTasks = Annotated[ProjectAccess, Depends(require(Action.TASK_ANNOTATE))]
CanReviewTasks = Annotated[ProjectAccess, Depends(require(Action.TASK_REVIEW))]
CanCreateExports = Annotated[ProjectAccess, Depends(require(Action.EXPORT_CREATE))]
CanRunAutomation = Annotated[ProjectAccess, Depends(require(Action.AUTOMATION_RUN))]
