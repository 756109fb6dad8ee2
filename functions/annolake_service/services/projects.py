"""Project setup use cases: projects, members and roles, API keys, datasets."""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime

from annolake_service.adapters import identity
from annolake_service.adapters.dynamo import datasets as dataset_repo
from annolake_service.adapters.dynamo import projects as project_repo
from annolake_service.adapters.dynamo.conditions import AlreadyExists
from annolake_service.domain.api_keys import IssuedKey, issue_key
from annolake_service.domain.entities import DATASET_NAME_PATTERN, ApiKey, Dataset, Project
from annolake_service.domain.object_keys import SLUG
from annolake_service.domain.roles import Role
from annolake_service.shared.errors import BadRequest, Conflict, NotFound
from annolake_service.shared.kept import Kept

DATASET_NAME = re.compile(DATASET_NAME_PATTERN)


def user_principal(username: str) -> str:
    return f"user:{username}"


def create_project(project_id: str, name: str, *, creator: str) -> Project:
    """Create a project whose first admin is ``creator`` (a principal id such as ``user:alice``)."""
    if not SLUG.match(project_id):
        raise BadRequest(
            f"project id {project_id!r} must be 2-63 lowercase letters, digits or '-', starting alphanumeric"
        )
    project = Project(project_id=project_id, name=name, created_at=datetime.now(UTC), created_by=creator)
    try:
        project_repo.create_project(project, admin_principal=creator)
    except AlreadyExists:
        raise Conflict(f"project {project_id!r} already exists; choose another id") from None
    return project


def get_project(project_id: str) -> Project:
    project = project_repo.get_project(project_id)
    if project is None:
        raise NotFound(f"project {project_id!r} not found")
    return project


def rename_project(project_id: str, name: str) -> Project:
    project_repo.rename_project(project_id, name)
    return get_project(project_id)


def projects_of(principal_id: str) -> list[tuple[Project, Role]]:
    return project_repo.projects_of(principal_id)


# --- members ------------------------------------------------------------------------------


def _admins(project_id: str) -> list[str]:
    """Admin users (API keys do not count: a project must keep a person who can manage it)."""
    return [p for p, role in project_repo.list_members(project_id) if role is Role.ADMIN and p.startswith("user:")]


def set_member_role(project_id: str, principal_id: str, role: Role) -> None:
    if not principal_id.startswith("user:"):
        raise BadRequest("members are users ('user:<username>'); API keys get their role when issued")
    if role is not Role.ADMIN and _admins(project_id) == [principal_id]:
        raise Conflict(f"{principal_id} is the last admin of {project_id!r}; make someone else admin first")
    project_repo.put_member(project_id, principal_id, role)


def invite_member(project_id: str, *, username: str, email: str | None, role: Role) -> bool:
    """Add a user as a member, creating (and e-mailing) the Cognito user when new. True if invited."""
    try:
        created = identity.ensure_user(username, email)
    except LookupError:
        raise BadRequest(f"user {username!r} does not exist yet; pass their email to invite them") from None
    set_member_role(project_id, user_principal(username), role)
    return created


def remove_member(project_id: str, principal_id: str) -> None:
    if _admins(project_id) == [principal_id]:
        raise Conflict(f"{principal_id} is the last admin of {project_id!r}; make someone else admin first")
    if not project_repo.remove_member(project_id, principal_id):
        raise NotFound(f"{principal_id} is not a member of {project_id!r}")


def list_members(project_id: str) -> list[tuple[str, Role]]:
    return project_repo.list_members(project_id)


# --- API keys -----------------------------------------------------------------------------


def issue_api_key(project_id: str, *, role: Role, name: str) -> IssuedKey:
    """Create a key; the returned secret is shown once and only its hash is stored."""
    issued = issue_key()
    project_repo.save_api_key(project_id, issued.client_id, issued.secret_hash, role, name)
    return issued


def list_api_keys(project_id: str) -> list[ApiKey]:
    return project_repo.list_api_keys(project_id)


#: How long a process keeps an API key it read to check a request's credentials (the hash is checked on every
#: request): under load a key is read once per process this often, not on every request. A key revoked
#: elsewhere (another API process or Lambda container) stops working within this many seconds; the process
#: that revokes it forgets it at once.
API_KEY_TTL_SECONDS = 5
_api_keys: Kept[ApiKey] = Kept(API_KEY_TTL_SECONDS)


def api_key(client_id: str) -> ApiKey | None:
    """An API key as stored (hash only), to check a request's credentials; an unknown id is read every time."""
    return _api_keys.get(client_id, lambda: project_repo.get_api_key(client_id))


def forget_api_keys() -> None:
    """Read every API key again on its next use."""
    _api_keys.forget()


def record_api_key_use(client_id: str, when: datetime) -> None:
    project_repo.mark_api_key_used(client_id, when)
    _api_keys.update(client_id, lambda kept: kept.model_copy(update={"last_used_at": when}))


def member_role(project_id: str, principal_id: str) -> Role | None:
    """The principal's role in the project; None when not a member (or no such project)."""
    return project_repo.get_member_role(project_id, principal_id)


def revoke_api_key(project_id: str, client_id: str) -> None:
    revoked = project_repo.revoke_api_key(project_id, client_id, datetime.now(UTC))
    _api_keys.forget(client_id)
    if not revoked:
        raise NotFound(f"API key {client_id!r} not found in project {project_id!r}")


# --- datasets -----------------------------------------------------------------------------


def create_dataset(project_id: str, name: str, description: str = "") -> Dataset:
    if not DATASET_NAME.match(name):
        raise BadRequest(
            f"dataset name {name!r} must be 1-128 letters, digits, spaces, '.', '_' or '-', starting alphanumeric"
        )
    dataset = Dataset(
        project_id=project_id,
        dataset_id=f"ds_{secrets.token_hex(6)}",
        name=name,
        description=description,
        created_at=datetime.now(UTC),
    )
    try:
        dataset_repo.create_dataset(dataset)
    except AlreadyExists:
        raise Conflict(f"dataset {name!r} already exists in project {project_id!r}") from None
    return dataset


def get_dataset(project_id: str, name: str) -> Dataset:
    dataset = dataset_repo.get_dataset(project_id, name)
    if dataset is None:
        names = [d.name for d in dataset_repo.list_datasets(project_id)]
        raise NotFound(f"dataset {name!r} not found in project {project_id!r}", details={"datasets": names})
    return dataset


def ensure_dataset(project_id: str, name: str) -> Dataset:
    """Get or create (a drop-folder folder or an upload target names its dataset)."""
    existing = dataset_repo.get_dataset(project_id, name)
    if existing is not None:
        return existing
    try:
        return create_dataset(project_id, name)
    except Conflict:
        return get_dataset(project_id, name)


def list_datasets(project_id: str) -> list[Dataset]:
    return dataset_repo.list_datasets(project_id)
