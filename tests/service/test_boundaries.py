"""Tenant and role boundaries, tried on every project route the app serves (enumerated, so a new route is covered).

For each route: no credentials, a revoked key, another project's admin key, a Cognito user who is not a member,
and every role whose permission does not include the route's: each is refused (401/403/404) with the one error
shape, never an answer with data.
"""

from __future__ import annotations

import base64
import re
from typing import Any

import pytest
from annolake_service.api.app import create_app
from annolake_service.domain.permissions import Action, can
from annolake_service.domain.roles import Role
from annolake_service.services import projects
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.testclient import TestClient

from tests.support.auth import AuthWorld, auth_world

__all__ = ["auth_world"]  # the fixture, used by name

HOME, OTHER = "home", "other"
APP = create_app()


def _project_routes() -> list[tuple[str, str, Action]]:
    """(method, path, the permission it requires) for every route under a project."""
    routes = []
    for context in iter_route_contexts(APP.routes):
        route = context.original_route
        if not isinstance(route, APIRoute) or "{project_string_id}" not in context.path:
            continue
        [action] = [
            Action[dep.call.__name__.removeprefix("require_").upper()]
            for dep in route.dependant.dependencies
            if getattr(dep.call, "__name__", "").startswith("require_")
        ]
        routes.extend((method, context.path, action) for method in sorted(context.methods or ()))
    return routes


ROUTES = _project_routes()


def _url(path: str, project: str) -> str:
    """The route's path in ``project``, every other path parameter an id that exists nowhere."""
    return re.sub(r"\{[^}]+\}", "probe-id", path.replace("{project_string_id}", project))


def _basic(client_id: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


@pytest.fixture(scope="module")
def world(auth_world: AuthWorld) -> dict[str, Any]:
    projects.create_project(HOME, "Home", creator="user:owner")
    projects.create_project(OTHER, "Other", creator="user:stranger")
    keys = {role: projects.issue_api_key(HOME, role=role, name=role.value) for role in Role}
    revoked = projects.issue_api_key(HOME, role=Role.ADMIN, name="revoked")
    projects.revoke_api_key(HOME, revoked.client_id)
    other_admin = projects.issue_api_key(OTHER, role=Role.ADMIN, name="other admin")
    auth_world.add_user("mallory")  # in the user pool, a member of no project
    return {
        "client": TestClient(APP),
        "keys": {role: _basic(k.client_id, k.client_secret) for role, k in keys.items()},
        "revoked": _basic(revoked.client_id, revoked.client_secret),
        "other_admin": _basic(other_admin.client_id, other_admin.client_secret),
        "stranger": {"Authorization": f"Bearer {auth_world.sign_in('mallory')['IdToken']}"},
    }


def _refused(response: Any, status: int, code: str) -> None:
    assert response.status_code == status, (response.status_code, response.text)
    body = response.json()
    assert set(body) == {"error"} and body["error"]["code"] == code, body


def test_every_project_route_is_enumerated():
    assert len(ROUTES) >= 40
    assert {action for _, _, action in ROUTES} >= {Action.FILE_READ, Action.ANNOTATION_WRITE, Action.JOB_MANAGE}


@pytest.mark.parametrize(("method", "path", "action"), ROUTES, ids=[f"{m} {p}" for m, p, _ in ROUTES])
def test_outsiders_and_lesser_roles_are_refused(world: dict[str, Any], method: str, path: str, action: Action):
    client, url = world["client"], _url(path, HOME)

    def call(headers: dict[str, str] | None) -> Any:
        return client.request(method, url, headers=headers or {}, json={})

    _refused(call(None), 401, "unauthorized")
    _refused(call(world["revoked"]), 401, "unauthorized")
    _refused(call(world["other_admin"]), 403, "forbidden")
    _refused(call(world["stranger"]), 404, "not_found")
    for role in Role:
        if not can(role, action):
            _refused(call(world["keys"][role]), 403, "forbidden")
