"""How ``make up`` serves its API: the listening socket and the number of API processes."""

from __future__ import annotations

import asyncio
import socket

import pytest

from infra.local.runtime import api_worker_count, listening_socket


def test_api_connections_get_tcp_nodelay():
    """asyncio sets TCP_NODELAY only on connections of a socket that says it is TCP; without it every small
    answer of the API waited ~40 ms for the client's delayed ACK."""
    listening = listening_socket(0)
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
    taken = listening_socket(0)
    with pytest.raises(SystemExit) as exit_:
        listening_socket(taken.getsockname()[1])
    assert "ANNOLAKE_API_PORT" in str(exit_.value)
    taken.close()


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
