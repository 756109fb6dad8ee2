"""The benchmarks' in-process world: the service's own code on moto in this process, patched as ``make up``
patches it, with a table and a media bucket of its own, and the environment put back afterwards. Or, where
what this process holds is the figure (memory), the same moto in a process of its own, called over HTTP.

For benchmarks only: each runs in its own process. The suite's tests use the session stack's fixtures instead.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

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


_EMULATOR = """
import logging

from infra.local import moto_patches
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import make_server

moto_patches.install()
logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request
server = make_server("127.0.0.1", 0, DomainDispatcherApplication(create_backend_app), threaded=True)
print(server.server_port, flush=True)
server.serve_forever()
"""


@contextmanager
def bench_world_apart(extra_env: Mapping[str, str] | None = None, also_restore: Iterable[str] = ()) -> Iterator[None]:
    """``bench_world`` with moto in a process of its own, reached at its endpoint URL: this process then holds
    what a Lambda function would (the emulator's copies of every request and object are the other's)."""
    import boto3

    from tests.support.auth import create_single_table, reset_service_caches

    repo = Path(__file__).resolve().parents[2]
    emulator = subprocess.Popen(  # noqa: S603
        [sys.executable, "-c", _EMULATOR], cwd=repo, stdout=subprocess.PIPE, text=True
    )
    try:
        assert emulator.stdout is not None
        endpoint = f"http://127.0.0.1:{emulator.stdout.readline().strip()}"
        variables = {**BENCH_ENV, **(extra_env or {}), "AWS_ENDPOINT_URL": endpoint}
        with restored_env([*variables, *also_restore]):
            os.environ.update(variables)
            reset_service_caches()
            create_single_table(boto3.client("dynamodb", region_name=BENCH_REGION), BENCH_TABLE)
            boto3.client("s3", region_name=BENCH_REGION).create_bucket(Bucket=BENCH_BUCKET)
            yield
    finally:
        emulator.terminate()
        emulator.wait(timeout=30)
        reset_service_caches()
