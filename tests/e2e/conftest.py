"""A real ``python -m infra.local`` (what ``make up`` runs) on free ports with its own home.

``platform``: one platform for the whole session, shared by the modules of this package (a start costs
30-60 s). Their tests only add data under names of their own, so they do not see each other's: the seed
checks of ``test_local_platform`` (24 demo files in the table) still count on running first, as they do in
file order. ``own_platform``: a second one, for the tests that kill its API workers or restart it.

The browser tests' ``browser`` (Debian's Chromium through Playwright) and ``admin`` (the demo user's browser
context, its console watched) are here too; each such module names its screenshot folder in ``SHOTS``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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

    def dead_letter_depths(self) -> dict[str, int]:
        """Queue URL → messages waiting, for every dead-letter queue on the platform's emulator."""
        import boto3

        creds = self.credentials
        sqs = boto3.client(
            "sqs",
            endpoint_url=self.emulator_url,
            aws_access_key_id=creds["aws_access_key_id"],
            aws_secret_access_key=creds["aws_secret_access_key"],
            region_name="us-east-1",
        )
        depths = {}
        for url in sqs.list_queues().get("QueueUrls", []):
            if "dead" in url.lower() or "dlq" in url.lower():
                attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
                depths[url] = int(attributes["Attributes"]["ApproximateNumberOfMessages"])
        return depths

    def stop(self, timeout: float = 120) -> int:
        self.process.send_signal(signal.SIGINT)  # what Ctrl-C does
        return self.process.wait(timeout=timeout)


def start_platform(
    home: Path,
    api_port: int,
    emulator_port: int,
    timeout_s: float | None = None,
    snapshot_seconds: float = 5,
    environment: dict[str, str] | None = None,
    module: str = "infra.local",
    repo: Path = REPO,
) -> RunningPlatform:
    """``module``: what runs as ``python -m`` (``infra.local``; a bench may wrap it to count what it does);
    ``repo``: the checkout it runs from (a bench may start another revision's beside this one).
    ``timeout_s``: how long it may take to answer health (``ANNOLAKE_START_TIMEOUT_S``, 300 s: more on a busy
    machine, where synthesizing the app alone can take minutes)."""
    if timeout_s is None:
        timeout_s = float(os.environ.get("ANNOLAKE_START_TIMEOUT_S", "300"))
    log_path = home.parent / f"{home.name}-{time.time_ns()}.log"
    env = {
        **os.environ,
        "ANNOLAKE_HOME": str(home),
        "ANNOLAKE_API_PORT": str(api_port),
        "ANNOLAKE_EMULATOR_PORT": str(emulator_port),
        "ANNOLAKE_SNAPSHOT_SECONDS": str(snapshot_seconds),
        **(environment or {}),
    }
    for key in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        env.pop(key, None)
    if repo != REPO:  # its own service code and SDK, not this checkout's
        env["PYTHONPATH"] = f"{repo / 'sdk'}:{repo / 'functions'}"
    started = time.monotonic()
    handle = log_path.open("w")
    process = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", module], cwd=repo, env=env, stdout=handle, stderr=subprocess.STDOUT
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


def iam_audit_directory(running: RunningPlatform) -> Path:
    """Where the shared platform records its functions' AWS calls (checked by test_iam_grants.py, run last)."""
    return running.home / "iam-audit"


