"""The synthesized template on the session's moto (``local_stack``) with its state machines executing: moto's ASL
engine runs the prediction state machine and calls its Lambda tasks in this process (``infra.local.lambda_runtime``),
as ``make up`` does. The API is served by uvicorn in a thread; SDK calls go to it.

``ModelPlatform.seed`` writes files through the service's own ingest code: solid-colour PNGs (red files hold cars,
green ones pedestrians) with human boxes, so a test knows what each file is and what the model will say.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import uvicorn
from moto.core.config import default_user_config

from infra.local import lambda_runtime, moto_patches
from infra.local.moto_patches.step_functions import _ENGINE_MODULES
from tests.support import onnx_models
from tests.support.auth import point_service_at, reset_service_caches

RED, GREEN = (230, 20, 20), (20, 230, 20)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _forget_pooled_engine_clients() -> None:
    """moto_patches keeps one client per service for the ASL engine, made for the emulator port of its time;
    an emulator of an earlier test module may be gone, so the pool is emptied before this one is used."""
    import importlib

    for name in _ENGINE_MODULES:
        function = getattr(importlib.import_module(name), "boto_client_for", None)
        for cell in getattr(function, "__closure__", None) or ():
            clear = getattr(cell.cell_contents, "cache_clear", None)
            if clear is not None:
                clear()


@dataclass
class ModelPlatform:
    host: str
    project_id: str
    client_id: str
    client_secret: str
    environment: dict[str, str]

    def project(self):
        from annolake import Project

        return Project(self.project_id, client_id=self.client_id, client_secret=self.client_secret, host=self.host)

    def seed(self, dataset: str, colours: list[tuple[int, int, int]], *, size=(64, 64), start: int = 0) -> list[str]:
        """One file per colour (human boxes: two cars on red files, two pedestrians on green ones); their ids."""
        from annolake_service.services import ingest, projects

        target = projects.ensure_dataset(self.project_id, dataset)
        facts = [
            ingest.store_media(self.project_id, onnx_models.png(*size, colour, marker=start + n))
            for n, colour in enumerate(colours)
        ]
        ingest.record_new_files(
            self.project_id,
            target.dataset_id,
            [
                {
                    "name": f"{dataset}_{start + n:05d}.png",
                    "facts": f,
                    "instance_list": human_boxes(colour, size),
                    "metadata": {},
                }
                for n, (f, colour) in enumerate(zip(facts, colours, strict=True))
            ],
            author="seed",
        )
        return [f["file_id"] for f in facts]


def human_boxes(colour: tuple[int, int, int], size: tuple[int, int]) -> list[dict[str, Any]]:
    """What a person drew: the two objects the yolo test model finds, in a square ``size`` image."""
    scale = size[0] / 64
    name = "car" if colour == RED else "pedestrian"
    boxes = []
    for box in onnx_models.BOXES_64[:2]:
        x0, y0, x1, y1 = (float(v) * scale for v in box)
        boxes.append({"type": "box", "name": name, "x_min": x0, "y_min": y0, "x_max": x1, "y_max": y1})
    return boxes


def _execute_state_machines(local_stack, endpoint: str, arns: list[str], config: dict) -> None:
    """moto keeps the state machines it runs (``execute_state_machine``) apart from those it only records, where
    ``local_stack`` created them: the ones used here are created again, as provisioned, among the former."""
    sfn = local_stack.session.client("stepfunctions", endpoint_url=endpoint)
    config["execute_state_machine"] = False
    described = [sfn.describe_state_machine(stateMachineArn=arn) for arn in arns]
    config["execute_state_machine"] = True
    for arn, machine in zip(arns, described, strict=True):
        try:
            sfn.create_state_machine(
                name=machine["name"], definition=machine["definition"], roleArn=machine["roleArn"], type="STANDARD"
            )
        except sfn.exceptions.StateMachineAlreadyExists:
            sfn.update_state_machine(stateMachineArn=arn, definition=machine["definition"])


@contextlib.contextmanager
def model_platform(
    local_stack, moto_endpoint: str, project_id: str, *, machines: tuple[str, ...] = ()
) -> Iterator[ModelPlatform]:
    """``machines``: the environment names of more state machines to execute (besides predict, launch, review)."""
    port = moto_endpoint.rsplit(":", 1)[1]
    config = default_user_config["stepfunctions"]
    executed = config["execute_state_machine"]
    with pytest.MonkeyPatch.context() as env:
        # MOTO_PORT: moto's ASL engine calls Lambda at localhost:MOTO_PORT
        variables = {**local_stack.environment, "MOTO_PORT": port}
        point_service_at(env, moto_endpoint, variables, unset=["EVENT_BUS_NAME"])
        executed_machines = (
            "PREDICT_STATE_MACHINE_ARN",
            "LAUNCH_STATE_MACHINE_ARN",
            "REVIEW_STATE_MACHINE_ARN",
            *machines,
        )
        arns = [os.environ[name] for name in executed_machines]
        _execute_state_machines(local_stack, moto_endpoint, arns, config)
        moto_patches.install()
        _forget_pooled_engine_clients()
        lambda_runtime.install()
        reset_service_caches()
        from annolake_service.api.app import create_app
        from annolake_service.domain.roles import Role
        from annolake_service.services import projects, schema

        projects.create_project(project_id, project_id.title(), creator="user:owner")
        schema.add_labels(project_id, ["car", "pedestrian", "truck"])
        key = projects.issue_api_key(project_id, role=Role.ADMIN, name="models-test")
        server = uvicorn.Server(uvicorn.Config(create_app(), host="127.0.0.1", port=_free_port(), log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.05)
        try:
            yield ModelPlatform(
                f"http://127.0.0.1:{server.config.port}",
                project_id,
                key.client_id,
                key.client_secret,
                dict(os.environ),
            )
        finally:
            server.should_exit = True
            thread.join(timeout=10)
            # the handlers still running (a state machine's last steps) end before the environment is restored
            lambda_runtime.uninstall(wait=30)
            _forget_pooled_engine_clients()
            config["execute_state_machine"] = executed
            reset_service_caches()


def unique_project(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"
