"""Per-route latency of the API Lambda in-process: API Gateway v2 events through the Mangum handler.

Storage is moto on loopback (so the figures include the HTTP round trips to the emulator, which
are slower than DynamoDB/S3 from Lambda); the point is the relative cost of the routes.
"""

from __future__ import annotations

import base64
import io
import json
import os
import statistics
import time
import uuid
from typing import Any

import boto3
from moto.server import ThreadedMotoServer
from PIL import Image

ROUNDS = 30


def _event(method: str, path: str, auth: str, body: Any = None) -> dict[str, Any]:
    raw = json.dumps(body) if body is not None else ""
    return {
        "version": "2.0",
        "routeKey": "ANY /api/{proxy+}",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"authorization": auth, "content-type": "application/json", "host": "bench"},
        "requestContext": {
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "b"},
            "requestId": uuid.uuid4().hex,
            "stage": "$default",
        },
        "body": raw,
        "isBase64Encoded": False,
    }


class _Context:
    function_name = "bench"
    memory_limit_in_mb = 1024
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bench"
    aws_request_id = "bench"

    def get_remaining_time_in_millis(self) -> int:
        return 29_000


def run() -> list[tuple[str, str, str]]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    session = boto3.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1")
    from tests.support.auth import create_single_table

    create_single_table(session.client("dynamodb", endpoint_url=endpoint), "bench")
    s3 = session.client("s3", endpoint_url=endpoint)
    for bucket in ("bench-media", "bench-drop"):
        s3.create_bucket(Bucket=bucket)
    os.environ.update(
        TABLE_NAME="bench",
        MEDIA_BUCKET="bench-media",
        DROP_BUCKET="bench-drop",
        AWS_ENDPOINT_URL=endpoint,
        AWS_ACCESS_KEY_ID="test",
        AWS_SECRET_ACCESS_KEY="test",
        AWS_REGION="us-east-1",
        USER_POOL_ID="us-east-1_x",
    )
    from annolake_service.api.handler import handler
    from annolake_service.domain.roles import Role
    from annolake_service.services import ingest, projects

    projects.create_project("bench", "Bench", creator="user:bench")
    projects.create_dataset("bench", "d")
    key = projects.issue_api_key("bench", role=Role.ADMIN, name="bench")
    auth = "Basic " + base64.b64encode(f"{key.client_id}:{key.client_secret}".encode()).decode()
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (1, 2, 3)).save(buffer, format="JPEG")
    s3.put_object(Bucket="bench-drop", Key="bench/d/x.jpg", Body=buffer.getvalue())
    file_id = ingest.register_file("bench-drop", "bench/d/x.jpg", ingest.process_media("bench-drop", "bench/d/x.jpg"))[
        "file_id"
    ]
    projects_schema = {"labels": [{"name": "car", "colour": "#ff0000"}], "attribute_groups": [], "version": 0}
    handler(_event("PUT", "/api/v1/projects/bench/schema", auth, projects_schema), _Context())

    version = {"n": 0}
    box = {"type": "box", "name": "car", "x_min": 1, "y_min": 1, "x_max": 20, "y_max": 20}

    def save() -> dict:
        body = {"version": version["n"], "instance_list": [box]}
        version["n"] += 1
        return _event("PUT", f"/api/v1/projects/bench/files/{file_id}/annotations", auth, body)

    routes = {
        "GET /health": lambda: _event("GET", "/api/v1/health", auth),
        "GET /projects/{p}/datasets": lambda: _event("GET", "/api/v1/projects/bench/datasets", auth),
        "GET /projects/{p}/datasets/{d}/files": lambda: _event("GET", "/api/v1/projects/bench/datasets/d/files", auth),
        "GET /projects/{p}/files/{f}": lambda: _event("GET", f"/api/v1/projects/bench/files/{file_id}", auth),
        "GET /projects/{p}/files/{f}/annotations": lambda: _event(
            "GET", f"/api/v1/projects/bench/files/{file_id}/annotations", auth
        ),
        "PUT /projects/{p}/files/{f}/annotations": save,
        "GET /projects/{p}/schema": lambda: _event("GET", "/api/v1/projects/bench/schema", auth),
    }
    rows = []
    for name, make_event in routes.items():
        samples = []
        for _ in range(ROUNDS):
            event = make_event()
            started = time.perf_counter()
            response = handler(event, _Context())
            samples.append((time.perf_counter() - started) * 1000)
            assert response["statusCode"] < 300, (name, response)
        rows.append(
            (
                f"API p50 {name}",
                f"{statistics.median(samples):.1f} ms",
                f"p90 {sorted(samples)[int(ROUNDS * 0.9)]:.1f} ms",
            )
        )
    server.stop()
    return rows
