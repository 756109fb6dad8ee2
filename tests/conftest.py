"""Shared fixtures of the integration tests: real moto servers on free ports of 127.0.0.1, in threads."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import make_server

from infra.local.moto_patches import (
    copy_query_results_after_filtering,
    index_base_table_queries,
    two_phase_transactions,
)

REGION = "us-east-1"


@contextlib.contextmanager
def serving(app: Callable[..., Any]) -> Iterator[str]:
    """Serve a WSGI app on a free port of 127.0.0.1 in a daemon thread; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name=f"wsgi-{server.server_port}", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def moto_wsgi_app() -> DomainDispatcherApplication:
    """moto with the local emulator's DynamoDB queries and transactions (``make up`` runs the same engine)."""
    index_base_table_queries()
    copy_query_results_after_filtering()
    two_phase_transactions()
    return DomainDispatcherApplication(create_backend_app)


@pytest.fixture(scope="session")
def serve_wsgi() -> Callable[[Callable[..., Any]], contextlib.AbstractContextManager[str]]:
    """``with serve_wsgi(app) as base_url:``: a WSGI app (a wrapped moto, say) on a free local port."""
    return serving


@pytest.fixture(scope="session")
def new_moto_app() -> Callable[[], DomainDispatcherApplication]:
    """Makes moto's WSGI app (all services; the backends are this process's, shared by every instance)."""
    return moto_wsgi_app


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """A plain moto server (all services on one port), shared by the session."""
    with serving(moto_wsgi_app()) as endpoint:
        yield endpoint


@pytest.fixture(scope="session")
def aws_session() -> boto3.Session:
    """A boto3 session with fixed fake credentials, independent of the developer's AWS configuration."""
    return boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION)
