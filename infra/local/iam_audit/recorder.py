"""Record every AWS call the platform's functions and state machines make, as the role that would make it.

A principal (the role ARN of the function or state machine running) is held in a context variable: the
Lambda runtime sets it for each in-process invocation, the Step Functions engine's task clients set their
state machine's role, and the API's ASGI wrapper sets the API function's role for each request (in
the API worker processes as in the platform's). botocore's ``before-parameter-build`` event, emitted once per
API call and per presigned URL, records (principal, action, resource) with the rules of ``requests``; form
upload policies (``generate_presigned_post``) are recorded by wrapping that method. Calls without a principal
(the provisioner, the seed, state snapshots: the developer's own credentials in the cloud) are not recorded.

Each process appends the distinct records it makes to ``calls-<pid>.jsonl`` in the audit directory, one JSON
object a line, flushed at once, so the check can read them while the platform runs. The emulator's process
also writes each task token it hands out with its state machine (``SendTaskSuccess`` names only the token).
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import json
import os
import threading
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from pathlib import Path
from typing import Any

import boto3
from botocore.handlers import BUILTIN_HANDLERS

from infra.local.iam_audit.requests import Access, NoRule, accesses, presigned_post

AUDIT_VARIABLE = "ANNOLAKE_IAM_AUDIT"  # a directory: when set, `make up` records its calls there
_principal: contextvars.ContextVar[str | None] = contextvars.ContextVar("annolake_iam_principal", default=None)


@contextlib.contextmanager
def acting_as(role_arn: str | None) -> Iterator[None]:
    """AWS calls made in this context (this thread, or this task and the threads it hands work to) are
    ``role_arn``'s."""
    token = _principal.set(role_arn)
    try:
        yield
    finally:
        _principal.reset(token)


def current_principal() -> str | None:
    return _principal.get()


