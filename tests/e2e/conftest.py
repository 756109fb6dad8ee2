"""A real ``python -m infra.local`` (what ``make up`` runs) on free ports with its own home."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import urllib3

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class RunningPlatform:
    home: Path
    api_url: str
    emulator_url: str
    process: subprocess.Popen
    log_path: Path
    started_in_s: float

    @property
    def credentials(self) -> dict:
        return json.loads((self.home / "credentials.json").read_text())

    def log(self) -> str:
        return self.log_path.read_text()

    def stop(self, timeout: float = 120) -> int:
        self.process.send_signal(signal.SIGINT)  # what Ctrl-C does
        return self.process.wait(timeout=timeout)


def start_platform(
    home: Path, api_port: int, emulator_port: int, timeout_s: float = 300, snapshot_seconds: float = 5
) -> RunningPlatform:
    log_path = home.parent / f"{home.name}-{time.time_ns()}.log"
    env = {
        **os.environ,
        "ANNOLAKE_HOME": str(home),
        "ANNOLAKE_API_PORT": str(api_port),
        "ANNOLAKE_EMULATOR_PORT": str(emulator_port),
        "ANNOLAKE_SNAPSHOT_SECONDS": str(snapshot_seconds),
    }
    for key in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        env.pop(key, None)
    started = time.monotonic()
    handle = log_path.open("w")
    process = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "infra.local"], cwd=REPO, env=env, stdout=handle, stderr=subprocess.STDOUT
    )
    api_url = f"http://127.0.0.1:{api_port}"
    http = urllib3.PoolManager(retries=False, timeout=2)
    while time.monotonic() - started < timeout_s:
        if process.poll() is not None:
            raise AssertionError(f"infra.local exited with {process.returncode}:\n{log_path.read_text()}")
        try:
            if http.request("GET", f"{api_url}/api/v1/health").status == 200:
                return RunningPlatform(
                    home, api_url, f"http://127.0.0.1:{emulator_port}", process, log_path, time.monotonic() - started
                )
        except urllib3.exceptions.HTTPError:
            pass
        time.sleep(0.5)
    process.kill()
    raise AssertionError(f"health never answered 200 within {timeout_s}s:\n{log_path.read_text()}")


@pytest.fixture(scope="package")
def platform_home(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("annolake-home")


@pytest.fixture(scope="package")
def ports() -> tuple[int, int]:
    return free_port(), free_port()


@pytest.fixture(scope="package")
def platform(platform_home, ports) -> Iterator[RunningPlatform]:
    running = start_platform(platform_home, *ports)
    yield running
    if running.process.poll() is None:
        running.stop()
