"""Where the SDK finds its connection: arguments, then ANNOLAKE_* variables, then credentials.json.

credentials.json is looked for at $ANNOLAKE_CREDENTIALS, then ``.annolake/credentials.json`` in the
current directory and its parents (``make up`` writes it there), then ``~/.annolake/credentials.json``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from annolake.errors import CredentialsNotFound

__all__ = ["Credentials", "CredentialsNotFound", "resolve_credentials"]


@dataclass(frozen=True)
class Credentials:
    """Where and as whom to connect: the API host, the project id and an API key (id and secret)."""

    host: str
    project: str
    client_id: str
    client_secret: str


def _credentials_file() -> Path | None:
    explicit = os.environ.get("ANNOLAKE_CREDENTIALS")
    if explicit:
        return Path(explicit)
    for directory in (Path.cwd(), *Path.cwd().parents):
        candidate = directory / ".annolake" / "credentials.json"
        if candidate.is_file():
            return candidate
    home = Path.home() / ".annolake" / "credentials.json"
    return home if home.is_file() else None


def resolve_credentials(
    *, host: str | None, project: str | None, client_id: str | None, client_secret: str | None
) -> Credentials:
    values = {
        "host": host or os.environ.get("ANNOLAKE_HOST"),
        "project": project or os.environ.get("ANNOLAKE_PROJECT"),
        "client_id": client_id or os.environ.get("ANNOLAKE_CLIENT_ID"),
        "client_secret": client_secret or os.environ.get("ANNOLAKE_CLIENT_SECRET"),
    }
    if not all(values.values()):
        path = _credentials_file()
        if path is not None and path.is_file():
            stored = json.loads(path.read_text())
            values = {k: v or stored.get(k) for k, v in values.items()}
    missing = [k for k, v in values.items() if not v]
    if missing:
        raise CredentialsNotFound(
            f"missing {', '.join(missing)}: pass them to Project(...), set ANNOLAKE_HOST, ANNOLAKE_PROJECT, "
            "ANNOLAKE_CLIENT_ID and ANNOLAKE_CLIENT_SECRET, or run `make up` to write .annolake/credentials.json"
        )
    return Credentials(**values)  # type: ignore[arg-type]
