"""Which requests moto answers as S3: what the guard's refusal of anonymous requests applies to.

The emulator serves every service on one port. A request without credentials may still be meant for
another service (Cognito's sign-in calls and its key set, moto's own API), so the service is inferred
exactly as moto's dispatcher infers it; a request it cannot place goes to S3, as moto sends it there.
"""

from __future__ import annotations

from collections.abc import Callable

from moto.moto_server.werkzeug_app import DomainDispatcherApplication

from infra.local.presign.environ import WSGIEnviron

_NOT_SERVICES = ("/moto-api", "/favicon.ico", "/latest/meta-data/", "/latest/api/")  # moto's own routes


def s3_requests_of(dispatcher: DomainDispatcherApplication) -> Callable[[WSGIEnviron], bool]:
    """A predicate: True for the requests ``dispatcher`` would hand to its S3 backend."""

    def is_s3(environ: WSGIEnviron) -> bool:
        path = environ.get("PATH_INFO", "")
        if path.startswith(_NOT_SERVICES):
            return False
        host = dispatcher.infer_service_region_host(environ, path)
        return host is None or host.startswith("s3.")

    return is_s3
