"""Every Lambda step of the state machines, and every AWS call each step makes, failed transiently and for good.

The steps come from the state machine definitions of the synthesized template (a new step is a new test here),
and each step's AWS calls from a fault-free run (the emulator records the calls each function makes), so a new
call is faulted too. The machines run as ``make up`` runs them: moto's ASL engine executes the provisioned
definitions (their Retry and Catch as written), the handlers run in-process, and the emulator's fault rules
(``infra/local/faults.py``) fail one function's calls of one operation, as a throttled table, an S3 outage or a
missing grant would. For each step:

- **transient**: each of its calls fails twice (and its own invocation is throttled twice): the run ends as a
  fault-free run ends, with nothing duplicated (files, versions, items, objects, tasks);
- **permanent**: one call (or the invocation) fails every time: the file, import or job file is recorded with a
  reason a user reads through the API; the faults cleared, the documented re-drive finishes it, and the result
  again equals the fault-free run's.

Time is compressed: the waits between retries (the state machines' 2, 4 and 8 s, botocore's backoff, the SQS
poller's) are slept at ``TIME_SCALE`` of their length. By default the permanent case of each step is its own
invocation; ``ANNOLAKE_FAULTS_DEEP=1`` also fails every call of every step permanently in turn.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import json
import os
import re
import socket
import time
import types
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from PIL import Image

from infra.local.emulator import Emulator
from infra.local.faults import _RULE_FIELDS, FAULTS_PATH
from tests.support.auth import local_assembly, reset_service_caches

TIME_SCALE = 0.01
DEEP = os.environ.get("ANNOLAKE_FAULTS_DEEP") == "1"
OWNER = "user:owner"
ANNOTATOR, REVIEWER = "user:ann", "user:rev"
TRANSIENT = {"status": 503, "code": "ServiceUnavailable", "message": "injected: try again", "times": 2}
THROTTLED = {"status": 429, "code": "TooManyRequestsException", "message": "injected: rate exceeded", "times": 2}
OUTAGE = {"status": 500, "code": "InternalError", "message": "injected: the service keeps failing"}


# --- the steps, from the synthesized template ----------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    machine: str  # ingest, import, review, launch
    state: str  # the Task state's name (states that invoke one function: their names joined by "+")
    function: str  # the logical id of the Lambda function it invokes

    def __str__(self) -> str:
        return f"{self.machine}-{self.state}"


def by_function(steps: list[Step]) -> list[Step]:
    """One case per function of a machine: states invoking the same function (the review's three task
    openings) are faulted together, through their function."""
    states: dict[tuple[str, str], list[str]] = {}
    for step in steps:
        states.setdefault((step.machine, step.function), []).append(step.state)
    return [Step(machine, "+".join(names), function) for (machine, function), names in states.items()]


def _machine_kind(logical_id: str) -> str:
    markers = (
        ("IngestVideo", "video"),
        ("Ingest", "ingest"),
        ("Imports", "import"),
        ("Review", "review"),
        ("Launch", "launch"),
        ("Exports", "export"),
        ("Predictions", "predict"),
        ("Snapshots", "snapshot"),
    )
    for marker, kind in markers:
        if logical_id.startswith(marker) or marker in logical_id:
            return kind
    return logical_id


def _definition(definition: Any) -> dict[str, Any]:
    """The definition JSON with each ``Fn::GetAtt`` of a function written as ``@<logical id>@``."""
    if isinstance(definition, str):
        return json.loads(definition)
    parts = definition["Fn::Join"][1]
    text = "".join(p if isinstance(p, str) else f"@{next(iter(p.values()))[0]}@" for p in parts)
    return json.loads(text)


def _task_states(states: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, state in states.items():
        if state["Type"] == "Task":
            yield name, state
        for nested in (state.get("ItemProcessor"), state.get("Iterator")):
            if nested:
                yield from _task_states(nested["States"])
        for branch in state.get("Branches", []):
            yield from _task_states(branch["States"])


def template_steps() -> list[Step]:
    steps = []
    for stack in local_assembly().stacks:
        for logical_id, resource in stack.resources.items():
            if resource["Type"] != "AWS::StepFunctions::StateMachine":
                continue
            definition = _definition(resource["Properties"]["DefinitionString"])
            for name, state in _task_states(definition["States"]):
                target = state.get("Parameters", {}).get("FunctionName") or state["Resource"]
                function = re.fullmatch(r"@(\w+)@(:\$LATEST)?", target)
                assert function, f"{name} of {logical_id} is a Task that is not a Lambda step: {target}"
                # The ingest's hand-over of a video runs only in the video flow: it is faulted with the video machine.
                kind = "video" if name == "StartVideoIngest" else _machine_kind(logical_id)
                steps.append(Step(kind, name, function.group(1)))
    return steps


STEPS = template_steps()
COVERED = {"ingest", "import", "review", "launch", "export", "predict", "snapshot", "video"}
# Machines whose steps are not failed on purpose yet; each is listed under "Not yet proven" in docs/reliability.md.
NOT_YET: set[str] = set()


def test_every_state_machine_of_the_template_is_in_the_matrix():
    machines = {step.machine for step in STEPS}
    assert machines - COVERED - NOT_YET == set(), "a new state machine: give it a scenario in this module"
    assert machines == COVERED | NOT_YET
    assert len(STEPS) >= 15


# --- the rig: the emulator over the session's provisioned stack -------------------------------------------------


class _ScaledTime(types.ModuleType):
    """``time`` whose ``sleep`` lasts ``TIME_SCALE`` of what is asked."""

    def __init__(self) -> None:
        super().__init__("time")
        self.__dict__.update({k: v for k, v in vars(time).items() if not k.startswith("__")})
        self.sleep = lambda seconds: time.sleep(seconds * TIME_SCALE)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


CAR = {"type": "box", "name": "car", "x_min": 2, "y_min": 2, "x_max": 30, "y_max": 20}


def _jpeg(colour: tuple[int, int, int], size: tuple[int, int] = (40, 30)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, format="JPEG")
    return buffer.getvalue()


@dataclass
class Rig:
    emulator: Emulator
    env: dict[str, str]
    functions: dict[str, str]  # logical id -> function name
    client: Any  # the API (starlette TestClient)
    aws: Callable[[str], Any]
    counter: Counter[str] = field(default_factory=Counter)

    @property
    def media(self) -> str:
        return self.env["MEDIA_BUCKET"]

    @property
    def drop(self) -> str:
        return self.env["DROP_BUCKET"]

    def faults(self, method: str, rule: dict[str, Any] | None = None) -> dict[str, Any]:
        body = json.dumps(rule).encode() if rule is not None else None
        request = urllib.request.Request(f"{self.emulator.endpoint_url}{FAULTS_PATH}", data=body, method=method)
        with urllib.request.urlopen(request, timeout=10) as answer:
            return json.loads(answer.read())

    @contextlib.contextmanager
    def faults_paused(self) -> Iterator[None]:
        """No fault fires inside (a scenario's setup through services: seeding files, checking a model); the
        rules come back as they were, and calls made inside are not recorded as the flow's."""
        rules = [{k: r[k] for k in r if k in _RULE_FIELDS} for r in self.faults("GET")["rules"]]
        self.faults("DELETE")
        try:
            yield
        finally:
            self.faults("DELETE")
            for rule in rules:
                self.faults("POST", rule)

    def calls_of(self, function: str) -> list[str]:
        name = self.functions[function]
        return sorted({c["operation"] for c in self.faults("GET")["calls"] if c["function"] == name})

    def fresh_project(self, prefix: str) -> tuple[str, dict[str, str]]:
        """A project with an admin API key (returned as headers), an annotator and a reviewer."""
        from annolake_service.domain.roles import Role
        from annolake_service.services import projects, schema

        self.counter[prefix] += 1
        project = f"{prefix}{self.counter[prefix]}-{uuid.uuid4().hex[:4]}"
        projects.create_project(project, project, creator=OWNER)
        projects.set_member_role(project, ANNOTATOR, Role.ANNOTATOR)
        projects.set_member_role(project, REVIEWER, Role.REVIEWER)
        schema.add_labels(project, ["car"])
        key = projects.issue_api_key(project, role=Role.ADMIN, name="admin")
        token = base64.b64encode(f"{key.client_id}:{key.client_secret}".encode()).decode()
        return project, {"Authorization": f"Basic {token}"}

    def executions(self, kind: str, status: str) -> list[dict[str, Any]]:
        sfn = self.aws("stepfunctions")
        arn = self.env[f"{kind.upper()}_STATE_MACHINE_ARN"]
        return sfn.list_executions(stateMachineArn=arn, statusFilter=status)["executions"]

    def started(self, kind: str) -> int:
        """How many executions of the machine were ever started."""
        sfn = self.aws("stepfunctions")
        pages = sfn.get_paginator("list_executions").paginate(
            stateMachineArn=self.env[f"{kind.upper()}_STATE_MACHINE_ARN"]
        )
        return sum(len(page["executions"]) for page in pages)

    def keys(self, bucket: str, prefix: str) -> list[str]:
        listed = self.aws("s3").list_objects_v2(Bucket=bucket, Prefix=prefix)
        return sorted(o["Key"] for o in listed.get("Contents", []))

    def items(self, project: str) -> Counter[str]:
        """The project's DynamoDB items by kind (keys.py's table), to compare runs item for item."""
        scan = self.aws("dynamodb").get_paginator("scan")
        kinds: Counter[str] = Counter()
        for page in scan.paginate(
            TableName=self.env["TABLE_NAME"],
            FilterExpression="begins_with(PK, :p)",
            ExpressionAttributeValues={":p": {"S": f"P#{project}"}},
        ):
            for item in page["Items"]:
                if "deleted_at" in item or item.get("status", {}).get("S") == "deleted":
                    continue  # history: a refusal a re-drive replaced, kept out of every listing
                if item["SK"]["S"].startswith("INDEX#"):
                    continue  # the query index's manifest, kept from the change stream whenever it catches up
                pk, sk = item["PK"]["S"][len(f"P#{project}") :], item["SK"]["S"]
                if pk != "" and not pk.startswith("#"):
                    continue  # another project whose id starts with this one's
                pk_kind = "#".join(t if t in _KEY_MARKERS else "*" for t in pk.split("#"))
                sk_kind = "<time>" if sk[:1].isdigit() else "<path>" if "/" in sk else re.sub(r"#.*", "", sk)
                kinds[f"{pk_kind}|{sk_kind}"] += 1
        return kinds


_KEY_MARKERS = {"", "F", "D", "J", "IMPORT", "ARRIVAL", "WEBHOOK"}


def wait_until(predicate: Callable[[], Any], what: str, timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _listed(sfn: Any) -> list[dict[str, Any]]:
    return [m for page in sfn.get_paginator("list_state_machines").paginate() for m in page["stateMachines"]]


@pytest.fixture(scope="module")
def rig(local_stack) -> Iterator[Rig]:
    """``make up``'s emulator (in-process Lambda, ASL engine, SQS poller, fault rules) over the session's moto,
    where ``local_stack`` provisioned the synthesized template; the service configured for it."""
    import botocore.endpoint
    from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl

    from infra.local import event_sources

    session = boto3.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1")
    plain = session.client("stepfunctions", endpoint_url=local_stack.endpoint)
    machines = [plain.describe_state_machine(stateMachineArn=m["stateMachineArn"]) for m in _listed(plain)]
    emulator = Emulator(port=_free_port())
    emulator.start()
    # With executions on, moto keeps state machines in its engine's backend: the same ones are created there.
    engine = session.client("stepfunctions", endpoint_url=emulator.endpoint_url)
    known = {m["name"] for m in _listed(engine)}
    for m in machines:
        if m["name"] not in known:
            engine.create_state_machine(
                name=m["name"], definition=m["definition"], roleArn=m["roleArn"], type=m["type"]
            )
    env = {
        **local_stack.environment,
        "AWS_ENDPOINT_URL": emulator.endpoint_url,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    assert local_stack.deployment is not None
    functions = {
        logical_id: created.ref
        for resources in local_stack.deployment.resources.values()
        for logical_id, created in resources.items()
        if created.type == "AWS::Lambda::Function"
    }
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        for name in ("AWS_SESSION_TOKEN", "AWS_PROFILE"):
            patch.delenv(name, raising=False)
        for module in (retrier_decl, botocore.endpoint, event_sources):
            patch.setattr(module, "time", _ScaledTime())
        reset_service_caches()
        from annolake_service.api.app import create_app
        from starlette.testclient import TestClient

        clients: dict[str, Any] = {}

        def aws(service: str) -> Any:
            if service not in clients:
                clients[service] = session.client(service, endpoint_url=emulator.endpoint_url)
            return clients[service]

        try:
            yield Rig(emulator, env, functions, TestClient(create_app()), aws)
        finally:
            reset_service_caches()
            emulator.stop()


@pytest.fixture(autouse=True)
def _no_faults_left(rig: Rig) -> Iterator[None]:
    rig.faults("DELETE")
    reset_service_caches()  # fresh clients: botocore's retry quota is per client
    yield
    rig.faults("DELETE")


# --- scenarios: one flow per machine, run fault-free, with faults, and re-driven ---------------------------------


@dataclass
class Outcome:
    """What a run left: compared between a fault-free run and a faulted (and re-driven) one."""

    visible: Any  # what users see through the API, project ids left out
    items: Counter[str]  # the project's DynamoDB items by kind
    objects: list[str]  # the project's S3 objects, ids left out


class Scenario:
    machine: str
    FAILING: str | None = None  # the step whose outage takes the bad flow to the failure step, if one does

    def __init__(self, rig: Rig) -> None:
        self.rig = rig

    def flow_of(self, step: Step) -> str:
        """Which flow goes through ``step`` (the fault-free flow, or the one whose failure it records)."""
        return "good"

    def background(self, flow: str) -> list[dict[str, Any]]:
        """Faults that make the flow: the bad flow's is an outage of the ``FAILING`` step."""
        if flow == "good" or self.FAILING is None:
            return []
        (failing,) = [s for s in STEPS if s.state == self.FAILING]
        return [{"operation": "lambda:Invoke", "path_contains": self.rig.functions[failing.function], **OUTAGE}]

    def redriven(self, flow: str) -> str:
        """The flow whose fault-free outcome a re-drive, every fault cleared, ends in: the good one where an
        outage made the bad flow (it is over too)."""
        return "good" if self.FAILING else flow

    def _input(self, execution: dict[str, Any]) -> str:
        """An execution's input (which project, job or run it is for)."""
        return self.rig.aws("stepfunctions").describe_execution(executionArn=execution["executionArn"])["input"]

    def run(self, flow: str) -> tuple[str, dict[str, str]]:
        """Start the flow in a fresh project and let it settle; returns the project and admin headers."""
        raise NotImplementedError

    def outcome(self, project: str, headers: dict[str, str]) -> Outcome:
        raise NotImplementedError

    def assert_recorded(self, project: str, headers: dict[str, str], step: Step, why: str) -> None:
        """After a permanent fault: the failure is recorded with a reason a user reads."""
        raise NotImplementedError

    def redrive(self, project: str, headers: dict[str, str], flow: str) -> None:
        raise NotImplementedError


class Ingest(Scenario):
    """Drop an image with its sidecar (good), or a file that is no image (bad: quarantined). A video is handed to the
    video ingest machine (``Video``)."""

    machine = "ingest"
    SIDECAR = {"instance_list": [{"type": "box", "name": "car", "x_min": 1, "y_min": 1, "x_max": 20, "y_max": 20}]}

    def flow_of(self, step: Step) -> str:
        return "bad" if self._records_refusals(step) else "good"

    @staticmethod
    def _records_refusals(step: Step) -> bool:
        """The quarantine function: QuarantineFile in the Map (a refused file), and QuarantineUnregistered."""
        return "QuarantineFile" in step.state.split("+")

    def _drop(self, project: str, flow: str) -> None:
        s3 = self.rig.aws("s3")
        if flow == "good":
            s3.put_object(Bucket=self.rig.drop, Key=f"{project}/cars/a.json", Body=json.dumps(self.SIDECAR).encode())
            s3.put_object(Bucket=self.rig.drop, Key=f"{project}/cars/a.jpg", Body=_jpeg((200, 30, 30)))
        else:
            s3.put_object(Bucket=self.rig.drop, Key=f"{project}/cars/b.jpg", Body=b"not an image at all")

    def _dropped(self, project: str, flow: str) -> None:
        """Drop, then wait for the image's ingest execution to start and for every one to end."""
        started = self.rig.started("ingest")
        self._drop(project, flow)
        wait_until(lambda: self.rig.started("ingest") > started, "the ingest execution to start")
        wait_until(lambda: not self.rig.executions("ingest", "RUNNING"), "the ingest executions to end")

    def run(self, flow: str) -> tuple[str, dict[str, str]]:
        project, headers = self.rig.fresh_project("in")
        self._dropped(project, flow)
        return project, headers

    def _files(self, project: str, headers: dict[str, str]) -> list[dict[str, Any]]:
        answer = self.rig.client.get(f"/api/v1/projects/{project}/datasets/cars/files", headers=headers)
        if answer.status_code == 404:
            return []  # the first drop creates the dataset: a run whose every step failed did not get that far
        assert answer.status_code == 200, answer.text
        return answer.json()["files"]

    def outcome(self, project: str, headers: dict[str, str]) -> Outcome:
        c = self.rig.client
        visible, quarantined = [], []
        for f in self._files(project, headers):
            if f["status"] == "quarantined":
                quarantined.append(f"quarantine/{project}/cars/{f['original_name']}")
            history = c.get(f"/api/v1/projects/{project}/files/{f['file_id']}/annotations/history", headers=headers)
            versions = len(history.json()["history"]) if f["status"] == "ready" else None
            reason = f["status_reason"] and re.sub(r"^\w+: ", "", f["status_reason"])
            visible.append((f["original_name"], f["status"], f["content_hash"], f["label_counts"], versions, reason))
        objects = [
            *self.rig.keys(self.rig.media, f"projects/{project}/"),
            *[k for k in self.rig.keys(self.rig.media, f"quarantine/{project}/") if k in quarantined],
            *self.rig.keys(self.rig.drop, f"{project}/"),
        ]
        return Outcome(sorted(visible), self.rig.items(project), _anonymous(objects, project))

    def assert_recorded(self, project: str, headers: dict[str, str], step: Step, why: str) -> None:
        if self._records_refusals(step):
            # The step that records refusals cannot run: the object stays where it was dropped, and the
            # execution's failure (the alarm on failed ingest executions) carries the error.
            assert self.rig.keys(self.rig.drop, f"{project}/") == [f"{project}/cars/b.jpg"]
            failed = [e for e in self.rig.executions("ingest", "FAILED") if project in self._input(e)]
            assert failed, "the ingest execution is not recorded as failed"
            return
        files = self._files(project, headers)
        quarantined = [f for f in files if f["status"] == "quarantined"]
        assert quarantined, f"no quarantine record after {why}: {files}"
        assert all(why in f["status_reason"] for f in quarantined), quarantined

    def redrive(self, project: str, headers: dict[str, str], flow: str) -> None:
        """The documented re-drive: drop the same path again (the outage over, or with a repaired copy)."""
        self._dropped(project, flow)


class Video(Ingest):
    """Drop a 64-frame video, extracted in two segments of 32 frames (good), or a damaged MOV (bad: the probe
    refuses it, DiscardVideo quarantines it). The ingest machine hands it over (``StartVideoIngest``) and the
    video machine registers or quarantines it; a re-drive is the ingest's: drop the same path again."""

    machine = "video"
    SEGMENT_FRAMES = 32
    DAMAGED = b"\x00\x00\x00\x14ftypqt  " + bytes(range(256)) * 40  # a QuickTime header, then no movie
    _good: bytes | None = None

    def flow_of(self, step: Step) -> str:
        return "bad" if step.state == "DiscardVideo" else "good"

    @classmethod
    def _video(cls) -> bytes:
        """The same bytes every run (so the same file id and content hash), made once with PyAV."""
        if cls._good is None:
            import tempfile
            from pathlib import Path

            from tests.support.video_fixtures import make_video

            with tempfile.TemporaryDirectory() as folder:
                path = make_video(Path(folder) / "clip.mkv", frames=64, size=(64, 48), gop=16)
                cls._good = path.read_bytes()
        return cls._good

    def _drop(self, project: str, flow: str) -> None:
        body, name = (self._video(), "clip.mkv") if flow == "good" else (self.DAMAGED, "damaged.mov")
        self.rig.aws("s3").put_object(Bucket=self.rig.drop, Key=f"{project}/cars/{name}", Body=body)

    def _dropped(self, project: str, flow: str) -> None:
        """Drop, then wait for the ingest execution, and the video execution it started (if it could), to end."""
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("VIDEO_SEGMENT_FRAMES", str(self.SEGMENT_FRAMES))
            reset_service_caches()
            try:
                super()._dropped(project, flow)
                wait_until(
                    lambda: not self.rig.executions("video_ingest", "RUNNING"), "the video executions to end", 120
                )
            finally:
                patch.undo()
                reset_service_caches()

    def outcome(self, project: str, headers: dict[str, str]) -> Outcome:
        seen = super().outcome(project, headers)
        for f in self._files(project, headers):
            if f["status"] == "ready":
                assert f["video"]["frame_count"] == 64, f  # every frame, once
        return seen

    def assert_recorded(self, project: str, headers: dict[str, str], step: Step, why: str) -> None:
        if step.state == "DiscardVideo":
            # The step that quarantines refused videos cannot run: the damaged file stays where it was dropped,
            # and the video execution's failure (alarmed) carries the error.
            assert self.rig.keys(self.rig.drop, f"{project}/") == [f"{project}/cars/damaged.mov"]
            failed = [e for e in self.rig.executions("video_ingest", "FAILED") if project in self._input(e)]
            assert failed, "the video ingest execution is not recorded as failed"
            return
        files = self._files(project, headers)
        quarantined = [f for f in files if f["status"] == "quarantined"]
        assert quarantined and all(why in f["status_reason"] for f in quarantined), files
        if [f["status"] for f in files] == ["quarantined"]:
            # a refused video leaves no frames, poster or original beside its quarantined copy
            assert self.rig.keys(self.rig.media, f"projects/{project}/") == [], "a quarantined video left objects"
        else:
            # FinishVideo recorded the file ready, then a later write failed for good: its frames stay with it
            (ready,) = [f for f in files if f["status"] == "ready"]
            assert len(self.rig.keys(self.rig.media, f"projects/{project}/files/{ready['file_id']}/")) >= 5


def _anonymous(keys: list[str], project: str) -> list[str]:
    return sorted(re.sub(r"/files/[^/]+/", "/files/<id>/", k.replace(project, "<p>")) for k in keys)


class Import(Scenario):
    """A JSONL import of two images (one pre-labelled) and one item whose image was never uploaded (good), or of
    a manifest that is not JSONL (bad: the import fails)."""

    machine = "import"

    def flow_of(self, step: Step) -> str:
        return "bad" if step.state == "FailImport" else "good"

    def run(self, flow: str) -> tuple[str, dict[str, str]]:
        project, headers = self.rig.fresh_project("im")
        c = self.rig.client
        spec = {"format": "jsonl", "dataset": "cars"}
        created = c.post(f"/api/v1/projects/{project}/imports", json=spec, headers=headers)
        assert created.status_code == 201, created.text
        import_id = created.json()["import_id"]
        prefix = f"imports/{project}/{import_id}/"
        s3 = self.rig.aws("s3")
        if flow == "good":
            lines = [
                {"media": {"path": "one.jpg"}, "instance_list": [CAR]},
                {"media": {"path": "two.jpg"}},
                {"media": {"path": "never-uploaded.jpg"}},
            ]
            manifest = "\n".join(json.dumps(line) for line in lines).encode()
            s3.put_object(Bucket=self.rig.media, Key=prefix + "media/one.jpg", Body=_jpeg((10, 200, 10)))
            s3.put_object(Bucket=self.rig.media, Key=prefix + "media/two.jpg", Body=_jpeg((10, 10, 200)))
        else:
            manifest = b"this is not a packet"
        s3.put_object(Bucket=self.rig.media, Key=prefix + "manifest", Body=manifest)
        self._start(project, headers, import_id)
        return project, headers

    def _start(self, project: str, headers: dict[str, str], import_id: str) -> None:
        started = self.rig.client.post(f"/api/v1/projects/{project}/imports/{import_id}/start", headers=headers)
        assert started.status_code == 202, started.text
        wait_until(lambda: not self.rig.executions("import", "RUNNING"), "the import execution to end")

    def _import(self, project: str, headers: dict[str, str]) -> dict[str, Any]:
        (listed,) = self.rig.client.get(f"/api/v1/projects/{project}/imports", headers=headers).json()["imports"]
        answer = self.rig.client.get(f"/api/v1/projects/{project}/imports/{listed['import_id']}", headers=headers)
        assert answer.status_code == 200, answer.text
        return answer.json()

    def outcome(self, project: str, headers: dict[str, str]) -> Outcome:
        job = self._import(project, headers)
        progress = {k: job[k] for k in ("status", "total", "done", "failed")}
        failures = [(f["index"], f["name"], f["reason"]) for f in job["failures"]]
        reason = job["status_reason"] and re.sub(r"^\w+: ", "", job["status_reason"])
        files = self.rig.client.get(f"/api/v1/projects/{project}/datasets/cars/files", headers=headers).json()["files"]
        listed = sorted((f["original_name"], f["status"], f["content_hash"], f["label_counts"]) for f in files)
        objects = self.rig.keys(self.rig.media, f"projects/{project}/")
        return Outcome((progress, failures, reason, listed), self.rig.items(project), _anonymous(objects, project))

    def assert_recorded(self, project: str, headers: dict[str, str], step: Step, why: str) -> None:
        job = self._import(project, headers)
        assert job["status"] == "failed", (job["status"], job["failures"])
        assert why in job["status_reason"], job["status_reason"]

    def redrive(self, project: str, headers: dict[str, str], flow: str) -> None:
        """The documented re-drive: start the import again."""
        self._start(project, headers, self._import(project, headers)["import_id"])


class Review(Scenario):
    """A job over one file, every file reviewed: annotated, sent back once, annotated again, approved. The
    launch machine gives the file its review execution; the people act through the task services."""

    machine = "review"
    BOX = {"type": "box", "name": "car", "x_min": 3, "y_min": 3, "x_max": 25, "y_max": 18}

    FAILING = "PrepareFile"

    def flow_of(self, step: Step) -> str:
        return "bad" if step.state in ("RecordFailure", "FailLaunchStep") else "good"

    def run(self, flow: str) -> tuple[str, dict[str, str]]:
        from annolake_service.services import ingest, projects

        project, headers = self.rig.fresh_project("wf")
        dataset = projects.ensure_dataset(project, "cars")
        facts = ingest.store_media(project, _jpeg((90, 90, 20)))
        entry = {"name": "a.jpg", "facts": facts, "instance_list": [], "metadata": {}}
        ingest.record_new_files(project, dataset.dataset_id, [entry], author="test")
        spec = {
            "name": "review all",
            "datasets": ["cars"],
            "label_names": ["car"],
            "annotators": [ANNOTATOR],
            "reviewers": [REVIEWER],
            "review_rate": 1.0,
            "mode": "copy_once",
        }
        c = self.rig.client
        job = c.post(f"/api/v1/projects/{project}/jobs", json=spec, headers=headers)
        assert job.status_code == 201, job.text
        job_id = job.json()["job_id"]
        assert c.post(f"/api/v1/projects/{project}/jobs/{job_id}/launch", headers=headers).status_code == 202
        self._drive(project, job_id)
        return project, headers

    def _job_id(self, project: str, headers: dict[str, str]) -> str:
        (job,) = self.rig.client.get(f"/api/v1/projects/{project}/jobs", headers=headers).json()["jobs"]
        return job["job_id"]

    def _act(self, project: str) -> bool:
        """Do the next piece of human work there is; False when there is none now."""
        from annolake_service.domain.roles import Role
        from annolake_service.services import tasks

        task = tasks.next_task(project, REVIEWER, Role.REVIEWER)
        if task is not None:
            if task.round == 0:
                tasks.review(project, task.task_id, REVIEWER, "request_changes", comment="the box is loose")
            else:
                tasks.review(project, task.task_id, REVIEWER, "approve")
            return True
        task = tasks.next_task(project, ANNOTATOR, Role.ANNOTATOR)
        if task is not None:
            tasks.submit(project, task.task_id, ANNOTATOR, [{**self.BOX, "x_max": 25 + task.round}])
            return True
        return False

    def _drive(self, project: str, job_id: str) -> None:
        """Act until the job's launch run and each file's workflow run have ended, and a launched job whose files
        are all complete is complete (the table's stream counts them into it after the runs end)."""
        from annolake_service.adapters.dynamo import jobs as job_repo
        from annolake_service.domain.workflow import JobStatus

        def ended(arn: str | None) -> bool:
            sfn = self.rig.aws("stepfunctions")
            return bool(arn) and sfn.describe_execution(executionArn=arn)["status"] != "RUNNING"

        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self._act(project):
                continue
            job = job_repo.get_job(project, job_id)
            files = list(job_repo.job_files(project, job_id))
            if not (job and ended(job.launch_execution) and all(ended(f.execution_arn) for f in files)):
                time.sleep(0.05)
                continue
            job, files = job_repo.get_job(project, job_id), list(job_repo.job_files(project, job_id))  # read after
            unlaunched = job is not None and job.launch_status != "launched"  # a failed launch completes nothing
            if job is not None and (
                unlaunched or job.status is JobStatus.COMPLETE or any(f.status != "complete" for f in files)
            ):
                return
            time.sleep(0.05)
        raise AssertionError(f"the job {job_id} did not settle")

    def outcome(self, project: str, headers: dict[str, str]) -> Outcome:
        c = self.rig.client
        job_id = self._job_id(project, headers)
        job = c.get(f"/api/v1/projects/{project}/jobs/{job_id}", headers=headers).json()
        stats = c.get(f"/api/v1/projects/{project}/jobs/{job_id}/stats", headers=headers).json()
        listed = c.get(f"/api/v1/projects/{project}/datasets/cars/files", headers=headers).json()["files"]
        versions = []
        for f in listed:
            history = c.get(f"/api/v1/projects/{project}/files/{f['file_id']}/annotations/history", headers=headers)
            kept = history.json()["history"]
            versions.append([(v["version"], v["created_by"], v["source"], len(v["instance_list"])) for v in kept])
        visible = (
            {k: job[k] for k in ("status", "launch_status", "launch_failure", "files_total")},
            {k: stats[k] for k in ("status", "files", "tasks", "review")},
            [f["reason"] for f in stats["failures"]],  # file ids differ between projects
            versions,
        )
        objects = self.rig.keys(self.rig.media, f"jobs/{project}/")
        objects = _anonymous([k.replace(job_id, "<job>") for k in objects], project)
        return Outcome(visible, self.rig.items(project), objects)

    def assert_recorded(self, project: str, headers: dict[str, str], step: Step, why: str) -> None:
        c = self.rig.client
        job_id = self._job_id(project, headers)
        job = c.get(f"/api/v1/projects/{project}/jobs/{job_id}", headers=headers).json()
        failures = c.get(f"/api/v1/projects/{project}/jobs/{job_id}/stats", headers=headers).json()["failures"]
        if step.machine == "launch":
            assert job["launch_status"] == "failed" and why in job["launch_failure"], job
        elif step.state == "RecordFailure":
            # The step that records failures cannot run: the execution's failure (the alarm on failed workflow
            # executions) carries the error, and the re-drive finds the file by its ended execution.
            assert [e for e in self.rig.executions("review", "FAILED") if job_id in self._input(e)]
        else:
            assert [f for f in failures if why in f["reason"]], failures

    def redrive(self, project: str, headers: dict[str, str], flow: str) -> None:
        """The documented re-drive: POST /jobs/{id}/redrive."""
        job_id = self._job_id(project, headers)
        answer = self.rig.client.post(f"/api/v1/projects/{project}/jobs/{job_id}/redrive", headers=headers)
        assert answer.status_code == 202, answer.text
        self._drive(project, job_id)


class Launch(Review):
    machine = "launch"
    FAILING = "PlanLaunchStep"


def _three_cars(rig: Rig, prefix: str) -> tuple[str, dict[str, str]]:
    """A fresh project whose dataset ``cars`` holds three coloured JPEGs: a car box of its own width on the first
    and the last, none on the middle one. The project and its admin headers."""
    from annolake_service.services import ingest, projects

    project, headers = rig.fresh_project(prefix)
    dataset = projects.ensure_dataset(project, "cars")
    entries = []
    for n, colour in enumerate([(200, 20, 20), (20, 200, 20), (20, 20, 200)]):
        facts = ingest.store_media(project, _jpeg(colour))
        boxes = [{**CAR, "x_max": 30 - n}] if n != 1 else []
        entries.append({"name": f"{n}.jpg", "facts": facts, "instance_list": boxes, "metadata": {}})
    ingest.record_new_files(project, dataset.dataset_id, entries, author="test")
    return project, headers


class Export(Scenario):
    """Three files snapshotted and exported as COCO in two pages (good), or an export whose plan cannot run (bad:
    the export fails). Re-driven as users re-drive one: asking for the same export again."""

    machine = "export"
    FAILING = "PlanExport"
    PAGE_FILES = 2  # three files: two pages, so the Map runs the page step twice

    def flow_of(self, step: Step) -> str:
        return "bad" if step.state == "FailExport" else "good"

    @contextlib.contextmanager
    def _paged(self) -> Iterator[None]:
        from annolake_service.services import exports

        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(exports, "PAGE_FILES", self.PAGE_FILES)
            yield

    def run(self, flow: str) -> tuple[str, dict[str, str]]:
        with self.rig.faults_paused():
            project, headers = _three_cars(self.rig, "ex")
            taken = self.rig.client.post(
                f"/api/v1/projects/{project}/datasets/cars/snapshots", json={"name": "v1"}, headers=headers
            )
            assert taken.status_code == 201, taken.text
        self._export(project, headers, 202)
        return project, headers

    def _export(self, project: str, headers: dict[str, str], expected: int) -> None:
        started = self.rig.started("export")
        with self._paged():
            answer = self.rig.client.post(
                f"/api/v1/projects/{project}/snapshots/v1/exports", json={"format": "coco"}, headers=headers
            )
            assert answer.status_code == expected, answer.text
            wait_until(lambda: self.rig.started("export") > started, "the export execution to start")
            wait_until(lambda: not self.rig.executions("export", "RUNNING"), "the export execution to end")

    def _job(self, project: str, headers: dict[str, str]) -> dict[str, Any]:
        (listed,) = self.rig.client.get(f"/api/v1/projects/{project}/exports", headers=headers).json()["exports"]
        answer = self.rig.client.get(f"/api/v1/projects/{project}/exports/{listed['export_id']}", headers=headers)
        assert answer.status_code == 200, answer.text
        return answer.json()

    def outcome(self, project: str, headers: dict[str, str]) -> Outcome:
        job = self._job(project, headers)
        shown = {k: job[k] for k in ("status", "pages_total", "pages_done", "size_bytes", "file_name")}
        reason = job["status_reason"] and re.sub(r"^\w+: ", "", job["status_reason"])
        downloaded = None
        if job["download_url"]:
            with urllib.request.urlopen(job["download_url"], timeout=10) as answer:
                body = answer.read()
            coco = json.loads(body)
            downloaded = (
                len(body) == job["size_bytes"],
                hashlib.sha256(body).hexdigest() == job["sha256"],
                sorted(i["file_name"] for i in coco["images"]),
                len(coco["annotations"]),
            )
        objects = [
            re.sub(r"/parts/[0-9a-f]{16}/", "/parts/<rendering>/", k.replace(job["export_id"], "<export>"))
            for k in self.rig.keys(self.rig.media, "exports/")
        ]
        mine = [k for k in objects if k.startswith(f"exports/{project}/")]
        return Outcome((shown, reason, downloaded), self.rig.items(project), _anonymous(mine, project))

    def assert_recorded(self, project: str, headers: dict[str, str], step: Step, why: str) -> None:
        job = self._job(project, headers)
        assert job["download_url"] is None, "a failed export offers a download"
        if step.state == "FailExport":
            # The step that records failures cannot run: the execution's failure (the alarm on failed executions)
            # carries the error, and asking again finds the export's execution ended.
            assert [e for e in self.rig.executions("export", "FAILED") if project in self._input(e)]
            return
        assert job["status"] == "failed" and why in job["status_reason"], job

    def redrive(self, project: str, headers: dict[str, str], flow: str) -> None:
        """The documented re-drive: ask for the same export again (202: a run started). Only the pages an
        earlier attempt did not leave whole are rendered."""
        parts = [k for k in self.rig.keys(self.rig.media, f"exports/{project}/") if "/parts/" in k]
        self._export(project, headers, 202)
        (page,) = [s for s in STEPS if s.state == "ExportPage"]
        calls = self.rig.faults("GET")["calls"]
        page_function = self.rig.functions[page.function]
        written = sum(c["count"] for c in calls if c["function"] == page_function and c["operation"] == "s3:PutObject")
        now = [k for k in self.rig.keys(self.rig.media, f"exports/{project}/") if "/parts/" in k]
        assert written == len(set(now) - set(parts)), f"a re-drive wrote {written} parts, {len(parts)} were there"


class Predict(Scenario):
    """A detector over three files in two chunks (good), or a run whose plan cannot run (bad: the run fails).
    Re-driven with POST /runs/{id}/redrive, which predicts only the files not done yet."""

    machine = "predict"
    FAILING = "PlanPredictions"
    CHUNK_SIZE = 2
    RED, GREEN = (230, 20, 20), (20, 230, 20)
    SPEC = {"format": "yolo", "labels": ["car", "pedestrian"], "input_size": 64, "score_threshold": 0.3}

    def flow_of(self, step: Step) -> str:
        return "bad" if step.state == "FailPredictions" else "good"

    @contextlib.contextmanager
    def _chunked(self) -> Iterator[None]:
        from annolake_service.services import predictions

        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(predictions, "CHUNK_SIZE", self.CHUNK_SIZE)
            yield

    def run(self, flow: str) -> tuple[str, dict[str, str]]:
        from annolake_service.domain.models import ModelSpec
        from annolake_service.services import ingest, models, projects, schema

        from tests.support import onnx_models

        with self.rig.faults_paused():
            project, headers = self.rig.fresh_project("pr")
            schema.add_labels(project, ["pedestrian"])
            dataset = projects.ensure_dataset(project, "cars")
            entries = []
            for n, colour in enumerate([self.RED, self.GREEN, self.RED]):
                facts = ingest.store_media(project, onnx_models.png(64, 64, colour, marker=n))
                entries.append({"name": f"{n}.png", "facts": facts, "instance_list": [], "metadata": {}})
            ingest.record_new_files(project, dataset.dataset_id, entries, author="test")
            version = models.register_version(project, "det", ModelSpec.model_validate(self.SPEC), author="test")
            key = models.get_version(project, "det", version["version"]).object_key
            self.rig.aws("s3").put_object(Bucket=self.rig.media, Key=key, Body=onnx_models.yolo_detector(64))
            assert models.check_version(project, "det", version["version"])["status"] == "ready"
        with self._chunked():
            started = self.rig.started("predict")
            answer = self.rig.client.post(
                f"/api/v1/projects/{project}/models/det/runs", json={"dataset": "cars"}, headers=headers
            )
            assert answer.status_code == 202, answer.text
            self._settle(started)
        return project, headers

    def _settle(self, started: int) -> None:
        wait_until(lambda: self.rig.started("predict") > started, "the prediction execution to start")
        wait_until(lambda: not self.rig.executions("predict", "RUNNING"), "the prediction execution to end")

    def _run(self, project: str, headers: dict[str, str]) -> dict[str, Any]:
        (listed,) = self.rig.client.get(f"/api/v1/projects/{project}/runs", headers=headers).json()["runs"]
        answer = self.rig.client.get(f"/api/v1/projects/{project}/runs/{listed['run_id']}", headers=headers)
        assert answer.status_code == 200, answer.text
        return answer.json()

    def _predictions(self, project: str, headers: dict[str, str], run_id: str) -> list[dict[str, Any]]:
        answer = self.rig.client.get(f"/api/v1/projects/{project}/runs/{run_id}/predictions", headers=headers)
        assert answer.status_code == 200, answer.text
        return answer.json()["predictions"]

    def outcome(self, project: str, headers: dict[str, str]) -> Outcome:
        c = self.rig.client
        run = self._run(project, headers)
        shown = {k: run[k] for k in ("status", "total", "done", "failed", "pending")}
        reason = run["status_reason"] and re.sub(r"^\w+: ", "", run["status_reason"])
        names = {
            f["file_id"]: f["original_name"]
            for f in c.get(f"/api/v1/projects/{project}/datasets/cars/files", headers=headers).json()["files"]
        }
        predicted = sorted(
            (names[p["file_id"]], p["outcome"], sorted(i["name"] for i in p["instance_list"]))
            for p in self._predictions(project, headers, run["run_id"])
        )
        model = c.get(f"/api/v1/projects/{project}/models/det", headers=headers).json()
        # what queries over the prediction layer see: the run once it is the model's latest, nothing before
        query = {"q": "predictions.det.car > 0"}
        found = c.get(f"/api/v1/projects/{project}/datasets/cars/query", params=query, headers=headers)
        matched = sorted(names[f["file_id"]] for f in found.json()["files"]) if found.status_code == 200 else None
        visible = (shown, reason, [f["reason"] for f in run["failures"]], predicted, model["latest_run"] is not None)
        objects = [k.replace(run["run_id"], "<run>") for k in self.rig.keys(self.rig.media, f"runs/{project}/")]
        return Outcome((*visible, matched), self.rig.items(project), _anonymous(objects, project))

    def assert_recorded(self, project: str, headers: dict[str, str], step: Step, why: str) -> None:
        run = self._run(project, headers)
        model = self.rig.client.get(f"/api/v1/projects/{project}/models/det", headers=headers).json()
        assert model["latest_run"] is None, "a run that failed is what queries of predictions.det read"
        if step.state == "FailPredictions":
            # The step that records failures cannot run: the execution's failure carries the error, and the
            # re-drive finds the run's execution ended.
            assert [e for e in self.rig.executions("predict", "FAILED") if run["run_id"] in self._input(e)]
            return
        assert run["status"] == "failed" and why in run["status_reason"], run

    def redrive(self, project: str, headers: dict[str, str], flow: str) -> None:
        """POST /runs/{id}/redrive: a file predicted before is not predicted again."""
        run_id = self._run(project, headers)["run_id"]
        before = {p["file_id"]: p for p in self._predictions(project, headers, run_id) if p["outcome"] == "done"}
        with self._chunked():
            started = self.rig.started("predict")
            answer = self.rig.client.post(f"/api/v1/projects/{project}/runs/{run_id}/redrive", headers=headers)
            assert answer.status_code == 202, answer.text
            self._settle(started)
        after = {p["file_id"]: p for p in self._predictions(project, headers, run_id)}
        assert all(after[file_id] == p for file_id, p in before.items()), "a re-drive predicted a done file again"


class SnapshotBuild(Scenario):
    """Three files snapshotted by the snapshot state machine in two chunks (good), or a build whose plan cannot
    run (bad: the snapshot fails). Re-driven as users re-drive one: taking the snapshot again."""

    machine = "snapshot"
    FAILING = "PlanSnapshot"

    def flow_of(self, step: Step) -> str:
        return "bad" if step.state == "FailSnapshot" else "good"

    @contextlib.contextmanager
    def _built_by_the_machine(self) -> Iterator[None]:
        from annolake_service.shared.settings import get_settings

        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("SNAPSHOT_INLINE_FILES", "0")
            patch.setenv("SNAPSHOT_CHUNK_FILES", "2")  # three files: two chunks, so the Map runs twice
            get_settings.cache_clear()
            try:
                yield
            finally:
                patch.undo()
                get_settings.cache_clear()

    def run(self, flow: str) -> tuple[str, dict[str, str]]:
        with self.rig.faults_paused():
            project, headers = _three_cars(self.rig, "sn")
        self._take(project, headers)
        return project, headers

    def _take(self, project: str, headers: dict[str, str]) -> None:
        started = self.rig.started("snapshot")
        with self._built_by_the_machine():
            answer = self.rig.client.post(
                f"/api/v1/projects/{project}/datasets/cars/snapshots", json={"name": "v1"}, headers=headers
            )
            assert answer.status_code == 202, answer.text
            wait_until(lambda: self.rig.started("snapshot") > started, "the snapshot execution to start")
            wait_until(lambda: not self.rig.executions("snapshot", "RUNNING"), "the snapshot execution to end")

    def _snapshot(self, project: str, headers: dict[str, str]) -> dict[str, Any]:
        answer = self.rig.client.get(f"/api/v1/projects/{project}/snapshots/v1", headers=headers)
        assert answer.status_code == 200, answer.text
        return answer.json()

    def outcome(self, project: str, headers: dict[str, str]) -> Outcome:
        found = self._snapshot(project, headers)
        keep = ("status", "count", "label_histogram", "manifest_bytes", "chunks_total", "chunks_done")
        shown = {k: found[k] for k in keep}  # the digest differs by project: file ids are the project's
        reason = found["status_reason"] and re.sub(r"^\w+: ", "", found["status_reason"])
        digest = found["digest"] or "<none>"
        objects = [k.replace(digest, "<digest>") for k in self.rig.keys(self.rig.media, f"snapshots/{project}/")]
        return Outcome((shown, reason), self.rig.items(project), _anonymous(objects, project))

    def assert_recorded(self, project: str, headers: dict[str, str], step: Step, why: str) -> None:
        found = self._snapshot(project, headers)
        if step.state == "FailSnapshot":
            # The step that records failures cannot run: the execution failed (alarmed), and taking the snapshot
            # again finds its execution ended.
            assert found["status"] == "pending", found
            assert self.rig.executions("snapshot", "FAILED")
            return
        assert found["status"] == "failed" and why in found["status_reason"], found

    def redrive(self, project: str, headers: dict[str, str], flow: str) -> None:
        """The documented re-drive: take the same snapshot again (202: a build started)."""
        self._take(project, headers)


SCENARIOS: dict[str, type[Scenario]] = {
    "ingest": Ingest,
    "import": Import,
    "review": Review,
    "launch": Launch,
    "export": Export,
    "predict": Predict,
    "snapshot": SnapshotBuild,
    "video": Video,
}


@pytest.fixture(scope="module")
def baselines(rig: Rig) -> dict[tuple[str, str], tuple[Outcome, dict[str, list[str]]]]:
    """Per machine and flow, lazily: the fault-free outcome and the calls each function made."""
    return {}


def _baseline(rig: Rig, baselines: dict, scenario: Scenario, flow: str) -> tuple[Outcome, dict[str, list[str]]]:
    key = (scenario.machine, flow)
    if key not in baselines:
        rig.faults("DELETE")
        for rule in scenario.background(flow):
            rig.faults("POST", rule)
        project, headers = scenario.run(flow)
        calls: dict[str, list[str]] = {}
        for call in rig.faults("GET")["calls"]:
            calls.setdefault(call["function"], []).append(call["operation"])
        baselines[key] = (scenario.outcome(project, headers), calls)
    return baselines[key]


TALLY: Counter[str] = Counter()  # faults injected and how each ended, printed at the end of the module


@pytest.fixture(scope="module", autouse=True)
def _tally() -> Iterator[None]:
    yield
    if TALLY:
        print(f"\nfault matrix: {dict(TALLY)}")


def _cases(step: Step, operations: list[str]) -> list[str | None]:
    """The permanent faults tried on ``step``: its invocation (None) and its calls (all of them when deep)."""
    return [None, *operations] if DEEP else [None]


@pytest.mark.parametrize("step", by_function([s for s in STEPS if s.machine in SCENARIOS]), ids=str)
def test_a_step_survives_transient_faults_and_records_then_redrives_permanent_ones(rig, baselines, step):
    scenario = SCENARIOS[step.machine](rig)
    flow = scenario.flow_of(step)
    expected, calls = _baseline(rig, baselines, scenario, flow)
    function = rig.functions[step.function]
    operations = sorted(set(calls.get(function, [])))
    assert operations, f"{step} made no AWS call in its flow: is it reached?"

    redriven, _ = _baseline(rig, baselines, scenario, scenario.redriven(flow))

    # Transient: each call of the step fails twice, and so does its invocation.
    rig.faults("DELETE")
    for rule in scenario.background(flow):
        rig.faults("POST", rule)
    rig.faults("POST", {"operation": "lambda:Invoke", "path_contains": function, **THROTTLED})
    for operation in operations:
        rig.faults("POST", {"operation": operation, "function": function, **TRANSIENT})
    project, headers = scenario.run(flow)
    TALLY["transient"] += sum(1 for r in rig.faults("GET")["rules"] if r["times"])
    fired = {(r["operation"], r["fired"]) for r in rig.faults("GET")["rules"] if r["times"]}
    assert all(n == 2 for _, n in fired), f"not every fault fired twice: {fired}"
    assert scenario.outcome(project, headers) == expected

    # Permanent: one call (or the invocation) fails every time; recorded, then re-driven.
    for operation in _cases(step, operations):
        rig.faults("DELETE")
        for background in scenario.background(flow):
            rig.faults("POST", background)
        if operation is None:
            rule = {"operation": "lambda:Invoke", "path_contains": function, **OUTAGE}
        else:
            rule = {"operation": operation, "function": function, **OUTAGE}
        rig.faults("POST", rule)
        project, headers = scenario.run(flow)
        assert rig.faults("GET")["rules"][-1]["fired"] > 0, f"{rule} never fired"
        TALLY["permanent"] += 1
        if operation is not None and scenario.outcome(project, headers) == expected:
            # The step finished anyway, as a fault-free run does: its retries each got further (an import chunk
            # records each item's outcome once, so a lost progress-counter update costs one retry, not the run).
            TALLY["absorbed"] += 1
            continue
        try:
            scenario.assert_recorded(project, headers, step, OUTAGE["code"])
        except AssertionError as failure:
            raise AssertionError(f"{operation or 'the invocation'} failing for good: {failure}") from None
        TALLY["recorded"] += 1
        rig.faults("DELETE")
        scenario.redrive(project, headers, flow)
        assert scenario.outcome(project, headers) == redriven, f"after re-driving {operation or 'the invocation'}"
        TALLY["redriven"] += 1
