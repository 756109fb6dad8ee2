"""``Scope``: what a resource object needs to reach the API (the client and the project), instead of the Project.

Datasets, files, slices, jobs and tasks hold a scope, so none of their modules imports ``annolake.project``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

if TYPE_CHECKING:
    from annolake.client import ApiClient


@dataclass(frozen=True)
class Scope:
    """One project on one deployment, reached through ``api``.

    ``owner`` is the ``Project`` that made the scope (None for a scope made by hand); it is handed back to
    user code that expects it, such as a sample's ``diffgram_file.client``. Picklable, with its owner.
    """

    api: ApiClient
    project: str
    host: str = ""
    owner: Any = field(default=None, compare=False, repr=False)

    @property
    def path(self) -> str:
        """The project's API path, ``/projects/<id>``."""
        return f"/projects/{quote(self.project, safe='')}"


def scope_of(source: Any) -> Scope:
    """A ``Scope`` as is, or the scope of an object that has one (a ``Project``, a ``Dataset``)."""
    if isinstance(source, Scope):
        return source
    scope = getattr(source, "scope", None)
    if not isinstance(scope, Scope):
        raise TypeError(f"expected a Project or a Scope, not {type(source).__name__}")
    return scope