class Recorder:
    """Appends this process's distinct records to ``<directory>/calls-<pid>.jsonl``."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / f"calls-{os.getpid()}.jsonl"
        self._seen: set[tuple[Any, ...]] = set()
        self._lock = threading.Lock()
        self.enabled = True

    def _write(self, key: tuple[Any, ...], record: dict[str, Any]) -> None:
        with self._lock:
            if key in self._seen:
                return
            self._seen.add(key)
            with self.path.open("a") as handle:
                handle.write(json.dumps(record, sort_keys=True) + "\n")

    def record(self, principal: str, service: str, operation: str, params: dict[str, Any]) -> None:
        try:
            found = accesses(service, operation, params)
        except NoRule as missing:
            self._write((principal, service, operation), {"principal": principal, "no_rule": str(missing)})
            return
        self.record_accesses(principal, found)

    def record_accesses(self, principal: str, found: list[Access]) -> None:
        for action, resource in found:
            self._write((principal, action, resource), {"principal": principal, "action": action, "resource": resource})

    def record_token(self, token: str, state_machine_arn: str) -> None:
        self._write(("token", token), {"task_token": token, "state_machine": state_machine_arn})

    # --- botocore event handlers ---------------------------------------------------------------------

    def before_parameter_build(self, params: dict[str, Any], model: Any, context: Any = None, **_: Any) -> None:
        principal = _principal.get()
        if principal is None or not self.enabled:
            return
        if model.name == "CreateBucket" and (context or {}).get("is_presign_request"):
            return  # generate_presigned_post borrows CreateBucket's model; recorded by its wrapper
        self.record(principal, model.service_model.signing_name, model.name, params)

    def creating_s3_client_class(self, class_attributes: dict[str, Any], **_: Any) -> None:
        generate = class_attributes.get("generate_presigned_post")
        if generate is None:
            return
        recorder = self

        def generate_presigned_post(client: Any, Bucket: str, Key: str, *args: Any, **kwargs: Any) -> Any:  # noqa: N803
            principal = _principal.get()
            if principal is not None and recorder.enabled:
                recorder.record_accesses(principal, presigned_post(Bucket, Key))
            return generate(client, Bucket, Key, *args, **kwargs)

        class_attributes["generate_presigned_post"] = generate_presigned_post


_installed: list[Recorder] = []
_HANDLERS = (
    ("before-parameter-build", "before_parameter_build"),
    ("creating-client-class.s3", "creating_s3_client_class"),
)


def install(directory: Path) -> Recorder:
    """Record the calls of botocore sessions created from now on in this process."""
    uninstall()
    recorder = Recorder(directory)
    for event, method in _HANDLERS:
        # last: after botocore's own handler that adds generate_presigned_post to S3 clients
        BUILTIN_HANDLERS.append((event, getattr(recorder, method)))
    _installed.append(recorder)
    boto3.DEFAULT_SESSION = None  # ``boto3.client`` then builds a session with the handlers, not an older one
    return recorder


def uninstall() -> None:
    while _installed:
        recorder = _installed.pop()
        recorder.enabled = False
        for event, method in _HANDLERS:
            handler = (event, getattr(recorder, method))
            if handler in BUILTIN_HANDLERS:
                BUILTIN_HANDLERS.remove(handler)
        boto3.DEFAULT_SESSION = None


def installed() -> Recorder | None:
    return _installed[-1] if _installed else None


# --- principals of the emulator's own threads --------------------------------------------------------


def run_step_functions_executions_as_their_role() -> None:
    """moto's engine runs an execution's states on threads of its own and makes its task calls (Lambda
    invokes, service integrations) with clients from ``boto_client_for(region, service, state_credentials)``:
    those calls are made as ``state_credentials.role_arn``, the state machine's role. The task tokens it
    hands out are written down with their state machine, for ``SendTaskSuccess``."""
    import importlib

    from moto.stepfunctions.parser.asl.eval.states import ContextObject

    from infra.local.moto_patches.step_functions import _ENGINE_MODULES

    for name in _ENGINE_MODULES:
        module = importlib.import_module(name)
        client_for = getattr(module, "boto_client_for")  # noqa: B009 - a module mypy sees no such name in
        if not getattr(client_for, "_iam_audit", False):
            setattr(module, "boto_client_for", _client_acting_as_the_state_role(client_for))  # noqa: B010
    if not getattr(ContextObject.update_task_token, "_iam_audit", False):
        update_task_token = ContextObject.update_task_token

        def _update_task_token(self: ContextObject) -> str:
            token: str = update_task_token(self)
            recorder = installed()
            if recorder is not None:
                recorder.record_token(token, self.context_object_data["StateMachine"]["Id"])
            return token

        _update_task_token._iam_audit = True  # type: ignore[attr-defined]
        ContextObject.update_task_token = _update_task_token  # type: ignore[method-assign]


class _ActingClient:
    """A boto3 client whose calls are made as ``role_arn``."""

    def __init__(self, client: Any, role_arn: str | None) -> None:
        self._client, self._role_arn = client, role_arn

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if not callable(attribute):
            return attribute

        def call(*args: Any, **kwargs: Any) -> Any:
            with acting_as(self._role_arn):
                return attribute(*args, **kwargs)

        return call


def _client_acting_as_the_state_role(boto_client_for: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(boto_client_for)  # keeps moto_patches' marks: its patch is not applied twice
    def client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        client = boto_client_for(region=region, service=service, state_credentials=state_credentials)
        return _ActingClient(client, getattr(state_credentials, "role_arn", None))

    client_for._iam_audit = True  # type: ignore[attr-defined]
    return client_for


ASGIApp = Callable[[MutableMapping[str, Any], Any, Any], Awaitable[None]]


class ActingAs:
    """ASGI wrapper: every request's AWS calls (in sync routes too: Starlette's thread pool copies the
    context) are ``role_arn``'s."""

    def __init__(self, app: ASGIApp, role_arn: str) -> None:
        self.app = app
        self.role_arn = role_arn

    async def __call__(self, scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        with acting_as(self.role_arn):
            await self.app(scope, receive, send)
