"""Streaming a 10,000-file slice into PyTorch on the local platform, against the limits that bound it.

Starts ``python -m infra.local`` (what ``make up`` runs) on free ports, seeds 10,000 synthetic 256×256
JPEGs with boxes through the service's code into its emulator, then, on the same data and in one run:

(a) the SDK: ``to_pytorch(streaming=True)`` into ``DataLoader(num_workers=2)``, bytes-only and decoded;
(b) the limit: raw parallel GETs of the same presigned URLs into ``DataLoader(num_workers=2)``, each worker
    with as many in flight as the SDK's (no pages, no sample building: bytes in, bytes out);
(c) one request per sample, as Diffgram's SDK does (a map-style dataset whose ``__getitem__`` calls the
    file API, then GETs its URL) into the same ``DataLoader(num_workers=2)``;
plus time to first batch, and the query count + first page latency on the 10,000-file dataset.
Two stricter references are printed beside them: the raw GETs from threads of one process with no
``DataLoader`` at all (what the server can give), and (c) fully sequential in one process.

The emulator is one Python process serving the API, DynamoDB and S3, so (a) and (b) there measure it
as much as the client. (a) and (b) are run again with the media URLs re-hosted on a fast static server
(``static_server``; pages still come from the API): that measures the client. (c) is run there too: its
per-sample API call still goes to the API, only its GET is served fast.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
import urllib3
from annolake.slices import Slice
from torch.utils.data import DataLoader, Dataset, IterableDataset, get_worker_info

from tests.e2e.conftest import free_port, start_platform

COUNT = int(os.environ.get("ANNOLAKE_BENCH_STREAM_FILES", "10000"))
WORKERS, CONCURRENCY, BATCH = 2, 16, 32
SEQUENTIAL_SAMPLES = 300
ONE_BY_ONE_SAMPLES = 1000


def _configure_service_for(platform) -> None:
    """Point this process's service code at the running platform's emulator, table and media bucket."""
    creds = platform.credentials
    session = boto3.Session(
        aws_access_key_id=creds["aws_access_key_id"],
        aws_secret_access_key=creds["aws_secret_access_key"],
        region_name=creds["aws_region"],
    )
    endpoint = creds["aws_endpoint_url"]
    tables = session.client("dynamodb", endpoint_url=endpoint).list_tables()["TableNames"]
    buckets = [b["Name"] for b in session.client("s3", endpoint_url=endpoint).list_buckets()["Buckets"]]
    os.environ.update(
        TABLE_NAME=next(t for t in tables if "idempotency" not in t.lower()),
        MEDIA_BUCKET=next(b for b in buckets if "media" in b.lower()),
        AWS_ENDPOINT_URL=endpoint,
        AWS_ACCESS_KEY_ID=creds["aws_access_key_id"],
        AWS_SECRET_ACCESS_KEY=creds["aws_secret_access_key"],
        AWS_REGION=creds["aws_region"],
        AWS_DEFAULT_REGION=creds["aws_region"],
    )


class RehostedPages:
    """Stream pages whose media URLs point at another host (the static server); mixed into a slice or snapshot
    class ahead of it (picklable, as the SDK's are)."""

    media_host: str

    def page(self, offset: int, limit: int, **options: Any) -> dict:
        page = super().page(offset, limit, **options)  # type: ignore[misc]
        for item in page["items"]:
            item["media_url"] = _rehost(item["media_url"], self.media_host)
        return page


class RehostedSlice(RehostedPages, Slice):
    """A slice whose pages point their media URLs at another host."""

    def __init__(self, slice_: Slice, media_host: str) -> None:
        super().__init__(slice_.project, slice_.dataset, slice_.query, slice_id=slice_.slice_id)
        self.media_host = media_host


def _rehost(url: str, host: str) -> str:
    _, _, rest = url.partition("://")[2].partition("/")
    return f"{host}/{rest}"


def _serve_static(urls: list[str], bodies: list[bytes], root: Path) -> tuple[subprocess.Popen, str]:
    for url, body in zip(urls, bodies, strict=True):
        path = root / _rehost(url, "").lstrip("/").split("?", 1)[0]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "tests.bench.static_server", str(root), str(port)])  # noqa: S603
    http = urllib3.PoolManager(retries=urllib3.Retry(connect=50, backoff_factor=0.1))
    http.request("GET", f"http://127.0.0.1:{port}/")
    return server, f"http://127.0.0.1:{port}"


