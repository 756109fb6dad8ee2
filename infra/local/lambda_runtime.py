"""Run Lambda handlers when moto invokes a function: in this process or in worker processes.

moto's ``LambdaFunction._invoke_lambda`` normally starts a Docker container. We replace it with a
call of the real handler, imported from the function's code asset in ``cdk.out`` (put on
``sys.path`` by the runtime), so Step Functions tasks, S3 notifications and direct invokes all run
the code that would be deployed. moto is pinned in pyproject.toml; tests/local/test_lambda_hook.py asserts that
this hook is what runs, so an upgrade that renames the method fails loudly.

Handlers named by ``run_in_workers`` (the media work: decode, orient, hash, thumbnail) run in a pool of worker
processes instead, as they would in their own Lambda sandboxes: their CPU does not take the emulator's
interpreter lock, and a burst waits in the pool's queue rather than thrashing one interpreter. A worker calls
the emulator over HTTP (its calls are journaled like any client's) and ends when the platform process does.

Those handlers run at most N at once (the worker count, or this machine's CPU count when they run here): a burst
of drops queues for a slot, as the Lambda service queues events beyond a function's concurrency, rather than
decoding hundreds of photos at once (each a full-size bitmap in memory). The function's timeout starts when its
invocation has a slot.

Every other handler runs in the function workers once the platform starts them (``run_functions_in_workers``,
``function_workers.py``): processes that serve many invocations at once on threads, so the handlers' code and
client work do not take the emulator's interpreter lock either.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import logging
import multiprocessing
import os
import sys
import threading
import time
import traceback
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from moto.awslambda.models import LambdaFunction

from infra.local import function_workers
from infra.local.cloud_limits import LambdaTimedOut, within_function_timeout
from infra.local.iam_audit.recorder import acting_as

log = logging.getLogger("local-runtime.lambda")
invocations: Counter[str] = Counter()  # function name -> in-process invocations
# The function whose handler runs in this thread: its AWS calls, answered in-process in the same thread, are
# told apart by it (the emulator's fault rules can target one function's calls).
running_function: ContextVar[str | None] = ContextVar("running_function", default=None)
_lock = threading.Lock()
_running = 0  # invocations under way, in this process or its workers
_idle = threading.Condition(_lock)
_workers: ProcessPoolExecutor | None = None
_worker_handlers: frozenset[str] = frozenset()
_slots: threading.BoundedSemaphore | None = None  # how many of _worker_handlers' invocations run at once
_functions: function_workers.FunctionWorkers | None = None  # the other handlers' worker processes
MEDIA_PROCESS_NAME = "annolake-media"  # a media worker's name in /proc/<pid>/comm


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
    slots = _slots if self.handler in _worker_handlers else None
    with slots if slots is not None else contextlib.nullcontext():  # queued for a slot before its clock starts
        return _invoke_now(self, event)


def _invoke_now(self: LambdaFunction, event: Any) -> tuple[str, bool, str]:
    context = LocalContext(
        function_name=self.function_name,
        memory_limit_in_mb=int(self.memory_size),
        timeout_seconds=int(self.timeout),
        aws_request_id=str(uuid.uuid4()),
        invoked_function_arn=self.function_arn,
        log_group_name=f"/aws/lambda/{self.function_name}",
    )
    global _running
    with _lock:
        invocations[self.function_name] += 1
        _running += 1
    running = running_function.set(self.function_name)
    functions = _functions
    try:
        if functions is not None and self.handler is not None and functions.runs(self.handler):
            payload, error = _in_function_worker(functions, self.handler, self.role, event, context)
        else:
            payload, error = _here_within_timeout(self.handler, self.role, event, context)
    finally:
        running_function.reset(running)
        with _lock:
            _running -= 1
            _idle.notify_all()
    if error is not None:
        kind, message = error["errorType"], error["errorMessage"]
        log.warning(
            "%s (%s) failed: %s: %s\n%s", self.function_name, self.handler, kind, message, "".join(error["stackTrace"])
        )
        return json.dumps(error), True, "".join(error["stackTrace"])
    return payload, False, ""


def _in_function_worker(
    functions: function_workers.FunctionWorkers, handler: str, role: str | None, event: Any, context: LocalContext
) -> tuple[str, dict[str, Any] | None]:
    try:
        return functions.run((handler, event, context, role), context.timeout_seconds)
    except TimeoutError:
        return "", _error(LambdaTimedOut(context.aws_request_id, context.timeout_seconds))
    except function_workers.WorkerExited as exc:
        return "", _error(exc)


def _here_within_timeout(
    handler: str | None, role: str | None, event: Any, context: LocalContext
) -> tuple[str, dict[str, Any] | None]:
    try:
        with acting_as(role):  # its AWS calls are its role's (infra/local/iam_audit); copied to the thread
            return within_function_timeout(
                lambda: _dispatch(handler, role, event, context), context.timeout_seconds, context.aws_request_id
            )
    except Exception as exc:  # noqa: BLE001 - the function ran past its timeout: reported as Lambda reports it
        return "", _error(exc)


def _dispatch(
    handler: str | None, role: str | None, event: Any, context: LocalContext
) -> tuple[str, dict[str, Any] | None]:
    """Run the handler in a media worker process when it is one of theirs, else in this thread."""
    pool = _workers
    if pool is not None and handler in _worker_handlers:
        try:
            return pool.submit(_run, handler, event, context, role).result()
        except BrokenProcessPool:  # a worker died (killed, out of memory): a new pool; this one runs here
            log.warning("a media worker process died; starting new ones")
            _replace_broken(pool)
    return _run(handler, event, context, role)


def _error(exc: BaseException) -> dict[str, Any]:
    return {
        "errorType": getattr(exc, "error_type", type(exc).__name__),
        "errorMessage": str(exc),
        "stackTrace": traceback.format_exception(exc),
    }


def _run(
    handler: str | None, event: Any, context: LocalContext, role: str | None = None
) -> tuple[str, dict[str, Any] | None]:
    """(the JSON answer, or the error as the Lambda runtime reports it); in this process or a worker."""
    try:
        # in a worker, its calls are recorded by that process (infra/local/iam_audit)
        with acting_as(role), _logged_as(context):
            return json.dumps(_resolve(handler)(event, context)), None
    except Exception as exc:  # noqa: BLE001 - reported to the caller like the Lambda runtime does
        return "", _error(exc)


def run_here(
    handler: str | None, event: Any, context: LocalContext, role: str | None
) -> tuple[str, dict[str, Any] | None]:
    """An invocation sent to this function worker process (``function_workers.serve``)."""
    running = running_function.set(context.function_name)
    try:
        return _run(handler, event, context, role)
    finally:
        running_function.reset(running)


@contextlib.contextmanager
def _logged_as(context: LocalContext) -> Iterator[None]:
    """The log lines of this invocation name its function and request. Powertools' ``inject_lambda_context``
    puts the Lambda context on the logger for the whole process (AWS runs one invocation per process at a time),
    so invocations running at once in this process's threads named each other's; keys a thread sets win."""
    from annolake_service.shared.observability import logger
    from aws_lambda_powertools.logging.lambda_context import build_lambda_context_model

    before = dict(logger.thread_safe_get_current_keys())
    logger.thread_safe_append_keys(**build_lambda_context_model(context).__dict__)
    try:
        yield
    finally:
        logger.thread_safe_clear_keys()
        logger.thread_safe_append_keys(**before)


def run_in_workers(handlers: set[str], workers: int, at_once: int | None = None) -> None:
    """Run ``handlers`` (``module.function``) in ``workers`` spawned processes, which inherit this process's
    environment and ``sys.path`` as they are when each starts (so call it once they are the functions').
    ``workers`` 0: they run where the other handlers run (this process, or the function workers), at most
    ``at_once`` at a time (default: one per CPU)."""
    global _workers, _worker_handlers, _slots
    stop_workers()
    if not handlers:
        return
    _slots = threading.BoundedSemaphore(workers if workers > 0 else at_once or os.cpu_count() or 1)
    _worker_handlers = frozenset(handlers)
    if workers > 0:
        _workers = _new_pool(workers)


def _new_pool(workers: int) -> ProcessPoolExecutor:
    pool = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_start_worker,
        initargs=(list(sys.path),),
    )
    pool.annolake_workers = workers  # type: ignore[attr-defined]
    return pool


def _start_worker(path: list[str]) -> None:
    """A media worker ends when the platform does, even killed: a thread waits on the pipe multiprocessing keeps
    from the platform to each child it spawns, which ends with the platform. (The pool's own queue does not end:
    each worker holds both of its ends. Not PR_SET_PDEATHSIG: that fires when the *thread* that started the
    worker ends, and the pool starts workers from whichever thread submits.)"""
    sys.path[:] = path
    function_workers.name_this_process(MEDIA_PROCESS_NAME)
    function_workers.end_with_the_parent()
    from infra.local import iam_audit  # the audit, when on, records this worker's calls too

    directory = iam_audit.audit_directory()
    if directory is not None:
        iam_audit.install(directory)


def run_functions_in_workers(processes: int, threads: int, runs: Callable[[str], bool]) -> None:
    """Run the handlers ``runs`` accepts in ``processes`` function worker processes of ``threads`` threads each
    (0 processes: in this one), started now with this process's ``sys.path``."""
    global _functions
    stop_function_workers()
    if processes > 0:
        _functions = function_workers.FunctionWorkers(processes, threads, runs, _start_function_worker)


def function_worker_pids() -> list[int]:
    return _functions.pids() if _functions is not None else []


def stop_function_workers() -> None:
    global _functions
    functions, _functions = _functions, None
    if functions is not None:
        functions.stop()


def _start_function_worker() -> None:
    """In a function worker: its calls are audited (when the audit is on) and say which function made them."""
    from botocore.handlers import BUILTIN_HANDLERS

    from infra.local import iam_audit

    directory = iam_audit.audit_directory()
    if directory is not None:
        iam_audit.install(directory)
    BUILTIN_HANDLERS.append(("before-send", _name_the_function))


def _name_the_function(request: Any, **_: Any) -> None:
    """The emulator's fault rules and per-function call counts name the function behind each call."""
    function = running_function.get()
    if function is not None:
        request.headers[function_workers.FUNCTION_HEADER] = function


def _replace_broken(broken: ProcessPoolExecutor) -> None:
    global _workers
    with _lock:
        if _workers is broken:
            _workers = _new_pool(broken.annolake_workers)  # type: ignore[attr-defined]
    broken.shutdown(wait=False, cancel_futures=True)


def stop_workers() -> None:
    global _workers, _worker_handlers, _slots
    pool, _workers, _worker_handlers, _slots = _workers, None, frozenset(), None
    if pool is not None:
        pool.shutdown(wait=False, cancel_futures=True)


def install() -> None:
    """Route every moto Lambda invocation in this process to the in-process runner."""
    LambdaFunction._invoke_lambda = _invoke_in_process  # type: ignore[method-assign]


STOPPED_ANSWER = "the local Lambda runtime is stopped: no function runs once the emulator has stopped"


def _stopped(self: LambdaFunction, event: Any = None) -> tuple[str, bool, str]:
    """An invocation made after the runtime stopped (a state machine's retry waking in a process whose
    emulator has stopped, as in a test session's last minutes) fails as an invocation error. moto's own
    path would try to start a Docker container, which this platform never runs."""
    log.debug("%s invoked after the runtime stopped", self.function_name)
    return STOPPED_ANSWER, True, ""


def uninstall(*, wait: float = 0) -> bool:
    """Refuse every later invocation, stop the workers and wait up to ``wait`` seconds for the invocations
    under way to end (a test leaving its environment waits, so no handler reads the next one's halfway);
    whether none is left."""
    LambdaFunction._invoke_lambda = _stopped  # type: ignore[method-assign]
    with _idle:
        ended = _idle.wait_for(lambda: _running == 0, timeout=wait)
    stop_workers()
    stop_function_workers()
    return ended
