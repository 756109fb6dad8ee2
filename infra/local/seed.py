"""First-run demo: project ``demo`` with dataset ``default`` of generated street scenes.

Images and their sidecar pre-labels are dropped into the drop bucket, so the demo data goes
through the same S3 notification -> ingest state machine path as a user's files.
"""

from __future__ import annotations

import io
import json
import random
import secrets
import time
from dataclasses import dataclass
from typing import Any

from PIL import Image, ImageDraw

DEMO_PROJECT = "demo"
DEMO_DATASET = "default"
DEMO_USERNAME = "admin"
DEMO_LABELS = {"car": "#1f77b4", "pedestrian": "#d62728", "bicycle": "#2ca02c", "traffic light": "#ff7f0e"}
DEMO_IMAGE_COUNT = 24
_SIZE = (320, 240)


@dataclass(frozen=True)
class DemoCredentials:
    project: str
    client_id: str
    client_secret: str
    username: str
    password: str


def demo_scene(index: int) -> tuple[bytes, list[dict[str, Any]]]:
    """A deterministic street scene: road, cars, pedestrians and bicycles, with matching boxes."""
    rng = random.Random(index)
    image = Image.new("RGB", _SIZE, (110, 170, 220))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 150, _SIZE[0], _SIZE[1]), fill=(70, 70, 70))
    instances: list[dict[str, Any]] = []
    counts = {"car": rng.randint(0, 6), "pedestrian": rng.randint(0, 3), "bicycle": rng.randint(0, 2)}
    shapes = {
        "car": ((40, 70), (20, 35), (30, 60, 200)),
        "pedestrian": ((10, 16), (30, 45), (200, 40, 40)),
        "bicycle": ((22, 30), (16, 22), (40, 160, 60)),
    }
    for name, count in counts.items():
        (wmin, wmax), (hmin, hmax), colour = shapes[name]
        for _ in range(count):
            w, h = rng.randint(wmin, wmax), rng.randint(hmin, hmax)
            x, y = rng.randint(0, _SIZE[0] - w - 1), rng.randint(120, _SIZE[1] - h - 1)
            draw.rectangle((x, y, x + w, y + h), fill=colour, outline=(0, 0, 0))
            instances.append(
                {
                    "type": "box",
                    "name": name,
                    "x_min": x,
                    "y_min": y,
                    "x_max": x + w,
                    "y_max": y + h,
                    "source": "model",
                    "model_name": "demo-generator",
                    "score": 1.0,
                }
            )
    if rng.random() < 0.4:
        instances.append({"type": "box", "name": "traffic light", "x_min": 290, "y_min": 40, "x_max": 305, "y_max": 90})
        draw.rectangle((290, 40, 305, 90), fill=(20, 20, 20))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=90)
    return buffer.getvalue(), instances


def seed_demo(*, s3: Any, cognito: Any, user_pool_id: str, drop_bucket: str, timeout_s: float = 180) -> DemoCredentials:
    # Imported here: the service package reads its settings from the environment set by the runtime.
    from annolake_service.adapters.dynamo import datasets as dataset_repo
    from annolake_service.domain.roles import Role
    from annolake_service.domain.schema import AttributeGroup, LabelSpec, Schema
    from annolake_service.services import projects
    from annolake_service.services import schema as schema_service

    password = f"Demo-{secrets.token_urlsafe(12)}1a"
    cognito.admin_create_user(
        UserPoolId=user_pool_id,
        Username=DEMO_USERNAME,
        MessageAction="SUPPRESS",
        UserAttributes=[{"Name": "email", "Value": "admin@demo.annolake.local"}],
    )
    cognito.admin_set_user_password(UserPoolId=user_pool_id, Username=DEMO_USERNAME, Password=password, Permanent=True)
    projects.create_project(DEMO_PROJECT, "Demo", creator=projects.user_principal(DEMO_USERNAME))
    dataset = projects.create_dataset(DEMO_PROJECT, DEMO_DATASET, "generated street scenes with model pre-labels")
    schema_service.save_schema(
        DEMO_PROJECT,
        Schema(
            labels=[LabelSpec(name=name, colour=colour) for name, colour in DEMO_LABELS.items()],
            attribute_groups=[
                AttributeGroup(name="occluded", kind="radio", options=["no", "partly", "mostly"]),
                AttributeGroup(name="time of day", kind="select", scope="global", options=["day", "night"]),
            ],
        ),
        expected_version=0,
    )
    key = projects.issue_api_key(DEMO_PROJECT, role=Role.ADMIN, name="demo admin key")

    for index in range(DEMO_IMAGE_COUNT):
        jpeg, instances = demo_scene(index)
        stem = f"{DEMO_PROJECT}/{DEMO_DATASET}/scene-{index:03d}"
        sidecar = {"instance_list": instances, "metadata": {"scene": index, "weather": "clear"}}
        s3.put_object(Bucket=drop_bucket, Key=f"{stem}.json", Body=json.dumps(sidecar).encode())
        s3.put_object(Bucket=drop_bucket, Key=f"{stem}.jpg", Body=jpeg, ContentType="image/jpeg")

    deadline = time.monotonic() + timeout_s
    while dataset_repo.count_dataset_files(DEMO_PROJECT, dataset.dataset_id) < DEMO_IMAGE_COUNT:
        if time.monotonic() > deadline:
            raise RuntimeError("the demo images were dropped but not all were ingested in time")
        time.sleep(0.2)
    return DemoCredentials(DEMO_PROJECT, key.client_id, key.client_secret, DEMO_USERNAME, password)
