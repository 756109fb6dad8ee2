"""Projects, their members and their API keys."""

from __future__ import annotations

from datetime import UTC, datetime

from pynamodb.transactions import TransactWrite

from annolake_service.adapters.dynamo import keys
from annolake_service.adapters.dynamo.conditions import AlreadyExists, applied
from annolake_service.adapters.dynamo.items import ApiKeyItem, MemberItem, ProjectItem
from annolake_service.adapters.dynamo.table import bind, connection
from annolake_service.domain.entities import ApiKey, Project
from annolake_service.domain.roles import Role


def _project(item: ProjectItem) -> Project:
    return Project(project_id=item.project_id, name=item.name, created_at=item.created_at, created_by=item.created_by)


def _member_item(project_id: str, principal_id: str, role: Role) -> MemberItem:
    return MemberItem(
        PK=keys.project_pk(project_id),
        SK=keys.member_sk(principal_id),
        kind=MemberItem.KIND,
        GSI1PK=keys.principal_index_pk(principal_id),
        GSI1SK=keys.project_pk(project_id),
        project_id=project_id,
        principal_id=principal_id,
        role=role.value,
        added_at=datetime.now(UTC),
    )


def create_project(project: Project, *, admin_principal: str) -> None:
    """Create the project and its first admin in one transaction; AlreadyExists if the id is taken."""
    item = ProjectItem(
        PK=keys.project_pk(project.project_id),
        SK=keys.PROJECT_SK,
        kind=ProjectItem.KIND,
        GSI1PK=keys.PROJECTS_INDEX_PK,
        GSI1SK=project.project_id,
        project_id=project.project_id,
        name=project.name,
        created_by=project.created_by,
        created_at=project.created_at,
    )

    def write() -> None:
        with TransactWrite(connection=connection()) as tx:
            tx.save(item, condition=ProjectItem.PK.does_not_exist())
            tx.save(_member_item(project.project_id, admin_principal, Role.ADMIN))

    if not applied(write):
        raise AlreadyExists(project.project_id)


def get_project(project_id: str) -> Project | None:
    bind()
    try:
        return _project(ProjectItem.get(keys.project_pk(project_id), keys.PROJECT_SK))
    except ProjectItem.DoesNotExist:
        return None


def rename_project(project_id: str, name: str) -> None:
    bind()
    ProjectItem(PK=keys.project_pk(project_id), SK=keys.PROJECT_SK).update(
        actions=[ProjectItem.name.set(name)], condition=ProjectItem.PK.exists()
    )


def project_ids() -> list[str]:
    """Every project's id: a key query on GSI1 ``PROJECTS`` (ids only; the scheduled index compaction)."""
    bind()
    query = ProjectItem.gsi1.query(keys.PROJECTS_INDEX_PK, attributes_to_get=["GSI1SK"])
    return [item.GSI1SK for item in query if item.GSI1SK]


def projects_of(principal_id: str) -> list[tuple[Project, Role]]:
    bind()
    result = []
    for member in list(MemberItem.gsi1.query(keys.principal_index_pk(principal_id))):
        project = get_project(member.project_id)
        if project is not None:
            result.append((project, Role(member.role)))
    return result


# --- members ------------------------------------------------------------------------------


def put_member(project_id: str, principal_id: str, role: Role) -> None:
    bind()
    _member_item(project_id, principal_id, role).save()


def list_members(project_id: str) -> list[tuple[str, Role]]:
    bind()
    return [
        (m.principal_id, Role(m.role))
        for m in MemberItem.query(keys.project_pk(project_id), MemberItem.SK.startswith(keys.MEMBER_PREFIX))
    ]


def get_member_role(project_id: str, principal_id: str) -> Role | None:
    bind()
    try:
        return Role(MemberItem.get(keys.project_pk(project_id), keys.member_sk(principal_id)).role)
    except MemberItem.DoesNotExist:
        return None


def remove_member(project_id: str, principal_id: str) -> bool:
    """False when ``principal_id`` is not a member."""
    bind()
    item = MemberItem(PK=keys.project_pk(project_id), SK=keys.member_sk(principal_id))
    return applied(lambda: item.delete(condition=MemberItem.PK.exists()))


# --- API keys -----------------------------------------------------------------------------


def _api_key(item: ApiKeyItem) -> ApiKey:
    return ApiKey(
        project_id=item.project_id,
        client_id=item.client_id,
        secret_hash=item.secret_hash,
        role=Role(item.role),
        name=item.name,
        created_at=item.created_at,
        revoked_at=item.revoked_at,
        last_used_at=item.last_used_at,
    )


def save_api_key(project_id: str, client_id: str, secret_hash: str, role: Role, name: str) -> None:
    """Store the key (hash only) and its membership in one transaction."""
    created = datetime.now(UTC)
    key = ApiKeyItem(
        PK=keys.api_key_pk(client_id),
        SK=keys.API_KEY_SK,
        kind=ApiKeyItem.KIND,
        GSI1PK=keys.project_keys_index_pk(project_id),
        GSI1SK=created.isoformat(),
        project_id=project_id,
        client_id=client_id,
        secret_hash=secret_hash,
        role=role.value,
        name=name,
        created_at=created,
    )
    with TransactWrite(connection=connection()) as tx:
        tx.save(key, condition=ApiKeyItem.PK.does_not_exist())
        tx.save(_member_item(project_id, f"key:{client_id}", role))


def get_api_key(client_id: str) -> ApiKey | None:
    bind()
    try:
        return _api_key(ApiKeyItem.get(keys.api_key_pk(client_id), keys.API_KEY_SK))
    except ApiKeyItem.DoesNotExist:
        return None


def list_api_keys(project_id: str) -> list[ApiKey]:
    bind()
    return [_api_key(i) for i in ApiKeyItem.gsi1.query(keys.project_keys_index_pk(project_id))]


def mark_api_key_used(client_id: str, when: datetime) -> None:
    """Record last use; conditional so a deleted key is not resurrected by a late write."""
    bind()
    item = ApiKeyItem(PK=keys.api_key_pk(client_id), SK=keys.API_KEY_SK)
    applied(lambda: item.update(actions=[ApiKeyItem.last_used_at.set(when)], condition=ApiKeyItem.PK.exists()))


def revoke_api_key(project_id: str, client_id: str, when: datetime) -> bool:
    """False when the key is not one of the project's."""
    bind()
    item = ApiKeyItem(PK=keys.api_key_pk(client_id), SK=keys.API_KEY_SK)
    condition = ApiKeyItem.PK.exists() & (ApiKeyItem.project_id == project_id)
    if not applied(lambda: item.update(actions=[ApiKeyItem.revoked_at.set(when)], condition=condition)):
        return False
    remove_member(project_id, f"key:{client_id}")
    return True
