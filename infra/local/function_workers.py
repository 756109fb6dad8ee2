"""Lambda handlers run in worker processes, each serving many invocations at once on threads.

Under ``make up`` every AWS call and every Lambda handler shared the platform process's one interpreter lock:
a handler's own code and its boto3 client side (serialising, signing, parsing) took the lock the emulator
needs to answer everyone else. In a worker the handler's code runs on another core and its calls reach the
emulator over a kept HTTP connection, which costs the emulator less than the same call made in-process cost
the platform (client and server on one lock).

A worker is a spawned process holding one end of a pipe to the platform. The platform sends it
``(id, handler, event, context, role)``; the worker runs the invocation on a thread of its pool and sends back
``(id, answer)``, so a handler waiting on the network (a webhook's endpoint, an HTTP model host) holds a thread,
not the worker. When the platform process ends, even killed, its end of the pipe closes and the worker exits.
A worker that dies with invocations in flight fails them as Lambda fails an invocation whose runtime exited
(``Runtime.ExitError``: retried by Step Functions' and the event sources' retry policies), and is replaced.

A handler run here must not wait for another handler's invocation to finish (none does: Step Functions
executions are started, not awaited, and no handler writes where an S3 notification would invoke one).
"""

from __future__ import annotations

import contextlib
import ctypes
import itertools
import logging
import multiprocessing
import multiprocessing.connection
import os
import sys
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from multiprocessing.connection import Connection
from typing import Any

log = logging.getLogger("local-runtime.lambda")
PROCESS_NAME = "annolake-fn"  # a worker's name in /proc/<pid>/comm (ps, top): not one of the API's workers
FUNCTION_HEADER = "X-Annolake-Function"  # names the function whose handler made a worker's AWS call
RUNTIME_EXIT_ERROR = "Runtime.ExitError"
Answer = tuple[str, dict[str, Any] | None]  # (the JSON answer, or the error as the Lambda runtime reports it)


class WorkerExited(RuntimeError):
    """The worker process running the invocation ended before answering."""

    error_type = RUNTIME_EXIT_ERROR


class _Worker:
    """The platform's side of one worker process."""

    def __init__(self, index: int, threads: int, setup: Callable[[], None] | None) -> None:
        context = multiprocessing.get_context("spawn")
        self.connection, child = context.Pipe()
        self.process = context.Process(
            target=serve,
            args=(child, list(sys.path), threads, setup),
            name=f"annolake-functions-{index}",
            daemon=True,
        )
        self.process.start()
        child.close()
        self.pending: dict[int, Future[Answer]] = {}
        self.alive = True
        self._lock = threading.Lock()
        threading.Thread(target=self._read, name=f"functions-{index}-answers", daemon=True).start()

    def submit(self, ident: int, call: tuple[Any, ...]) -> Future[Answer]:
        future: Future[Answer] = Future()
        with self._lock:  # one writer on the pipe at a time
            if not self.alive:
                raise WorkerExited(f"worker {self.process.pid} has exited")
            self.pending[ident] = future
            try:
                self.connection.send((ident, call))
            except (OSError, ValueError) as exc:
                del self.pending[ident]
                raise WorkerExited(f"worker {self.process.pid} cannot take work: {exc}") from None
        return future

    def _read(self) -> None:
        while True:
            try:
                ident, answer = self.connection.recv()
            except (EOFError, OSError, TypeError):  # TypeError: ``stop`` closed the pipe under this read
                break
            with self._lock:
                future = self.pending.pop(ident, None)
            if future is not None:
                future.set_result(answer)
        with self._lock:
            self.alive = False
            pending, self.pending = self.pending, {}
        for future in pending.values():
            future.set_exception(WorkerExited(f"worker {self.process.pid} exited (code {self.process.exitcode})"))

    def load(self) -> int:
        return len(self.pending)

    def stop(self) -> None:
        with self._lock:
            self.alive = False
        self.connection.close()  # the worker reads the end of its pipe and exits


class FunctionWorkers:
    """``processes`` workers of ``threads`` threads each, running the handlers ``runs(handler)`` accepts."""

    def __init__(self, processes: int, threads: int, runs: Callable[[str], bool], setup: Callable[[], None] | None):
        self.runs = runs
        self._threads, self._setup = threads, setup
        self._ids = itertools.count()
        self._lock = threading.Lock()
        self._workers = [_Worker(n, threads, setup) for n in range(processes)]

    def run(self, call: tuple[Any, ...], timeout: float) -> Answer:
        """The invocation's answer; ``TimeoutError`` once it has run ``timeout`` seconds (it is left to finish in
        its worker and its answer dropped, as Lambda drops it); ``WorkerExited`` if its worker died first."""
        worker = self._least_loaded()
        future = worker.submit(next(self._ids), call)
        try:
            return future.result(timeout)
        except FutureTimeout:
            raise TimeoutError from None
        except WorkerExited:
            self._replace(worker)
            raise

    def _least_loaded(self) -> _Worker:
        with self._lock:
            for n, worker in enumerate(self._workers):
                if not worker.alive:
                    self._workers[n] = _Worker(n, self._threads, self._setup)
            return min(self._workers, key=_Worker.load)

    def _replace(self, dead: _Worker) -> None:
        with self._lock:
            if dead in self._workers:
                n = self._workers.index(dead)
                self._workers[n] = _Worker(n, self._threads, self._setup)
        log.warning("a function worker process exited (code %s); started a new one", dead.process.exitcode)

    def pids(self) -> list[int]:
        with self._lock:
            return [worker.process.pid for worker in self._workers if worker.process.pid is not None]

    def stop(self) -> None:
        with self._lock:
            workers, self._workers = self._workers, []
        for worker in workers:
            worker.stop()


def serve(connection: Connection, path: list[str], threads: int, setup: Callable[[], None] | None) -> None:
    """A worker's life: run each invocation the pipe brings on a thread, send its answer back; end with the pipe."""
    sys.path[:] = path
    name_this_process(PROCESS_NAME)
    from infra.local import lambda_runtime
    from infra.local.heap import HeapFreezer

    if setup is not None:
        setup()
    HeapFreezer().start()  # the handlers' modules, imported on their first invocations, frozen with the rest
    send_lock = threading.Lock()
    pool = ThreadPoolExecutor(threads, thread_name_prefix="invocation")

    def invoke(ident: int, call: tuple[Any, ...]) -> None:
        answer = lambda_runtime.run_here(*call)
        with send_lock:
            try:
                connection.send((ident, answer))
            except (OSError, ValueError):
                os._exit(0)  # the platform is gone

    while True:
        try:
            ident, call = connection.recv()
        except (EOFError, OSError):
            os._exit(0)  # the platform closed its end, or died: threads still running go with the process
        pool.submit(invoke, ident, call)


def name_this_process(name: str) -> None:
    with contextlib.suppress(AttributeError, OSError):  # not Linux: the name is only a convenience
        ctypes.CDLL(None).prctl(15, name.encode(), 0, 0, 0)  # PR_SET_NAME


def end_with_the_parent() -> None:
    """In a spawned child: exit as soon as the process that spawned it has ended (its sentinel pipe closes)."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        multiprocessing.connection.wait([parent.sentinel])
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()
