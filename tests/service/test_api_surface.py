"""The API's declared surface: every route is typed, errors have one shape, permissions have one alias each,
and the stream page's model passes the service's items through unchanged."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Annotated, get_args, get_origin

import pytest
from annolake_service.api import deps
from annolake_service.api.app import API_PREFIX, create_app
from annolake_service.api.models.slices import StreamPage
from annolake_service.domain.entities import FileRecord
from annolake_service.domain.permissions import Action
from fastapi.params import Depends
from fastapi.routing import APIRoute, iter_route_contexts
from pydantic import TypeAdapter

APP = create_app()
DOCUMENT = APP.openapi()
#: Routes FastAPI adds to serve the OpenAPI document and its viewer: not part of the API.
DOC_ROUTES = {f"{API_PREFIX}/openapi.json", f"{API_PREFIX}/docs", "/docs/oauth2-redirect"}


def _api_routes() -> list[tuple[str, frozenset[str], object]]:
    found = []
    for context in iter_route_contexts(APP.routes):
        if context.path in DOC_ROUTES:
            continue
        assert isinstance(context.original_route, APIRoute), f"{context.path} is not an API route"
        found.append((context.path, frozenset(context.methods or ()), context))
    return found


def test_the_surface_is_the_documented_one():
    routes = _api_routes()
    assert len(routes) > 50
    documented = {(path, method.lower()) for path, item in DOCUMENT["paths"].items() for method in item}
    served = {(path, method.lower()) for path, methods, _ in routes for method in methods}
    assert served == documented


def test_every_route_declares_a_response_model_or_answers_no_content():
    untyped = []
    for path, methods, context in _api_routes():
        binary = any(
            media != "application/json" for media in getattr(context, "responses", {}).get(200, {}).get("content", {})
        )  # a video frame's JPEG: its documented 200 names the media type instead of a model
        if context.response_model is None and context.status_code != 204 and not binary:
            untyped.append(f"{sorted(methods)} {path}")
    assert untyped == []


def test_routes_without_content_declare_none():
    for path, methods, context in _api_routes():
        if context.status_code == 204:
            assert context.response_model is None, f"{sorted(methods)} {path}: 204 has no body"


def _responses():
    for path, item in DOCUMENT["paths"].items():
        for method, operation in item.items():
            yield f"{method.upper()} {path}", operation["responses"]


def test_every_error_status_is_documented_with_the_one_error_shape():
    error_ref = "#/components/schemas/ErrorPublic"
    for route, responses in _responses():
        errors = {status for status in responses if int(status) >= 400}
        assert {"401"} <= errors or route == f"GET {API_PREFIX}/health", route
        for status in errors:
            schema = responses[status]["content"]["application/json"]["schema"]
            if route == f"GET {API_PREFIX}/health":
                assert schema == {"$ref": "#/components/schemas/HealthPublic"}
            else:
                assert schema == {"$ref": error_ref}, f"{route} {status}"
    shape = DOCUMENT["components"]["schemas"]["ErrorBody"]
    assert set(shape["required"]) == {"code", "message", "details"}
    assert "HTTPValidationError" not in DOCUMENT["components"]["schemas"]


def test_project_routes_document_403_and_404():
    for route, responses in _responses():
        if "{project_string_id}" in route:
            assert {"401", "403", "404"} <= set(responses), route


def _strings(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("description", "summary", "title") and isinstance(value, str):
                yield value
            yield from _strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from _strings(value)


def test_descriptions_speak_of_annolake_only():
    texts = list(_strings(DOCUMENT))
    assert len(texts) > 100
    offending = [text for text in texts if re.search(r"diffgram|design\b|§", text, re.IGNORECASE)]
    assert offending == []


def test_one_dependency_alias_per_permission():
    aliases: dict[Action, list[str]] = {}
    for name, value in vars(deps).items():
        if get_origin(value) is not Annotated:
            continue
        base, *extras = get_args(value)
        marker = next((extra for extra in extras if isinstance(extra, Depends)), None)
        if base is deps.ProjectAccess and marker is not None:
            action = _action_of(marker.dependency)
            aliases.setdefault(action, []).append(name)
    assert set(aliases) == set(Action)
    assert all(len(names) == 1 for names in aliases.values()), aliases
    assert aliases[Action.FILE_READ] == ["CanReadFiles"]
    assert aliases[Action.ANNOTATION_WRITE] == ["CanWriteAnnotations"]


def _action_of(dependency) -> Action:
    name = dependency.__name__.removeprefix("require_")
    return Action[name.upper()]


def test_routes_check_permissions_through_the_aliases():
    """Each project route names its permission once, via an alias: the dependency functions are the aliases' own."""
    alias_dependencies = {
        marker.dependency
        for value in vars(deps).values()
        if get_origin(value) is Annotated
        for marker in get_args(value)[1:]
        if isinstance(marker, Depends)
    }
    for path, methods, context in _api_routes():
        if "{project_string_id}" not in path:
            continue
        used = {dep.call for dep in context.original_route.dependant.dependencies}
        assert used & alias_dependencies, f"{sorted(methods)} {path} checks no permission alias"


