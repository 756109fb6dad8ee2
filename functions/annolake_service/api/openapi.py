"""The API's OpenAPI document: FastAPI's, with the links between operations added (``make openapi`` prints it
to web/openapi.json).

A link says where a response's id goes next: the ``job_id`` a ``POST /jobs`` answers is the ``{job_id}`` of
``GET /jobs/{job_id}``. Clients read them to chain calls; schemathesis's stateful phase follows them, so
generated sequences reach records that exist (tests/service/test_api_fuzz.py).
"""

from __future__ import annotations

import json
import re
import sys
from typing import Any

_P = "/api/v1/projects/{project_string_id}"

# (source method, source path, status) -> [(target method, target path, {path parameter: runtime expression})]
# The project is always the request's own: every target also takes ``project_string_id`` from it.
LINKS: dict[tuple[str, str, str], list[tuple[str, str, dict[str, str]]]] = {
    ("post", f"{_P}/datasets", "201"): [
        (method, f"{_P}/datasets/{{dataset_name}}{tail}", {"dataset_name": "$response.body#/name"})
        for method, tail in (
            ("get", ""),
            ("get", "/files"),
            ("get", "/label-counts"),
            ("get", "/query"),
            ("post", "/slices"),
        )
    ],
    ("get", f"{_P}/datasets/{{dataset_name}}/files", "200"): [
        (method, f"{_P}/files/{{file_id}}{tail}", {"file_id": "$response.body#/files/0/file_id"})
        for method, tail in (
            ("get", ""),
            ("patch", ""),
            ("delete", ""),
            ("get", "/annotations"),
            ("put", "/annotations"),
            ("get", "/annotations/history"),
        )
    ],
    ("post", f"{_P}/datasets/{{dataset_name}}/slices", "201"): [
        (method, f"{_P}/slices/{{slice_id}}{tail}", {"slice_id": "$response.body#/slice_id"})
        for method, tail in (("get", ""), ("get", "/items"))
    ],
    ("post", f"{_P}/api-keys", "201"): [
        ("delete", f"{_P}/api-keys/{{client_id}}", {"client_id": "$response.body#/client_id"})
    ],
    ("post", f"{_P}/members", "201"): [
        (method, f"{_P}/members/{{principal_id}}", {"principal_id": "$response.body#/principal_id"})
        for method in ("patch", "delete")
    ],
    ("post", f"{_P}/jobs", "201"): [
        (method, f"{_P}/jobs/{{job_id}}{tail}", {"job_id": "$response.body#/job_id"})
        for method, tail in (
            ("get", ""),
            ("patch", ""),
            ("post", "/launch"),
            ("post", "/redrive"),
            ("get", "/stats"),
            ("get", "/tasks"),
        )
    ],
    ("post", f"{_P}/tasks/next", "200"): [
        (method, f"{_P}/tasks/{{task_id}}{tail}", {"task_id": "$response.body#/task/task_id"})
        for method, tail in (("get", ""), ("post", "/release"), ("post", "/submit"), ("post", "/review"))
    ],
    ("get", f"{_P}/jobs", "200"): [
        (method, f"{_P}/jobs/{{job_id}}{tail}", {"job_id": "$response.body#/jobs/0/job_id"})
        for method, tail in (("get", ""), ("get", "/stats"), ("get", "/tasks"))
    ],
    ("get", f"{_P}/jobs/{{job_id}}/tasks", "200"): [
        (method, f"{_P}/tasks/{{task_id}}{tail}", {"task_id": "$response.body#/tasks/0/task_id"})
        for method, tail in (("get", ""), ("post", "/release"), ("post", "/submit"), ("post", "/review"))
    ],
    ("post", f"{_P}/datasets/{{dataset_name}}/snapshots", "201"): [
        (method, f"{_P}/snapshots/{{snapshot_ref}}{tail}", {"snapshot_ref": "$response.body#/name"})
        for method, tail in (("get", ""), ("get", "/items"), ("post", "/exports"))
    ],
    ("post", f"{_P}/snapshots/{{snapshot_ref}}/exports", "202"): [
        ("get", f"{_P}/exports/{{export_id}}", {"export_id": "$response.body#/export_id"})
    ],
    ("post", f"{_P}/imports", "201"): [
        (method, f"{_P}/imports/{{import_id}}{tail}", {"import_id": "$response.body#/import_id"})
        for method, tail in (("get", ""), ("post", "/start"))
    ],
    ("post", f"{_P}/uploads", "201"): [
        ("get", f"{_P}/uploads/{{upload_id}}", {"upload_id": "$response.body#/upload_id"})
    ],
    **{
        ("post", f"{_P}/files/{source}", "202"): [
            ("get", f"{_P}/uploads/{{upload_id}}", {"upload_id": "$response.body#/upload_id"})
        ]
        for source in ("from_url", "from_packet")
    },
    ("post", f"{_P}/webhooks", "201"): [
        (method, f"{_P}/webhooks/{{webhook_id}}{tail}", {"webhook_id": "$response.body#/webhook/webhook_id"})
        for method, tail in (("delete", ""), ("get", "/failures"))
    ],
    ("get", f"{_P}/webhooks", "200"): [
        ("get", f"{_P}/webhooks/{{webhook_id}}/failures", {"webhook_id": "$response.body#/webhooks/0/webhook_id"})
    ],
    ("get", f"{_P}/webhooks/{{webhook_id}}/failures", "200"): [
        (
            "post",
            f"{_P}/webhooks/{{webhook_id}}/failures/{{failure_id}}/redeliver",
            {"webhook_id": "$request.path.webhook_id", "failure_id": "$response.body#/failures/0/failure_id"},
        )
    ],
}

