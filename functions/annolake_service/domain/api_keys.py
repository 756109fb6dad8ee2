"""API key credentials: a public ``client_id`` and a secret shown once, stored only as a hash.

Secrets are 256-bit random tokens, so a single SHA-256 is the right hash (as for GitHub tokens):
a slow password hash would add latency to every request without adding safety.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass


@dataclass(frozen=True)
class IssuedKey:
    client_id: str
    client_secret: str  # return to the caller once; never store
    secret_hash: str


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def issue_key() -> IssuedKey:
    client_id = f"ak_{secrets.token_hex(10)}"
    secret = f"sk_{secrets.token_urlsafe(32)}"  # never starts with "-": a command line would read it as an option
    return IssuedKey(client_id=client_id, client_secret=secret, secret_hash=hash_secret(secret))


def secret_matches(secret: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_secret(secret), stored_hash)
