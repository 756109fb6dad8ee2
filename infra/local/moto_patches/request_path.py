"""moto's request path: backend and service lookups, request ids in answers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from infra.local.moto_patches.patching import MARK, replace, require_moto_version


def fast_backend_access() -> None:
    """moto looks up a service's per-account backend several times per request, each time under one global
    lock and after scanning a list of every backend in use with a Python ``__eq__`` per entry (a quarter of
    the emulator's CPU at ingest). Once an account's backend exists it is returned straight from the dict;
    only its creation takes moto's path (a reset empties the dicts, so the next access creates it again)."""
    from moto.core.base_backend import BackendDict

    def getitem(original: Callable[[BackendDict, str], Any]) -> Callable[[BackendDict, str], Any]:
        def __getitem__(self: BackendDict, account_id: str) -> Any:
            backend = dict.get(self, account_id)
            return backend if backend is not None else original(self, account_id)

        return __getitem__

    replace(BackendDict, "__getitem__", "fast", getitem)


def request_ids_only_where_xml_has_them() -> None:
    """moto puts the request id into ``<RequestId>`` of every answer with a regular expression (a lookbehind)
    run over the whole body, JSON ones included: a tenth of the emulator's time for a page of 100 DynamoDB
    items. A body without that element would come back unchanged, so it skips the scan."""
    from moto.core.responses import BaseResponse

    require_moto_version()
    enrich = BaseResponse._enrich_response
    installed: frozenset[str] = getattr(enrich, MARK, frozenset())
    if "request-id-scan" in installed:
        return

    def enrich_response(headers: dict[str, str], body: Any) -> tuple[dict[str, str], Any]:
        if isinstance(body, str) and "<RequestId>" not in body:
            headers, _ = enrich(headers, "")  # the status and request-id headers, as for any answer
            return headers, body
        return enrich(headers, body)

    setattr(enrich_response, MARK, installed | {"request-id-scan"})
    BaseResponse._enrich_response = staticmethod(enrich_response)  # type: ignore[method-assign]


def memoize_backend_lookup(dispatcher: Any) -> None:
    """moto resolves the service of every request by listing its own package directory; the answer per host
    never changes, and the lookup runs under the dispatcher's one lock."""

    def memoized(lookup: Callable[[str | None], Any]) -> Callable[[str | None], Any]:
        known: dict[str | None, Any] = {}

        def get_backend_for_host(host: str | None) -> Any:
            if host not in known:
                known[host] = lookup(host)
            return known[host]

        return get_backend_for_host

    replace(dispatcher, "get_backend_for_host", "memoized", memoized)


def action_names_once_per_class() -> None:
    """moto lists a response class's methods with ``inspect.getmembers`` on every request, to see whether the
    action is one of them (~2% of the emulator's time at ingest). A class's methods do not change while it
    serves, so each class is listed once."""
    import moto.core.responses as responses

    def per_class(listed: Callable[[object], list[str]]) -> Callable[[object], list[str]]:
        known: dict[object, list[str]] = {}

        def method_names_from_class(clazz: object) -> list[str]:
            names = known.get(clazz)
            if names is None:
                names = known[clazz] = listed(clazz)
            return list(names)  # a copy: callers get a list of their own, as before

        return method_names_from_class

    replace(responses, "method_names_from_class", "per-class", per_class)


def no_debug_form_wrapper() -> None:
    """moto's Flask apps run in debug mode, where reading any request body that is not a multipart form swaps
    in a new, dynamically made subclass of the (empty) ``files`` dict, only to word a ``KeyError`` on it
    differently: a class built per request (~1.5% of the emulator's time). moto reads ``files`` only from
    multipart forms, which never got the wrapper, so the wrapper is left out; nothing else of debug mode changes."""
    from moto.moto_server.werkzeug_app import BackendRequest
    from werkzeug.wrappers import Request as WerkzeugRequest

    def plain(_: Callable[[Any], None]) -> Callable[[Any], None]:
        def _load_form_data(self: Any) -> None:
            WerkzeugRequest._load_form_data(self)

        return _load_form_data

    replace(BackendRequest, "_load_form_data", "no-debug-files", plain)
