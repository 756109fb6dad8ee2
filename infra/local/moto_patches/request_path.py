"""moto's request path: backend and service lookups, request ids in answers."""

from __future__ import annotations

import functools
import string
from collections.abc import Callable, Iterator
from http import HTTPStatus
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


# DynamoDB's item operations: their requests hold no timestamps, and blobs only as ``B``/``BS`` attribute values.
_ITEM_OPERATIONS = frozenset(
    {
        "GetItem",
        "PutItem",
        "UpdateItem",
        "DeleteItem",
        "Query",
        "Scan",
        "BatchGetItem",
        "BatchWriteItem",
        "TransactGetItems",
        "TransactWriteItems",
    }
)


def dynamodb_item_requests_read_as_json() -> None:
    """moto reads every request body through its generic parser, which walks the operation's shapes to turn
    base64 into bytes and ISO text into datetimes: ~120 µs for a claim's ``UpdateItem`` against ~15 µs for
    ``json.loads``. An item operation's body has neither but in a binary attribute value, so one without a
    ``"B"`` or ``"BS"`` key anywhere (an attribute of that name sends it the long way too) is read as JSON:
    the same parameters, as the parser's own output for botocore's requests shows. Anything else, and any body
    that is not a JSON object, goes the parser's way, errors included."""
    import json

    from moto.dynamodb.responses import DynamoHandler

    def as_json(parse: Callable[..., None]) -> Callable[..., None]:
        def parse_parameters(self: Any, request: Any) -> None:
            body = request.data
            if body and b'"B"' not in body and b'"BS"' not in body and self._get_action() in _ITEM_OPERATIONS:
                try:
                    parsed = json.loads(body)
                except ValueError:
                    parsed = None
                if isinstance(parsed, dict):
                    self.params = parsed
                    return
            parse(self, request)

        return parse_parameters

    replace(DynamoHandler, "parse_parameters", "item-json", as_json)


def random_strings_in_one_draw() -> None:
    """moto draws each character of a random string with its own ``choice`` call: the 52-character request id
    of every answer cost about a tenth of a ``GetItem``. One ``choices`` draw of as many characters, from the
    same pool and the same (seedable) generator, makes the same kind of string."""
    from moto.moto_api._internal.moto_random import MotoRandom

    def one_draw(_: Callable[..., str]) -> Callable[..., str]:
        def get_random_string(
            self: Any, length: int = 20, include_digits: bool = True, lower_case: bool = False
        ) -> str:
            pool = string.ascii_letters + (string.digits if include_digits else "")
            drawn = "".join(self.choices(pool, k=length))
            return drawn.lower() if lower_case else drawn

        return get_random_string

    replace(MotoRandom, "get_random_string", "one-draw", one_draw)


def error_shapes_looked_up_once() -> None:
    """moto finds the shape of every error it answers (a missing key, a failed condition) in a table it builds
    from the service's model, and keeps that table in a cache that lives on a factory made anew per error: the
    table was rebuilt for every refusal. One cache serves every factory (a service's model never changes)."""
    from moto.core.errors import ErrorLookupFactory

    shared: dict[str, Any] = {}

    def sharing(_: Callable[..., None]) -> Callable[..., None]:
        def __init__(self: Any) -> None:
            self._error_lut_cache = shared

        return __init__

    replace(ErrorLookupFactory, "__init__", "shared-cache", sharing)


@functools.cache
def listed_headers() -> type:
    """moto's request headers (a view of the WSGI environ, names of user metadata as sent), walked once.

    moto and its S3 views go through a request's headers several times (``dict(request.headers)`` for the
    view, the user metadata, the ACL headers, ...), and each pass walked the whole environ (about 35 keys,
    each renamed from ``HTTP_X_AMZ_...``): some 8% of the emulator's CPU at ingest. The headers a request came
    with do not change while it is answered, so the first pass is kept; lookups by name still go to the environ.
    """
    from moto.core.request import EnvironHeaders

    class ListedHeaders(EnvironHeaders):
        def __iter__(self) -> Iterator[tuple[str, str]]:
            listed = self.__dict__.get("_listed")
            if listed is None:
                listed = self.__dict__["_listed"] = list(super().__iter__())
            return iter(listed)

    return ListedHeaders


DYNAMODB_TARGET = "DynamoDB_20120810."


