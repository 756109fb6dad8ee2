"""What each project role may do: the permission matrix, checked by ``api/deps.py`` on every route.

``R`` = allowed. Admin may do everything; editors run the project's data but not its membership, credentials,
integrations or existence; reviewers and annotators work tasks; viewers only read (and do not see the members).

| action            | admin | editor | reviewer | annotator | viewer |
|-------------------|:-----:|:------:|:--------:|:---------:|:------:|
| project.read      |   R   |   R    |    R     |     R     |   R    |
| project.update    |   R   |   R    |          |           |        |
| project.delete    |   R   |        |          |           |        |
| member.read       |   R   |   R    |    R     |           |        |
| member.manage     |   R   |        |          |           |        |
| api_key.manage    |   R   |        |          |           |        |
| webhook.manage    |   R   |        |          |           |        |
| dataset.read      |   R   |   R    |    R     |     R     |   R    |
| dataset.write     |   R   |   R    |          |           |        |
| dataset.delete    |   R   |   R    |          |           |        |
| schema.read       |   R   |   R    |    R     |     R     |   R    |
| schema.write      |   R   |   R    |          |           |        |
| file.read         |   R   |   R    |    R     |     R     |   R    |
| file.upload       |   R   |   R    |          |           |        |
| file.update       |   R   |   R    |          |           |        |
| file.delete       |   R   |   R    |          |           |        |
| annotation.read   |   R   |   R    |    R     |     R     |   R    |
| annotation.write  |   R   |   R    |    R     |     R     |        |
| job.read          |   R   |   R    |    R     |     R     |   R    |
| job.manage        |   R   |   R    |          |           |        |
| task.annotate     |   R   |   R    |    R     |     R     |        |
| task.review       |   R   |   R    |    R     |           |        |
| export.create     |   R   |   R    |          |           |        |
| automation.run    |   R   |   R    |          |           |        |

An API key carries one of these roles too (chosen when it is issued) and acts only in its own project.
"""

from __future__ import annotations

from enum import StrEnum

from annolake_service.domain.roles import Role


class Action(StrEnum):
    PROJECT_READ = "project.read"
    PROJECT_UPDATE = "project.update"
    PROJECT_DELETE = "project.delete"
    MEMBER_READ = "member.read"
    MEMBER_MANAGE = "member.manage"
    API_KEY_MANAGE = "api_key.manage"
    WEBHOOK_MANAGE = "webhook.manage"
    DATASET_READ = "dataset.read"
    DATASET_WRITE = "dataset.write"
    DATASET_DELETE = "dataset.delete"
    SCHEMA_READ = "schema.read"
    SCHEMA_WRITE = "schema.write"
    FILE_READ = "file.read"
    FILE_UPLOAD = "file.upload"
    FILE_UPDATE = "file.update"
    FILE_DELETE = "file.delete"
    ANNOTATION_READ = "annotation.read"
    ANNOTATION_WRITE = "annotation.write"
    JOB_READ = "job.read"
    JOB_MANAGE = "job.manage"
    TASK_ANNOTATE = "task.annotate"
    TASK_REVIEW = "task.review"
    EXPORT_CREATE = "export.create"
    AUTOMATION_RUN = "automation.run"


_A = Action

#: What a viewer sees: the project's data, not its people.
_CONTENT_READS = frozenset(
    {_A.PROJECT_READ, _A.DATASET_READ, _A.SCHEMA_READ, _A.FILE_READ, _A.ANNOTATION_READ, _A.JOB_READ}
)
#: Only admins govern who is in the project, its credentials, its integrations and whether it exists.
_GOVERNANCE = frozenset({_A.PROJECT_DELETE, _A.MEMBER_MANAGE, _A.API_KEY_MANAGE, _A.WEBHOOK_MANAGE})

_MATRIX: dict[Role, frozenset[Action]] = {
    Role.ADMIN: frozenset(Action),
    Role.EDITOR: frozenset(Action) - _GOVERNANCE,
    Role.REVIEWER: _CONTENT_READS | {_A.MEMBER_READ, _A.ANNOTATION_WRITE, _A.TASK_ANNOTATE, _A.TASK_REVIEW},
    Role.ANNOTATOR: _CONTENT_READS | {_A.ANNOTATION_WRITE, _A.TASK_ANNOTATE},
    Role.VIEWER: _CONTENT_READS,
}


def can(role: Role, action: Action) -> bool:
    """Whether ``role`` may perform ``action`` in its project."""
    return action in _MATRIX[role]


def allowed_actions(role: Role) -> frozenset[Action]:
    """Every action ``role`` may perform."""
    return _MATRIX[role]


def roles_allowed(action: Action) -> list[Role]:
    """The roles that may perform ``action``, most privileged first (for error messages)."""
    return [role for role in Role if action in _MATRIX[role]]