@pytest.fixture(scope="session")
def platform(tmp_path_factory) -> Iterator[RunningPlatform]:
    home = tmp_path_factory.mktemp("annolake-home")
    audit = {"ANNOLAKE_IAM_AUDIT": str(home / "iam-audit")}
    running = start_platform(home, free_port(), free_port(), environment=audit)
    yield running
    if running.process.poll() is None:
        running.stop()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The IAM check reads what every other test made the shared platform do: it runs after them."""
    last = [item for item in items if item.path.name == "test_iam_grants.py" and item.path.parent.name == "e2e"]
    items[:] = [item for item in items if item not in last] + last


@dataclass
class OwnPlatform:
    """A platform apart from the shared one, for tests that crash or restart it: its home and ports stay the
    same across restarts, and it is started (again, from its saved state) when a test asks for it."""

    home: Path
    ports: tuple[int, int]
    current: RunningPlatform | None = None

    def running(self) -> RunningPlatform:
        if self.current is None or self.current.process.poll() is not None:
            self.current = start_platform(self.home, *self.ports)
        return self.current

    def start_again(self) -> RunningPlatform:
        """Start it after a test stopped it (a warm start: the home keeps the state Ctrl-C saved)."""
        assert self.current is None or self.current.process.poll() is not None, "stop it first"
        self.current = start_platform(self.home, *self.ports)
        return self.current

    def close(self) -> None:
        if self.current is not None and self.current.process.poll() is None:
            self.current.stop()


@pytest.fixture(scope="session")
def own_platform(tmp_path_factory) -> Iterator[OwnPlatform]:
    own = OwnPlatform(tmp_path_factory.mktemp("annolake-own-home"), (free_port(), free_port()))
    yield own
    own.close()


# The browser tests.

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VIEWPORT = {"width": 1280, "height": 800}
TIMEOUT_MS = 30_000


def require_browser() -> None:
    if not CHROMIUM.exists():
        pytest.fail(
            f"Debian's Chromium is required at {CHROMIUM} for the browser tests: `apt-get install chromium` "
            "(.ci/run installs it). Playwright's own browser download is not used."
        )
    if not (REPO / "web" / "dist" / "index.html").exists():
        pytest.fail("web/dist is not built: run `make web` (`make test` builds it first)")


@dataclass
class Person:
    """One browser context (one person), its console watched."""

    name: str
    page: Any  # a Playwright Page (imported only where the browser tests run)
    shots: Path
    problems: list[str] = field(default_factory=list)
    allowed: list[tuple[str, str]] = field(default_factory=list)  # (status, URL part) a step expects

    def watch(self) -> None:
        def on_console(message) -> None:
            if message.type != "error":
                return
            url = message.location.get("url", "") if message.location else ""
            text = message.text
            if any(status in text and part in url for status, part in self.allowed):
                return
            self.problems.append(f"console error ({self.name}): {text} at {url}")

        self.page.on("console", on_console)
        self.page.on("pageerror", lambda error: self.problems.append(f"page error ({self.name}): {error}"))

    @contextmanager
    def expecting_http_error(self, status: int, url_part: str) -> Iterator[None]:
        entry = (f"status of {status}", url_part)
        self.allowed.append(entry)
        try:
            yield
        finally:
            self.allowed.remove(entry)

    def shot(self, name: str) -> Path:
        path = self.shots / f"{name}.png"
        self.page.screenshot(path=str(path))
        return path

    def assert_clean(self) -> None:
        assert not self.problems, "\n".join(self.problems)


def person_in(browser, platform: RunningPlatform, name: str, shots: Path) -> Iterator[Person]:
    """A fixture's body: a person's browser context, closed (and its console checked) at the end."""
    from playwright.sync_api import expect

    expect.set_options(timeout=TIMEOUT_MS)
    context = browser.new_context(viewport=VIEWPORT, base_url=platform.api_url)
    context.set_default_timeout(TIMEOUT_MS)
    person = Person(name, context.new_page(), shots)
    person.watch()
    yield person
    context.close()
    person.assert_clean()


@pytest.fixture(scope="module")
def shots(request) -> Path:
    """The module's screenshot folder (its ``SHOTS``, git-ignored), emptied."""
    folder: Path = request.module.SHOTS
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


@pytest.fixture(scope="module")
def browser():
    require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def admin(browser, platform, shots) -> Iterator[Person]:
    yield from person_in(browser, platform, "admin", shots)


@pytest.fixture(autouse=True)
def _no_console_errors(request):
    """A browser test fails on any console error or uncaught page error of the people it used."""
    yield
    for name in ("admin", "reviewer"):
        if name in request.fixturenames:
            person = request.getfixturevalue(name)
            if isinstance(person, Person):  # other modules have an "admin" of their own
                problems, person.problems[:] = list(person.problems), []
                assert not problems, "\n".join(problems)
