"""The service's AWS clients, one per service for the process."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

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


def _first_calls_at_once(call, threads: int = 8) -> list:
    barrier = threading.Barrier(threads)

    def first() -> object:
        barrier.wait()
        return call()

    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(lambda _: first(), range(threads)))


def test_threads_asking_at_once_for_a_client_not_made_yet_share_one(monkeypatch):
    """Twenty request threads each making their own client (10-150 ms of CPU each) stalled an API process's first
    requests for seconds."""
    from annolake_service.adapters import aws_clients

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    reset_service_caches()
    try:
        made = _first_calls_at_once(lambda: aws_clients.client("stepfunctions"))
        assert len({id(one) for one in made}) == 1
        assert aws_clients.client("stepfunctions") is made[0]
    finally:
        reset_service_caches()


def test_the_table_is_bound_once_for_threads_binding_at_once(monkeypatch):
    import botocore.session
    from annolake_service.adapters.dynamo import items, table

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    reset_service_caches()
    made, real = [], botocore.session.Session.create_client

    def counted(session, service, *args, **kwargs):  # noqa: ANN001, ANN202
        made.append(service)
        return real(session, service, *args, **kwargs)

    monkeypatch.setattr(botocore.session.Session, "create_client", counted)
    try:
        _first_calls_at_once(table.bind)
        assert made == ["dynamodb"]
        clients = {id(model._get_connection().connection._client) for model in items.MODELS}
        assert len(clients) == 1
    finally:
        reset_service_caches()


def test_the_api_makes_its_clients_as_its_process_starts(monkeypatch):
    """Not inside its first requests, which (with every request queued behind them) waited on them."""
    from annolake_service.adapters import aws_clients
    from annolake_service.services.health import API_SERVICES, connect_api

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    reset_service_caches()
    try:
        made, real = [], aws_clients.session().create_client

        def counted(service, **kwargs):  # noqa: ANN001, ANN202
            made.append(service)
            return real(service, **kwargs)

        monkeypatch.setattr(aws_clients.session(), "create_client", counted)
        connect_api()
        assert sorted(made) == sorted(API_SERVICES)
        for service in API_SERVICES:
            aws_clients.client(service)
        assert sorted(made) == sorted(API_SERVICES)  # the requests made none
    finally:
        reset_service_caches()
