"""The web UI's own checks, run from the suite: the generated API client matches web/openapi.json, the
TypeScript type-checks against it, and the Vitest unit tests (drawing geometry, undo/redo, query completion)
pass. ``make test`` installs the npm packages first (``npm ci``); so does ``make web-deps``."""

from __future__ import annotations

import json
import shlex
import subprocess
from pathlib import Path

import pytest

WEB = Path(__file__).resolve().parents[2] / "web"
BIN = WEB / "node_modules" / ".bin"
CLIENT = WEB / "src" / "api" / "schema.d.ts"


def _tool(name: str) -> str:
    path = BIN / name
    if not path.exists():
        pytest.fail(f"{path} is missing: run `make web-deps` (npm ci in web/; `make test` does it)")
    return str(path)


def _run(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run(list(args), cwd=WEB, capture_output=True, text=True, timeout=timeout, check=False)


def test_generated_client_matches_openapi_json(tmp_path):
    """`make web-client` (`npm run client`) writes src/api/schema.d.ts; it must be regenerated with the spec."""
    command = shlex.split(json.loads((WEB / "package.json").read_text())["scripts"]["client"])
    assert command[0] == "openapi-typescript" and "-o" in command
    output = tmp_path / "schema.d.ts"
    command[command.index("-o") + 1] = str(output)
    result = _run(_tool(command[0]), *command[1:])
    assert result.returncode == 0, result.stdout + result.stderr
    assert CLIENT.read_text() == output.read_text(), (
        "web/src/api/schema.d.ts is not what web/openapi.json generates: run `make openapi` (or `make web-client`)"
    )


@pytest.mark.slow  # a full tsc run, ~13 s
def test_typescript_type_checks():
    result = _run(_tool("tsc"), "-p", "tsconfig.json")
    assert result.returncode == 0, result.stdout + result.stderr


def test_vitest_unit_tests_pass():
    result = _run(_tool("vitest"), "run", "--reporter=verbose")
    assert result.returncode == 0, result.stdout + result.stderr
    assert " failed" not in result.stdout.split("Tests")[-1]