class DirectDynamoDB:
    """WSGI layer in front of moto's dispatcher: DynamoDB requests go straight to moto's ``DynamoHandler``.

    moto hands every request to a Flask app per service, which builds a request context, routes, wraps the
    answer in a Flask response and runs its CORS hook: about a third of what a ``GetItem`` cost the emulator,
    paid by every DynamoDB call the platform makes. DynamoDB has one route (``POST /`` with the operation in
    ``X-Amz-Target``), so this calls the handler that route calls, with the request type moto's server gives
    it, and answers what moto's Flask view answers: the same status, headers and body. Everything else (other
    services, browsers' CORS requests, which carry an ``Origin``) goes the Flask way.
    """

    def __init__(self, app: Callable[[dict[str, Any], Callable[..., Any]], Any]) -> None:
        from moto.dynamodb.responses import DynamoHandler
        from moto.moto_server.werkzeug_app import BackendRequest

        require_moto_version()
        self.app = app
        self._handler = DynamoHandler
        self._request = BackendRequest  # what moto's server builds for its views (a request of a real server)
        self._headers = listed_headers()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if (
            environ.get("REQUEST_METHOD") != "POST"
            or not environ.get("HTTP_X_AMZ_TARGET", "").startswith(DYNAMODB_TARGET)
            or "HTTP_ORIGIN" in environ
            or environ.get("PATH_INFO", "/") != "/"
        ):
            return self.app(environ, start_response)
        from botocore.exceptions import ClientError

        request = self._request(environ)
        request.headers = self._headers(environ)
        empty = request.parameter_storage_class()
        request.__dict__.update(form=empty, files=empty)  # a JSON body: werkzeug's form parser would find nothing
        if environ.get("QUERY_STRING") or "HTTP_HOST" not in environ:
            url = request.raw_url
        else:  # what ``raw_url`` makes of ``POST /`` (werkzeug's URL building cost a tenth of the request)
            url = f"{environ['wsgi.url_scheme']}://{environ['HTTP_HOST']}/"
        try:
            status, headers, body = self._handler.dispatch(request, url, dict(request.headers))
        except ClientError as exc:  # as moto's view answers it
            status, headers, body = 400, {}, exc.response["Error"]["Message"]
        finally:
            _ended(request, environ)
        payload = body.encode() if isinstance(body, str) else bytes(body or b"")
        answer = [(name, str(value)) for name, value in headers.items() if name.lower() != "content-length"]
        if not any(name.lower() == "content-type" for name, _ in answer):
            answer.append(("Content-Type", "text/html; charset=utf-8"))  # Flask's default
        answer.append(("Content-Length", str(len(payload))))
        start_response(_status_line(int(status)), answer)
        return [payload]


def _ended(request: Any, environ: dict[str, Any]) -> None:
    """What Flask does when a request ends: close the request's streams and break the cycle environ -> request
    -> environ (werkzeug keeps the request in its environ), so the request and the body it read are freed at
    once. Left to the collector, a 5 MB upload's body outlived its request until a full collection, and the
    platform moves what is alive out of the collector's reach every 30 s (``infra/local/heap.py``)."""
    request.close()
    environ["werkzeug.request"] = None


def _status_line(status: int) -> str:
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return f"{status} UNKNOWN"


#: hosts that name the emulator itself: moto reads the bucket from the path for these (``subdomain_based_buckets``)
_PATH_STYLE_HOSTS = frozenset({"127.0.0.1", "localhost"})


class DirectS3:
    """WSGI layer in front of moto's dispatcher: signed path-style S3 requests go straight to moto's
    ``S3Response`` views, without its Flask app (about a seventh of the emulator's CPU at ingest, five S3 calls
    a file: a request context, URL routing and a response hook each).

    A request signed for ``s3`` to the emulator's own host is what the dispatcher hands to moto's S3 app, whose
    routes are fixed by the path: ``/bucket/key…`` to ``key_dispatch``, ``/bucket`` or ``/bucket/`` to
    ``ambiguous_dispatch``. This calls that view as moto's Flask wrapper calls it and answers through the same
    response class, so the status, headers and body are the ones moto's view gives. Everything else (unsigned
    and presigned requests, browsers' CORS requests with an ``Origin``, the service root, S3 Control) goes the
    Flask way.
    """

    def __init__(self, app: Callable[[dict[str, Any], Callable[..., Any]], Any]) -> None:
        from moto.moto_server.werkzeug_app import BackendRequest
        from moto.s3.responses import S3Response

        require_moto_version()
        self.app = app
        self._request = BackendRequest
        self._headers = listed_headers()
        self._key = S3Response.key_dispatch
        self._bucket = S3Response.ambiguous_dispatch

    def _view(self, environ: dict[str, Any]) -> Callable[..., Any] | None:
        auth = environ.get("HTTP_AUTHORIZATION", "")
        if not auth.startswith("AWS4-HMAC-SHA256 ") or "HTTP_ORIGIN" in environ:
            return None
        try:  # as moto's dispatcher reads the service: Credential=<key>/<date>/<region>/<service>/aws4_request
            if auth.split(",")[0].split()[1].split("/")[3] != "s3":
                return None
        except IndexError:
            return None
        if environ.get("HTTP_HOST", "").rsplit(":", 1)[0] not in _PATH_STYLE_HOSTS:
            return None
        path = environ.get("PATH_INFO", "")
        bucket, _, key = path[1:].partition("/")
        if not path.startswith("/") or not bucket or bucket == "v20180820":
            return None
        return self._key if key else self._bucket

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        view = self._view(environ)
        if view is None:
            return self.app(environ, start_response)
        from botocore.exceptions import ClientError
        from flask import Response

        request = self._request(environ)
        request.headers = self._headers(environ)
        try:
            try:
                result = view(request, request.raw_url, dict(request.headers))
            except ClientError as exc:  # as moto's view answers it
                result = 400, {}, exc.response["Error"]["Message"]
            status, headers, content = result if len(result) == 3 else (200, {}, result)
            response = Response(response=content, status=status, headers=headers)
            if request.method == "HEAD" and "content-length" in headers:
                response.headers["Content-Length"] = headers["content-length"]
            return response(environ, start_response)
        finally:
            _ended(request, environ)
