"""How ``make up`` serves its API: the listening socket and the number of API processes."""

from __future__ import annotations

import asyncio
import socket

import pytest

from infra.local.api_workers import listening_sockets
from infra.local.runtime import api_worker_count


def test_api_connections_get_tcp_nodelay():
    """asyncio sets TCP_NODELAY only on connections of a socket that says it is TCP; without it every small
    answer of the API waited ~40 ms for the client's delayed ACK."""
    (listening,) = listening_sockets(0)
    port = listening.getsockname()[1]
    seen: list[int] = []

    async def serve_one() -> None:
        def on_connection(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            seen.append(writer.get_extra_info("socket").getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            writer.close()

        server = await asyncio.start_server(on_connection, sock=listening)
        async with server:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            while not seen:
                await asyncio.sleep(0.01)
            writer.close()

    asyncio.run(serve_one())
    assert seen and seen[0] != 0


def test_a_busy_port_names_the_fix():
    for taken in (listening_sockets(0), listening_sockets(0, 2)):  # another `make up`, with one or two workers
        port = taken[0].getsockname()[1]
        for count in (1, 2):
            with pytest.raises(SystemExit) as exit_:
                listening_sockets(port, count)
            assert "ANNOLAKE_API_PORT" in str(exit_.value)
        for sock in taken:
            sock.close()


def test_new_connections_are_spread_over_the_api_workers_sockets():
    """Each worker listens on a socket of its own on the one port: the kernel spreads connections over them.
    (On one shared socket the first worker to wake accepted every waiting connection: under 20 annotators one
    worker answered nine requests in ten.)"""
    sockets = listening_sockets(0, 2)
    port = sockets[0].getsockname()[1]
    assert {sock.getsockname()[1] for sock in sockets} == {port}
    clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(40)]
    accepted = []
    for sock in sockets:
        sock.settimeout(0.2)
        count = 0
        while True:
            try:
                connection, _ = sock.accept()
            except TimeoutError:
                break
            connection.close()
            count += 1
        accepted.append(count)
    for sock in [*clients, *sockets]:
        sock.close()
    assert sum(accepted) == 40
    assert min(accepted) >= 8, accepted  # by the hash of each connection's addresses: about half each


@pytest.mark.parametrize(("value", "expected"), [(None, 2), ("0", 0), ("4", 4)])
def test_api_worker_count(monkeypatch, value, expected):
    if value is None:
        monkeypatch.delenv("ANNOLAKE_API_WORKERS", raising=False)
    else:
        monkeypatch.setenv("ANNOLAKE_API_WORKERS", value)
    assert api_worker_count() == expected


def test_a_bad_api_worker_count_is_refused(monkeypatch):
    monkeypatch.setenv("ANNOLAKE_API_WORKERS", "two")
    with pytest.raises(SystemExit, match="ANNOLAKE_API_WORKERS='two'"):
        api_worker_count()
