"""Downloading an object to a local file (the query index's cache, video ingest) over the session's moto."""

from __future__ import annotations

import os
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest

from tests.support.auth import point_service_at, reset_service_caches


def test_downloads_of_one_object_to_one_path_at_once_each_leave_a_whole_copy(moto_endpoint, tmp_path):
    """API workers share the index cache directory and the explorer asks for a dataset's count, page and chart at
    once: each download renames a whole copy of its own (one renamed another's partial file away: a 500)."""
    from annolake_service.adapters import storage

    bucket, body = f"downloads-{uuid.uuid4().hex[:8]}", os.urandom(3 << 20)
    s3 = boto3.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1").client(
        "s3", endpoint_url=moto_endpoint
    )
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="index/base.parquet", Body=body)
    target = tmp_path / "base.parquet"
    together = threading.Barrier(8)

    def download() -> None:
        together.wait()
        storage.download_file(bucket, "index/base.parquet", target)

    with pytest.MonkeyPatch.context() as env:
        point_service_at(env, moto_endpoint, {"MEDIA_BUCKET": bucket})
        reset_service_caches()
        try:
            with ThreadPoolExecutor(8) as pool:
                for done in [pool.submit(download) for _ in range(8)]:
                    done.result()
        finally:
            reset_service_caches()
    assert target.read_bytes() == body
    assert list(tmp_path.iterdir()) == [target]  # no partial file left behind


def test_reading_many_objects_resolves_the_endpoint_once(moto_endpoint):
    """botocore's endpoint cache is keyed by the ruleset's parameters, S3's ``Key`` among them though no rule
    reads it: the service's S3 client leaves it out, so reading a chunk's images does not evaluate the whole
    ruleset once per image, and still reaches the same objects."""
    from annolake_service.adapters import aws_clients, storage

    bucket = f"endpoints-{uuid.uuid4().hex[:8]}"
    s3 = boto3.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1").client(
        "s3", endpoint_url=moto_endpoint
    )
    s3.create_bucket(Bucket=bucket)
    for n in range(5):
        s3.put_object(Bucket=bucket, Key=f"media/{n}.png", Body=f"image {n}".encode())
    with pytest.MonkeyPatch.context() as env:
        point_service_at(env, moto_endpoint, {"MEDIA_BUCKET": bucket})
        reset_service_caches()
        try:
            ruleset = aws_clients.client("s3")._ruleset_resolver._provider.ruleset
            evaluations = []
            evaluate = ruleset.evaluate

            def counted(parameters):
                evaluations.append(parameters)
                return evaluate(parameters)

            env.setattr(ruleset, "evaluate", counted)
            bodies = [storage.read_object(bucket, f"media/{n}.png", max_bytes=100).body for n in range(5)]
        finally:
            reset_service_caches()
    assert bodies == [f"image {n}".encode() for n in range(5)]
    assert len(evaluations) == 1


def test_the_service_clients_send_a_fixed_user_agent_and_read_timestamps_without_dateutil(moto_endpoint):
    """Per request, botocore rebuilt its User-Agent from some 30 components and read S3's ``Last-Modified`` with
    ``dateutil``: about a tenth of a small GetObject's client CPU each, paid per image by the model function. The
    service's clients send one fixed header and read the same instants."""
    import botocore.parsers
    import dateutil.parser
    from annolake_service.adapters import aws_clients

    bucket = f"agents-{uuid.uuid4().hex[:8]}"
    s3 = boto3.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1").client(
        "s3", endpoint_url=moto_endpoint
    )
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="media/a.png", Body=b"image")
    expected = s3.get_object(Bucket=bucket, Key="media/a.png")["LastModified"]
    agents: list[str] = []
    parsed: list[str] = []
    with pytest.MonkeyPatch.context() as env:
        point_service_at(env, moto_endpoint, {"MEDIA_BUCKET": bucket})
        reset_service_caches()
        parse = dateutil.parser.parse
        env.setattr(dateutil.parser, "parse", lambda value, *a, **k: parsed.append(value) or parse(value, *a, **k))
        try:
            made = aws_clients.client("s3")
            made.meta.events.register(
                "before-send.s3", lambda request, **_: agents.append(request.headers["User-Agent"])
            )
            got = made.get_object(Bucket=bucket, Key="media/a.png")["LastModified"]
        finally:
            reset_service_caches()
    assert got == expected
    assert parsed == []
    # Powertools, once imported in the process, appends its own mark to every client's header
    assert [(a.decode() if isinstance(a, bytes) else a).startswith(aws_clients._USER_AGENT) for a in agents] == [True]
    for value in ("Sat, 05 Dec 2026 00:32:59 GMT", "2026-01-31T12:00:00.123Z", "2026-01-31T12:00:00+02:00", 17e8):
        assert aws_clients.parse_timestamp(value) == botocore.parsers.DEFAULT_TIMESTAMP_PARSER(value)
