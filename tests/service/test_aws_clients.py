"""The service's AWS clients, one per service for the process."""

from __future__ import annotations

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
