"""The service's AWS clients, one per service for the process."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.support.auth import reset_service_caches


def test_a_client_made_before_credentials_exist_is_not_kept(monkeypatch):
    """A background thread that made a client while a test's environment was being torn down kept it, and
    every later call of that service failed with ``NoCredentialsError``."""
    from annolake_service.adapters import aws_clients

    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/config")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    reset_service_caches()
    try:
        without = aws_clients.client("s3")
        assert without._get_credentials() is None
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
        kept = aws_clients.client("s3")
        assert kept is not without
        assert kept._get_credentials().access_key == "test"
        assert aws_clients.client("s3") is kept  # once made with credentials, kept
    finally:
        reset_service_caches()


@pytest.fixture
def with_credentials(monkeypatch) -> Iterator[None]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    reset_service_caches()
    yield
    reset_service_caches()


@pytest.fixture
def clients_made(monkeypatch, with_credentials) -> list[str]:
    """The service of each botocore client made from here on, in order."""
    import botocore.session

    made, real = [], botocore.session.Session.create_client

    def counted(session, service, *args, **kwargs):  # noqa: ANN001, ANN202
        made.append(service)
        return real(session, service, *args, **kwargs)

    monkeypatch.setattr(botocore.session.Session, "create_client", counted)
    return made


def _first_calls_at_once(call, threads: int = 8) -> list:
    barrier = threading.Barrier(threads)

    def first() -> object:
        barrier.wait()
        return call()

    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(lambda _: first(), range(threads)))


def test_threads_asking_at_once_for_a_client_not_made_yet_share_one(clients_made):
    """Twenty request threads each making their own client (10-150 ms of CPU each) stalled an API process's first
    requests for seconds."""
    from annolake_service.adapters import aws_clients

    made = _first_calls_at_once(lambda: aws_clients.client("stepfunctions"))
    assert len({id(one) for one in made}) == 1
    assert aws_clients.client("stepfunctions") is made[0]
    assert clients_made == ["stepfunctions"]


def test_the_table_is_bound_once_for_threads_binding_at_once(clients_made):
    from annolake_service.adapters.dynamo import items, table

    _first_calls_at_once(table.bind)
    assert clients_made == ["dynamodb"]
    assert len({id(model._get_connection().connection._client) for model in items.MODELS}) == 1


def test_the_api_makes_its_clients_as_its_process_starts(clients_made):
    """Not inside its first requests, which (with every request queued behind them) waited on them."""
    from annolake_service.adapters import aws_clients
    from annolake_service.adapters.dynamo import table
    from annolake_service.services.health import API_SERVICES, connect_api

    connect_api()
    assert sorted(clients_made) == sorted(["dynamodb", *API_SERVICES])
    table.bind()
    for service in API_SERVICES:
        aws_clients.client(service)
    assert sorted(clients_made) == sorted(["dynamodb", *API_SERVICES])  # the requests made none


def test_a_clear_while_a_bind_is_under_way_binds_again_to_the_settings_of_then(monkeypatch, with_credentials):
    """A handler left running by an earlier test bound the table to that test's settings while the next test
    cleared them: the bind under way finished after the clear, and the next test's writes went to a table named ''."""
    import botocore.session
    from annolake_service.adapters.dynamo import items, table
    from annolake_service.shared.settings import get_settings

    monkeypatch.setenv("TABLE_NAME", "before")
    reset_service_caches()
    inside, release = threading.Event(), threading.Event()
    real = botocore.session.Session.create_client

    def held(session, service, *args, **kwargs):  # noqa: ANN001, ANN202 - the first bind waits in its client
        if not inside.is_set():
            inside.set()
            release.wait(10)
        return real(session, service, *args, **kwargs)

    monkeypatch.setattr(botocore.session.Session, "create_client", held)
    earlier = threading.Thread(target=table.bind)
    earlier.start()
    assert inside.wait(10)
    monkeypatch.setenv("TABLE_NAME", "after")
    get_settings.cache_clear()
    table.bind.cache_clear()
    threading.Timer(0.2, release.set).start()
    table.bind()
    earlier.join(10)
    assert {model.Meta.table_name for model in items.MODELS} == {"after"}
