"""The permission matrix, checked cell by cell against a table written out here independently."""

from __future__ import annotations

import pytest
from annolake_service.domain.permissions import Action, allowed_actions, can, roles_allowed
from annolake_service.domain.roles import Role

# Columns: admin, editor, reviewer, annotator, viewer. Written from the product rules, not from the module.
EXPECTED = """
project.read        Y Y Y Y Y
project.update      Y Y . . .
project.delete      Y . . . .
member.read         Y Y Y . .
member.manage       Y . . . .
api_key.manage      Y . . . .
webhook.manage      Y . . . .
dataset.read        Y Y Y Y Y
dataset.write       Y Y . . .
dataset.delete      Y Y . . .
schema.read         Y Y Y Y Y
schema.write        Y Y . . .
file.read           Y Y Y Y Y
file.upload         Y Y . . .
file.update         Y Y . . .
file.delete         Y Y . . .
annotation.read     Y Y Y Y Y
annotation.write    Y Y Y Y .
job.read            Y Y Y Y Y
job.manage          Y Y . . .
task.annotate       Y Y Y Y .
task.review         Y Y Y . .
export.create       Y Y . . .
automation.run      Y Y . . .
"""
COLUMNS = [Role.ADMIN, Role.EDITOR, Role.REVIEWER, Role.ANNOTATOR, Role.VIEWER]


def _table() -> dict[tuple[Role, str], bool]:
    table = {}
    for line in EXPECTED.strip().splitlines():
        action, *cells = line.split()
        assert len(cells) == len(COLUMNS), line
        for role, cell in zip(COLUMNS, cells, strict=True):
            table[role, action] = cell == "Y"
    return table


TABLE = _table()
READS = {"project.read", "member.read", "dataset.read", "schema.read", "file.read", "annotation.read", "job.read"}


def test_the_table_covers_exactly_the_actions_and_roles():
    assert {action for _, action in TABLE} == {a.value for a in Action}
    assert set(COLUMNS) == set(Role)
    assert len(TABLE) == len(Role) * len(Action)


@pytest.mark.parametrize("role", list(Role), ids=str)
@pytest.mark.parametrize("action", list(Action), ids=str)
def test_can_matches_the_expected_table(role: Role, action: Action):
    assert can(role, action) is TABLE[role, action.value]
    assert (action in allowed_actions(role)) is TABLE[role, action.value]
    assert (role in roles_allowed(action)) is TABLE[role, action.value]


def test_admin_may_do_everything():
    assert allowed_actions(Role.ADMIN) == frozenset(Action)


@pytest.mark.parametrize("action", [Action.MEMBER_MANAGE, Action.API_KEY_MANAGE, Action.WEBHOOK_MANAGE])
def test_only_admins_govern_members_keys_and_webhooks(action: Action):
    assert roles_allowed(action) == [Role.ADMIN]


def test_viewer_only_reads_and_not_the_members():
    viewer = allowed_actions(Role.VIEWER)
    assert {a.value for a in viewer} <= READS
    assert Action.MEMBER_READ not in viewer
    writes = [a for a in Action if a.value not in READS]
    assert writes and not any(can(Role.VIEWER, a) for a in writes)


def test_roles_are_nested_from_most_to_least_privileged():
    ordered = list(Role)
    for stronger, weaker in zip(ordered, ordered[1:], strict=False):
        assert allowed_actions(weaker) <= allowed_actions(stronger), (stronger, weaker)