def _loader_rate(sliced, *, decode: bool) -> tuple[float, float, int]:
    """(samples/s, seconds to the first batch, samples) through a DataLoader with 2 workers."""
    from annolake.torch_data import SliceLoader

    dataset = sliced.to_pytorch(streaming=True, decode=decode, concurrency=CONCURRENCY, seed=1)
    started = time.perf_counter()
    first_batch, samples = None, 0
    for batch in SliceLoader(dataset, batch_size=BATCH, num_workers=WORKERS):
        samples += len(batch["index"])
        first_batch = first_batch or time.perf_counter() - started
    return samples / (time.perf_counter() - started), first_batch or 0.0, samples


class RawGets(IterableDataset):
    """(b): each DataLoader worker GETs its share of the URLs, ``CONCURRENCY`` at once, and yields the bytes."""

    def __init__(self, urls: list[str]) -> None:
        self.urls = urls

    def __iter__(self):  # noqa: ANN204
        worker = get_worker_info()
        share = self.urls[worker.id :: worker.num_workers] if worker else self.urls
        http = urllib3.PoolManager(maxsize=CONCURRENCY, block=True)
        with ThreadPoolExecutor(CONCURRENCY) as pool:
            yield from pool.map(lambda url: http.request("GET", url).data, share)


def _media_url(project, file_id: str, media_host: str | None) -> str:  # noqa: ANN001
    """(c)'s per-sample API call: the file, with its presigned media URL (re-hosted when ``media_host`` is set)."""
    url = project.client.get(f"{project._path}/files/{file_id}")["media_url"]
    return _rehost(url, media_host) if media_host else url


class OneRequestPerSample(Dataset):
    """(c): Diffgram's SDK pattern — each sample is a file API call for its URL, then the GET."""

    def __init__(self, project, file_ids: list[str], media_host: str | None = None) -> None:  # noqa: ANN001
        self.project, self.file_ids, self.media_host, self._http = project, file_ids, media_host, None

    def __len__(self) -> int:
        return len(self.file_ids)

    def __getitem__(self, index: int) -> bytes:
        self._http = self._http or urllib3.PoolManager()
        return self._http.request("GET", _media_url(self.project, self.file_ids[index], self.media_host)).data


def _dataloader_rate(dataset: Dataset | IterableDataset) -> float:
    started, samples = time.perf_counter(), 0
    for batch in DataLoader(dataset, batch_size=BATCH, num_workers=WORKERS, collate_fn=list):
        assert all(batch)
        samples += len(batch)
    return samples / (time.perf_counter() - started)


def _raw_rate(urls: list[str]) -> tuple[float, list[bytes]]:
    http = urllib3.PoolManager(maxsize=WORKERS * CONCURRENCY, block=True)
    started = time.perf_counter()
    with ThreadPoolExecutor(WORKERS * CONCURRENCY) as pool:
        bodies = list(pool.map(lambda url: http.request("GET", url).data, urls))
    assert all(bodies)
    return len(urls) / (time.perf_counter() - started), bodies


def _sequential_rate(project, file_ids: list[str], media_host: str | None = None) -> float:
    """One API request per sample for its URL, then the media: no batching, no prefetch."""
    http = urllib3.PoolManager()
    started = time.perf_counter()
    for file_id in file_ids:
        assert http.request("GET", _media_url(project, file_id, media_host)).status == 200
    return len(file_ids) / (time.perf_counter() - started)


