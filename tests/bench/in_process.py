"""The benchmarks' in-process world: the service's own code on moto in this process, patched as ``make up``
patches it, with a table and a media bucket of its own, and the environment put back afterwards.

For benchmarks only: each runs in its own process. The suite's tests use the session stack's fixtures instead.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager

BENCH_TABLE = "bench-table"
BENCH_BUCKET = "bench-media"
BENCH_REGION = "us-east-1"
BENCH_ENV = {
    "TABLE_NAME": BENCH_TABLE,
    "MEDIA_BUCKET": BENCH_BUCKET,
    "AWS_ACCESS_KEY_ID": "test",
    "AWS_SECRET_ACCESS_KEY": "test",
    "AWS_DEFAULT_REGION": BENCH_REGION,
    "AWS_REGION": BENCH_REGION,
}


@contextmanager
def restored_env(names: Iterable[str]) -> Iterator[None]:
    """The environment variables ``names`` as they were before the block, whatever it set or removed."""
    saved = {name: os.environ.get(name) for name in names}
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextmanager
def bench_world(extra_env: Mapping[str, str] | None = None, also_restore: Iterable[str] = ()) -> Iterator[None]:
    """moto in this process (with the emulator's patches), ``BENCH_ENV`` plus ``extra_env`` set, no endpoint URL
    (calls go to the in-process mock), the bench table and bucket created and the service's caches fresh.
    Afterwards the environment, with the variables in ``also_restore`` that the block itself sets, is as it
    was, and the caches are dropped again (their clients were bound to the mock)."""
    import boto3
    from moto import mock_aws

    from infra.local import moto_patches
    from tests.support.auth import create_single_table, reset_service_caches

    moto_patches.install()  # moto as the emulator runs it (`make up`)
    variables = {**BENCH_ENV, **(extra_env or {})}
    try:
        with restored_env([*variables, "AWS_ENDPOINT_URL", *also_restore]):
            os.environ.update(variables)
            os.environ.pop("AWS_ENDPOINT_URL", None)
            with mock_aws():
                reset_service_caches()
                create_single_table(boto3.client("dynamodb", region_name=BENCH_REGION), BENCH_TABLE)
                boto3.client("s3", region_name=BENCH_REGION).create_bucket(Bucket=BENCH_BUCKET)
                yield
    finally:
        reset_service_caches()
