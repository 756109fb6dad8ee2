"""Run Lambda handlers in this process when moto invokes a function.

moto's ``LambdaFunction._invoke_lambda`` normally starts a Docker container. We replace it with a
call of the real handler, imported from the function's code asset in ``cdk.out`` (put on
``sys.path`` by the runtime), so Step Functions tasks, S3 notifications and direct invokes all run
the code that would be deployed. moto is pinned in pyproject.toml; tests/local/test_lambda_hook.py asserts that
this hook is what runs, so an upgrade that renames the method fails loudly.
"""

from __future__ import annotations

import importlib
import json
import logging
import threading
import time
import traceback
import uuid
from collections import Counter
from dataclasses import dataclass
from typing import Any

from moto.awslambda.models import LambdaFunction

log = logging.getLogger("local-runtime.lambda")
invocations: Counter[str] = Counter()  # function name -> in-process invocations
_lock = threading.Lock()
_original = LambdaFunction._invoke_lambda


@dataclass
class LocalContext:
    """The subset of the Lambda context object that handlers and Powertools read."""

    function_name: str
    memory_limit_in_mb: int
    timeout_seconds: int
    aws_request_id: str
    invoked_function_arn: str
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = "local"

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def _resolve(handler: str | None) -> Any:
    if handler is None:  # moto's image functions have none; only zip functions run here
        raise ValueError("the function has no handler to run in process")
    module_name, _, attribute = handler.rpartition(".")
    return getattr(importlib.import_module(module_name), attribute)


def _invoke_in_process(self: LambdaFunction, event: Any = None) -> tuple[str, bool, str]:
    if isinstance(event, str | bytes):
        event = json.loads(event or "{}")
    context = LocalContext(
        function_name=self.function_name,
        memory_limit_in_mb=int(self.memory_size),
        timeout_seconds=int(self.timeout),
        aws_request_id=str(uuid.uuid4()),
        invoked_function_arn=self.function_arn,
        log_group_name=f"/aws/lambda/{self.function_name}",
    )
    with _lock:
        invocations[self.function_name] += 1
    try:
        result = _resolve(self.handler)(event, context)
    except Exception as exc:  # noqa: BLE001 - reported to the caller like the Lambda runtime does
        log.warning("%s (%s) failed: %s: %s", self.function_name, self.handler, type(exc).__name__, exc, exc_info=True)
        error = {
            "errorType": type(exc).__name__,
            "errorMessage": str(exc),
            "stackTrace": traceback.format_exception(exc),
        }
        return json.dumps(error), True, "".join(error["stackTrace"])
    return json.dumps(result), False, ""


def install() -> None:
    """Route every moto Lambda invocation in this process to the in-process runner."""
    LambdaFunction._invoke_lambda = _invoke_in_process  # type: ignore[method-assign]


def uninstall() -> None:
    LambdaFunction._invoke_lambda = _original  # type: ignore[method-assign]