# Links whose target is a create that needs a record the source made: the body names it (runtime expressions
# inside it are evaluated), so a job is created over a dataset that exists and its own links are followed.
BODY_LINKS: dict[tuple[str, str, str], list[tuple[str, str, dict[str, str], dict[str, Any]]]] = {
    ("post", f"{_P}/datasets", "201"): [
        ("post", f"{_P}/jobs", {}, {"name": "linked job", "datasets": ["$response.body#/name"], "review_rate": 1.0}),
        (
            "post",
            f"{_P}/datasets/{{dataset_name}}/snapshots",
            {"dataset_name": "$response.body#/name"},
            {"name": "linked"},
        ),
        ("post", f"{_P}/imports", {}, {"format": "jsonl", "dataset": "$response.body#/name"}),
        (
            "post",
            f"{_P}/uploads",
            {},
            {"dataset": "$response.body#/name", "file_name": "a.jpg", "content_type": "image/jpeg", "size_bytes": 10},
        ),
    ],
    ("post", f"{_P}/jobs", "201"): [
        (
            "post",
            f"{_P}/webhooks",
            {},
            {"url": "https://hooks.example.com/annolake", "events": ["task_created", "task_submitted"]},
        )
    ],
}


def _link_name(operation_id: str) -> str:
    """``get_job_api_v1_projects__…_get`` -> ``GetJob``: the route function's name."""
    return "".join(word.title() for word in operation_id.split("_api_v1", 1)[0].split("_"))


def with_links(document: dict[str, Any]) -> dict[str, Any]:
    """Add ``LINKS`` to FastAPI's document (in place; adding them again changes nothing)."""
    paths = document["paths"]
    every: list[tuple[tuple[str, str, str], list[tuple[Any, ...]]]] = [*LINKS.items(), *BODY_LINKS.items()]
    for (method, path, status), targets in every:
        response = paths[path][method]["responses"][status]
        links = response.setdefault("links", {})
        for target_method, target_path, parameters, *body in targets:
            operation_id = paths[target_path][target_method]["operationId"]
            given = {"project_string_id": "$request.path.project_string_id", **parameters}
            if set(given) != set(re.findall(r"{(\w+)}", target_path)):
                raise ValueError(f"the link {method} {path} -> {target_method} {target_path} gives {sorted(given)}")
            links[_link_name(operation_id)] = {"operationId": operation_id, "parameters": given}
            if body:
                links[_link_name(operation_id)]["requestBody"] = body[0]
    return document


def document() -> str:
    from annolake_service.api.app import create_app

    return json.dumps(create_app().openapi(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    sys.stdout.write(document())
