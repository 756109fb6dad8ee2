"""How a patch is installed: once per process, and only on the moto release it was written against.

Each patch replaces a private part of moto (a method, a module attribute) whose shape changes between
releases without notice, so every patch first checks the installed moto against ``MOTO_VERSION``, the
release pyproject.toml pins. Upgrading moto means reading each patch against the new release, then moving
``MOTO_VERSION`` and the pin together.
"""

from __future__ import annotations

import functools
import importlib.metadata
import types
from collections.abc import Callable
from typing import Any

MOTO_VERSION = "5.2.5"
MARK = "_annolake_patches"  # the set of patch names a replaced attribute carries


class MotoVersionError(RuntimeError):
    """The installed moto is not the release the patches were written against."""


def require_moto_version(installed: str | None = None) -> None:
    """Refuse to patch any moto but ``MOTO_VERSION`` (``installed``: the version to check, default moto's)."""
    if installed is None:
        installed = _installed_moto()
    if installed != MOTO_VERSION:
        raise MotoVersionError(
            f"infra/local/moto_patches was written against moto {MOTO_VERSION}, but moto {installed} is "
            f"installed. Install moto=={MOTO_VERSION} (pyproject.toml pins it; `make venv`), or review every "
            "patch in infra/local/moto_patches against the new release and update MOTO_VERSION with the pin."
        )


@functools.cache
def _installed_moto() -> str:
    return importlib.metadata.version("moto")


def replace(owner: object, name: str, patch: str, make: Callable[[Any], Any]) -> None:
    """Set ``owner.name`` to ``make(current)`` unless the patch named ``patch`` is already there."""
    require_moto_version()
    current = getattr(owner, name)
    installed: frozenset[str] = getattr(current, MARK, frozenset())
    if patch in installed:
        return
    replacement = make(current)
    # a classmethod's mark goes on its function: reading the attribute back gives a method bound to that
    setattr(getattr(replacement, "__func__", replacement), MARK, installed | {patch})
    setattr(owner, name, replacement)


def copy_module_with(deepcopy: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """For ``replace(module, "copy", ...)`` in a module that imports ``copy``: that module's ``copy`` with
    ``deepcopy`` in place of its own."""

    def make(module: Any) -> Any:
        return types.SimpleNamespace(deepcopy=deepcopy, copy=module.copy)

    return make
