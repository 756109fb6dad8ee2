"""Shared fixtures of the integration tests: real moto servers on free ports of 127.0.0.1, in threads, and the
synthesized template provisioned on the session's moto (``local_stack``), as ``make up`` provisions it."""

from __future__ import annotations

import contextlib
import threading
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import make_server

from infra import nodejs
from infra.local import stream_sources
from infra.local.moto_patches import (
    compact_table_items,
    copy_query_results_after_filtering,
    copy_update_expressions_by_pickling,
    find_clauses_by_class,
    index_base_table_queries,
    measure_new_items_once,
    serialize_dynamodb_operations,
    two_phase_transactions,
    walk_update_expressions_by_class,
)
from infra.local.provisioner import Deployment, Provisioner

REGION = "us-east-1"
# The tests' subprocesses (npm scripts, the CloudFront function, the platform) run the virtualenv's Node.js.
nodejs.put_first_on_path()


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
    """moto with the local emulator's DynamoDB item store, queries and transactions (``make up`` runs the same
    engine)."""
    two_phase_transactions()  # first: it replaces the method the next two wrap
    compact_table_items()
    measure_new_items_once()
    serialize_dynamodb_operations()
    index_base_table_queries()
    copy_query_results_after_filtering()
    copy_update_expressions_by_pickling()
    walk_update_expressions_by_class()
    find_clauses_by_class()
    stream_sources.install()  # a write never waits for the functions mapped to the table's stream
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


@dataclass
class LocalStack:
    """The local stage's templates provisioned on the session's moto by ``make up``'s provisioner: what the
    handlers would see (``environment``: TABLE_NAME, MEDIA_BUCKET, USER_POOL_ID, ...) and every resource."""

    endpoint: str
    session: boto3.Session
    deployment: Deployment | None = None

    def provision(self) -> None:
        """Create every resource of the synthesized templates (again, after a reset of moto)."""
        from tests.support.auth import local_assembly

        self.deployment = Provisioner(self.session, self.endpoint).deploy(local_assembly())

    @property
    def environment(self) -> dict[str, str]:
        assert self.deployment is not None
        return self.deployment.merged_environment()

    @property
    def table_name(self) -> str:
        return self.environment["TABLE_NAME"]

    @property
    def user_pool_id(self) -> str:
        return self.environment["USER_POOL_ID"]

    @property
    def web_client_id(self) -> str:
        """The web UI's app client (no secret; password and SRP sign-in)."""
        return self.environment["USER_POOL_CLIENT_ID"]


_LOCAL_STACK = pytest.StashKey[LocalStack]()


@pytest.fixture(scope="session")
def local_stack(request: pytest.FixtureRequest, moto_endpoint: str, aws_session: boto3.Session) -> LocalStack:
    """The synthesized templates (synthesized once per source hash) provisioned once per session."""
    stack = LocalStack(moto_endpoint, aws_session)
    stack.provision()
    request.session.stash[_LOCAL_STACK] = stack
    return stack


@pytest.fixture
def reset_moto(request: pytest.FixtureRequest, moto_endpoint: str) -> Iterator[Callable[[], None]]:
    """``reset_moto()`` empties the session's moto (every service, every account). Afterwards the session's
    ``local_stack``, if provisioned, is provisioned again (same table and bucket names, new user pool ids)."""
    resets = []

    def reset() -> None:
        call = urllib.request.Request(f"{moto_endpoint}/moto-api/reset", method="POST", data=b"")
        with urllib.request.urlopen(call, timeout=10) as response:
            assert response.status == 200
        resets.append(True)

    yield reset
    stack = request.session.stash.get(_LOCAL_STACK, None)
    if resets and stack is not None:
        reset()
        stack.provision()


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Under pytest-xdist's ``--dist loadgroup``: the browser and platform tests share one running platform, so
    they run on one worker, in order; every other file runs whole on one worker (its module fixtures made once)."""
    for item in items:
        group = "e2e" if item.path.parent.name == "e2e" else str(item.path)
        item.add_marker(pytest.mark.xdist_group(group))