# --- the stream page: the SDK's contract, passed through unchanged ---------------------------


def _page(items: list[dict]) -> dict:
    """A stream page as the service builds it around ``items``."""
    return {
        "slice_id": "sl_0123456789abcdef01234567",
        "dataset": "default",
        "query": "labels.car >= 1",
        "count": 3,
        "created_at": "2025-01-02T03:04:05.678901+00:00",
        "expires_at": "2025-01-09T03:04:05.678901+00:00",
        "offset": 0,
        "items": items,
        "next_offset": None,
        "cursor": None,
        "url_expires_in": 3600,
        "predictions_run": None,
    }


def _record(file_id: str, **overrides) -> FileRecord:
    fields = {
        "project_id": "demo",
        "file_id": file_id,
        "original_name": f"{file_id}.jpg",
        "mime_type": "image/jpeg",
        "status": "ready",
        "width": 640,
        "height": None,
        "size_bytes": 1234,
        "content_hash": "ab" * 32,
        "original_key": f"media/{file_id}",
        "thumbnail_key": f"thumbs/{file_id}",
        "metadata": {"camera": "front", "nested": {"n": 1.5}},
        "annotation_version": 2,
        "created_at": datetime(2025, 1, 2, 3, 4, 5, 678901, tzinfo=UTC),
    }
    return FileRecord(**{**fields, **overrides})


@pytest.fixture
def service_items() -> list[dict]:
    from annolake_service.services.slices import _stream_item

    live = _record("f_live")
    instances = [{"type": "box", "name": "car", "x_min": 1, "y_min": 2, "x_max": 30, "y_max": 40, "id": "i1"}]
    urls = {"media/f_live": "https://media.example/f_live?X-Amz-Signature=abc"}  # no thumbnail asked for
    deleted = _record("f_gone", deleted_at=datetime(2025, 1, 3, tzinfo=UTC))
    return [
        _stream_item(0, live, "f_live", instances, urls),
        _stream_item(1, deleted, "f_gone", [], urls),
        _stream_item(2, None, "f_missing", [], urls),
    ]


def test_the_stream_page_model_passes_the_service_items_through_unchanged(service_items):
    page = _page(service_items)
    adapter = TypeAdapter(StreamPage)
    served = adapter.dump_python(adapter.validate_python(page), mode="json")
    assert json.dumps(served) == json.dumps(json.loads(json.dumps(page)))  # same keys, order and values
    live, deleted, missing = served["items"]
    assert live["thumbnail_url"] is None and live["file"]["height"] is None  # nulls stay
    assert set(deleted) == set(missing) == {"index", "file", "instance_list", "media_url"}
    assert deleted["file"] == {"id": "f_gone", "status": "deleted"}


def test_the_stream_page_route_validates_against_the_page_model():
    (items_route,) = [c for p, _, c in _api_routes() if p.endswith("/slices/{slice_id}/items")]
    assert items_route.response_model is StreamPage
    items = DOCUMENT["components"]["schemas"]["StreamPage"]["properties"]["items"]["items"]
    assert {ref["$ref"].rsplit("/", 1)[1] for ref in items["oneOf"]} == {"StreamItemPublic", "DeletedStreamItemPublic"}


def test_a_query_parameter_given_twice_is_refused_not_read_as_its_last():
    from starlette.testclient import TestClient

    client = TestClient(APP)
    refused = client.get(f"{API_PREFIX}/projects/p/imports", params=[("dataset", "a"), ("dataset", "b")])
    assert refused.status_code == 422
    assert refused.json()["error"]["details"] == {"repeated": ["dataset"]}
    assert client.get(f"{API_PREFIX}/projects/p/imports", params={"dataset": "a"}).status_code == 401  # on to auth
