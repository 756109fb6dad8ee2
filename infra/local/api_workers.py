"""The local API's listening sockets and the processes that serve them.

Each API worker process listens on a socket of its own, all bound to the same port with ``SO_REUSEPORT``, so
the kernel spreads new connections over the workers by their addresses. On one shared socket, whichever worker
woke first accepted every connection waiting (asyncio accepts up to 100 per wake-up) and clients keep their
connections: under 20 annotators one worker answered about nine requests in ten while the other idled.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import uvicorn
    from uvicorn.supervisors.multiprocess import Process

logger = logging.getLogger("local-runtime.api")

BACKLOG = 2048
QUEUE_SHARE_VARIABLE = "QUEUE_SHARE"  # the service setting naming a process's share of the task queues


def listening_sockets(port: int, count: int = 1) -> list[socket.socket]:
    """``count`` TCP sockets listening on ``port`` (0: a free port, the same for all) on 127.0.0.1, listening
    already: connections wait in their backlogs until a worker accepts them.

    Made with ``IPPROTO_TCP`` rather than uvicorn's ``bind_socket``: asyncio sets ``TCP_NODELAY`` only on
    connections of a socket whose ``proto`` says TCP, and without it every small answer waited ~40 ms for
    the client's delayed ACK (Nagle), an 8x slower API.
    """
    if port:
        _refuse_a_busy(port)  # SO_REUSEPORT would otherwise share the port with another `make up` of this user
    sockets: list[socket.socket] = []
    for _ in range(max(count, 1)):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if count > 1:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError as exc:
            sock.close()
            for opened in sockets:
                opened.close()
            raise _busy(port, exc) from None
        port = sock.getsockname()[1]
        sock.listen(BACKLOG)
        sock.set_inheritable(True)  # the API workers serve it
        sockets.append(sock)
    return sockets


def _refuse_a_busy(port: int) -> None:
    probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        probe.bind(("127.0.0.1", port))
    except OSError as exc:
        raise _busy(port, exc) from None
    finally:
        probe.close()


def _busy(port: int, exc: OSError) -> SystemExit:
    return SystemExit(
        f"cannot listen on http://127.0.0.1:{port} ({exc.strerror}): is another `make up` running? "
        "Stop it, or set ANNOLAKE_API_PORT to a free port."
    )


def serve_in_workers(config: uvicorn.Config, sockets: list[socket.socket]) -> None:
    """One uvicorn worker process per socket until SIGINT or SIGTERM. A worker that dies, or does not answer
    uvicorn's health ping, is replaced on its socket (connections routed there wait in its backlog)."""
    from uvicorn.config import STARTUP_FAILURE
    from uvicorn.supervisors.multiprocess import Process

    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    workers = [Process(config, [sock]) for sock in sockets]
    for slot, worker in enumerate(workers):
        _start(worker, slot, len(workers))
    try:
        while not stop.wait(0.5):
            for slot, worker in enumerate(workers):
                if worker.is_alive(timeout=config.timeout_worker_healthcheck):
                    continue
                worker.kill()
                worker.join()
                if worker.exitcode == STARTUP_FAILURE:  # the app cannot start: it would fail the same way again
                    logger.error("API worker %s failed to start; stopping", worker.pid)
                    return
                logger.info("API worker %s ended (exit code %s); starting another", worker.pid, worker.exitcode)
                workers[slot] = Process(config, [sockets[slot]])
                _start(workers[slot], slot, len(workers))
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            worker.join()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _start(worker: Process, slot: int, count: int) -> None:
    """Start ``worker``, the ``slot``-th of ``count``: a spawned process takes the environment of its start, in
    which its share of the task queues (``QUEUE_SHARE``) is its slot, so the workers do not race for one task."""
    before = os.environ.get(QUEUE_SHARE_VARIABLE)
    os.environ[QUEUE_SHARE_VARIABLE] = f"{slot}/{count}"
    try:
        worker.start()
    finally:
        if before is None:
            os.environ.pop(QUEUE_SHARE_VARIABLE, None)
        else:
            os.environ[QUEUE_SHARE_VARIABLE] = before
