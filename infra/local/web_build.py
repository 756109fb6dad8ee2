"""Build the web UI (``web/dist``) only when its sources changed: ``python -m infra.local.web_build``.

``make up``, ``make test``, ``make synth`` and ``make deploy`` run it first. Node.js and npm come from the
virtualenv (``infra.nodejs``); ``npm ci`` runs when ``package-lock.json`` changed since the last install,
``npm run build`` (type check + Vite) when a source changed since the last build. Both are recorded by a hash
of their inputs. ``client`` regenerates the typed API client from ``web/openapi.json`` (``npm run client``).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

from infra import nodejs

REPO_ROOT = Path(__file__).resolve().parents[2]
WEB = REPO_ROOT / "web"
DIST = WEB / "dist"
NODE_MODULES = WEB / "node_modules"
_SOURCE_DIRS = ("src", "public")
_SOURCE_FILES = ("index.html", "package.json", "package-lock.json", "vite.config.ts", "tsconfig.json")
_LOCK_STAMP = NODE_MODULES / ".annolake-lock-hash"
_BUILD_STAMP = DIST / ".annolake-source-hash"


def _digest(paths: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(str(path.relative_to(WEB)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def source_hash() -> str:
    paths = [WEB / name for name in _SOURCE_FILES if (WEB / name).is_file()]
    for name in _SOURCE_DIRS:
        paths += sorted(p for p in (WEB / name).rglob("*") if p.is_file())
    return _digest(paths)


def _npm(*args: str) -> None:
    environ = dict(os.environ)
    nodejs.put_first_on_path(environ)  # npm and the packages' scripts run on the virtualenv's node
    subprocess.run([*nodejs.command("npm"), *args], cwd=WEB, env=environ, check=True)  # noqa: S603


def ensure_dependencies() -> bool:
    """``npm ci`` unless node_modules matches package-lock.json; True if it ran."""
    lock = _digest([WEB / "package-lock.json"])
    if _LOCK_STAMP.is_file() and _LOCK_STAMP.read_text() == lock:
        return False
    _npm("ci", "--no-audit", "--no-fund")
    _LOCK_STAMP.write_text(lock)
    return True


def ensure_built() -> bool:
    """``npm run build`` unless web/dist was built from the current sources; True if it ran."""
    ensure_dependencies()
    digest = source_hash()
    if _BUILD_STAMP.is_file() and _BUILD_STAMP.read_text() == digest and (DIST / "index.html").is_file():
        return False
    _npm("run", "--silent", "build")
    _BUILD_STAMP.write_text(digest)
    return True


def main(argv: list[str]) -> int:
    what = argv[0] if argv else "build"
    if what == "deps":
        print("web: npm ci" if ensure_dependencies() else "web: node_modules up to date")
    elif what == "build":
        print("web: built web/dist" if ensure_built() else "web: web/dist up to date")
    elif what == "client":
        ensure_dependencies()
        _npm("run", "--silent", "client")  # web/src/api/schema.d.ts from web/openapi.json
    else:
        print(f"usage: python -m infra.local.web_build [deps|build|client], not {what!r}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