def run() -> list[tuple[str, str, str]]:
    from annolake import Project

    from tests.support import slice_data

    rows: list[tuple[str, str, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        platform = start_platform(Path(tmp) / "home", free_port(), free_port(), snapshot_seconds=24 * 3600)
        try:
            _configure_service_for(platform)
            started = time.perf_counter()
            slice_data.seed_dataset("demo", "stream-bench", COUNT, size=(256, 256))
            rows.append(
                (f"seed {COUNT} 256x256 JPEGs with boxes (bench setup)", f"{time.perf_counter() - started:.0f} s", "")
            )
            creds = platform.credentials
            project = Project("demo", creds["client_id"], creds["client_secret"], platform.api_url)
            dataset = project.directory.get("stream-bench")
            query = "labels.car >= 0"  # the whole dataset, through the query path
            latencies = []
            for _ in range(5):
                t0 = time.perf_counter()
                answer = dataset.query("labels.car > 3 and labels.pedestrian >= 1", limit=20)
                latencies.append(time.perf_counter() - t0)
            rows.append(
                (
                    f"query count + first page, {COUNT} files ({answer['count']} match)",
                    f"{statistics.median(latencies) * 1000:.0f} ms",
                    "median of 5",
                )
            )
            t0 = time.perf_counter()
            sliced = Slice(project, "stream-bench", query).freeze()
            rows.append((f"freeze a slice of {len(sliced)} files", f"{(time.perf_counter() - t0) * 1000:.0f} ms", ""))
            items = [item for offset in range(0, len(sliced), 500) for item in sliced.page(offset, 500)["items"]]
            urls = [item["media_url"] for item in items]
            threads_raw, bodies = _raw_rate(urls)
            raw = _dataloader_rate(RawGets(urls))
            bytes_rate, bytes_first, n = _loader_rate(sliced, decode=False)
            decoded_rate, decoded_first, _ = _loader_rate(sliced, decode=True)
            one_by_one_ids = [item["file"]["id"] for item in items[:ONE_BY_ONE_SAMPLES]]
            one_by_one = _dataloader_rate(OneRequestPerSample(project, one_by_one_ids))
            sequential = _sequential_rate(project, one_by_one_ids[:SEQUENTIAL_SAMPLES])
            server, static_host = _serve_static(urls, bodies, Path(tmp) / "static")
            try:
                static_urls = [_rehost(url, static_host) for url in urls]
                static_threads_raw, _ = _raw_rate(static_urls)
                static_raw = _dataloader_rate(RawGets(static_urls))
                static_bytes, _, _ = _loader_rate(RehostedSlice(sliced, static_host), decode=False)
                static_decoded, _, _ = _loader_rate(RehostedSlice(sliced, static_host), decode=True)
                static_one_by_one = _dataloader_rate(OneRequestPerSample(project, one_by_one_ids, static_host))
                static_sequential = _sequential_rate(project, one_by_one_ids[:SEQUENTIAL_SAMPLES], static_host)
            finally:
                server.terminate()
                server.wait(timeout=30)
            in_flight = f"DataLoader(num_workers={WORKERS}), {CONCURRENCY} in flight each"
            rows += [
                ("emulator: (b) raw parallel GET of the presigned URLs", f"{raw:.0f} samples/s", in_flight),
                (
                    "emulator: (a) SDK streaming, bytes only",
                    f"{bytes_rate:.0f} samples/s",
                    f"{bytes_rate / raw:.2f}x (b), goal >= 0.9x; {bytes_rate / threads_raw:.2f}x threads-only GET",
                ),
                (
                    "emulator: (a) SDK streaming, decoded",
                    f"{decoded_rate:.0f} samples/s",
                    f"{decoded_rate / raw:.2f}x (b)",
                ),
                (
                    "emulator: (c) one request per sample (API call + GET)",
                    f"{one_by_one:.0f} samples/s",
                    f"(a) bytes = {bytes_rate / one_by_one:.1f}x (c), goal >= 10x",
                ),
                (
                    "emulator: raw GET from 32 threads, no DataLoader",
                    f"{threads_raw:.0f} samples/s",
                    "the server's ceiling",
                ),
                (
                    "emulator: (c) fully sequential, one process",
                    f"{sequential:.0f} samples/s",
                    f"(a) bytes = {bytes_rate / sequential:.1f}x this",
                ),
                ("static server: (b) raw parallel GET", f"{static_raw:.0f} samples/s", in_flight),
                (
                    "static server: (a) SDK streaming, bytes only",
                    f"{static_bytes:.0f} samples/s",
                    f"{static_bytes / static_raw:.2f}x (b), goal >= 0.9x",
                ),
                (
                    "static server: (a) SDK streaming, decoded",
                    f"{static_decoded:.0f} samples/s",
                    f"{static_decoded / static_raw:.2f}x (b)",
                ),
                (
                    "static server: (c) one request per sample (API call + GET)",
                    f"{static_one_by_one:.0f} samples/s",
                    f"(a) bytes = {static_bytes / static_one_by_one:.1f}x (c), goal >= 10x",
                ),
                (
                    "static server: (c) fully sequential, one process",
                    f"{static_sequential:.0f} samples/s",
                    f"(a) bytes = {static_bytes / static_sequential:.1f}x this",
                ),
                (
                    "static server: raw GET from 32 threads, no DataLoader",
                    f"{static_threads_raw:.0f} samples/s",
                    "",
                ),
                (
                    f"time to first batch of {BATCH}, bytes / decoded",
                    f"{bytes_first:.2f} s / {decoded_first:.2f} s",
                    f"{n} samples per epoch, DataLoader(num_workers={WORKERS})",
                ),
            ]
        finally:
            platform.stop(timeout=600)
    return rows
