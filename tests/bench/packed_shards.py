"""Packed shards against per-object streaming and webdataset, on the local platform, same data, same emulator S3.

Starts ``python -m infra.local`` (what ``make up`` runs), stores ``ANNOLAKE_BENCH_PACKED_FILES`` (2,000) noise
JPEGs of 30–100 KB with boxes through the service's code, takes a snapshot and packs it (``snap.pack``: the
export state machine on the emulator's Step Functions, timed). Then, each into ``DataLoader(num_workers=2)``,
batches of 32, bytes only (no decoding, so the figures are of reading, not of JPEG decoding on 2 cores):

(a) per object: ``snap.to_pytorch(streaming=True)``: pages of presigned URLs, one GET per sample;
(b) packed: ``snap.to_pytorch(packed=True)``: one GET per shard, samples cut out by the index;
(c) webdataset: ``webdataset.WebDataset`` over the same shards' presigned URLs (``pipe:curl``), split by worker:
    the shards are plain webdataset tars, so it reads them as they are;
(d) the limit: each worker GETs its share of the shards whole and counts their samples (no parsing).

Each figure is the best of 3 epochs (the machine is shared). Every loader hands batches as lists
(``collate_fn=list``: the samples as the reader made them, the SDK's dicts with parsed annotations, webdataset's
(jpg bytes, parsed json) tuples), so the figures compare reading; then (b) with the SDK's ``detection_collate``
(tensors), and (a) and (b) decoded, for scale. Nothing asserts; the numbers go in docs/snapshots.md.
"""

from __future__ import annotations

import io
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import urllib3
from PIL import Image
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from tests.bench.streaming import _configure_service_for
from tests.e2e.conftest import free_port, start_platform

COUNT = int(os.environ.get("ANNOLAKE_BENCH_PACKED_FILES", "2000"))
SHARD_BYTES = 16 << 20
WORKERS, BATCH = 2, 32
EPOCHS = 3  # each loader's best epoch is reported: a shared machine's load only ever slows a run down


def noise_jpeg(i: int) -> bytes:
    """Noise of a size drawn per ``i`` (30–100 KB as JPEG): it does not compress, like a photo's detail."""
    rng = np.random.default_rng(i)
    width, height = int(rng.integers(220, 420)), int(rng.integers(165, 290))
    buffer = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, size=(height, width, 3), dtype=np.uint8)).save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


def _seed(project_id: str, dataset_name: str, count: int) -> int:
    """Store and record ``count`` noise JPEGs with boxes; their total bytes."""
    from concurrent.futures import ThreadPoolExecutor

    from annolake_service.services import ingest, projects, schema

    from tests.support.slice_data import LABELS, boxes

    schema.add_labels(project_id, list(LABELS))
    dataset = projects.ensure_dataset(project_id, dataset_name)
    total = 0
    with ThreadPoolExecutor(8) as pool:
        for start in range(0, count, 500):
            indices = range(start, min(count, start + 500))
            bodies = [noise_jpeg(i) for i in indices]
            total += sum(len(b) for b in bodies)
            facts = list(pool.map(lambda body: ingest.store_media(project_id, body), bodies))
            ingest.record_new_files(
                project_id,
                dataset.dataset_id,
                [
                    {"name": f"noise_{i:06d}.jpg", "facts": f, "instance_list": boxes(i, 200, 150), "metadata": {}}
                    for i, f in zip(indices, facts, strict=True)
                ],
                author="seed",
            )
    return total


def _rate(loader, epochs: int = EPOCHS) -> tuple[float, int]:  # noqa: ANN001
    """(samples/s of the best of ``epochs`` epochs, samples per epoch); an epoch includes starting the workers."""
    best, samples = 0.0, 0
    for _ in range(epochs):
        started, samples = time.perf_counter(), 0
        for batch in loader:
            samples += len(batch["index"]) if isinstance(batch, dict) else len(batch)
        best = max(best, samples / (time.perf_counter() - started))
    return best, samples


def _sdk_rate(stream, **loader) -> tuple[float, int]:  # noqa: ANN001, ANN003
    from annolake.torch_data import SliceLoader

    return _rate(SliceLoader(stream, batch_size=BATCH, num_workers=WORKERS, **loader))


def _webdataset_rate(urls: list[str]) -> tuple[float, int]:
    import webdataset as wds

    dataset = (
        wds.WebDataset(
            [f"pipe:curl -s -f '{url}'" for url in urls], shardshuffle=False, workersplitter=wds.split_by_worker
        )
        .decode()
        .to_tuple("jpg", "json")
    )  # decode(): the json parsed, the jpg left as bytes
    return _rate(DataLoader(dataset, batch_size=BATCH, num_workers=WORKERS, collate_fn=list))


class WholeShards(IterableDataset):
    """(d): each worker GETs its shards whole and yields one placeholder per sample they hold (no parsing)."""

    def __init__(self, shards: list[tuple[str, int]]) -> None:
        self.shards = shards

    def __iter__(self):  # noqa: ANN204
        worker = get_worker_info()
        mine = self.shards[worker.id :: worker.num_workers] if worker else self.shards
        http = urllib3.PoolManager()
        for url, count in mine:
            assert http.request("GET", url).data
            yield from range(count)


def run() -> list[tuple[str, str, str]]:
    from annolake import Project

    rows: list[tuple[str, str, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        platform = start_platform(Path(tmp) / "home", free_port(), free_port(), snapshot_seconds=24 * 3600)
        try:
            _configure_service_for(platform)
            started = time.perf_counter()
            total = _seed("demo", "packed-bench", COUNT)
            rows.append(
                (
                    f"seed {COUNT} noise JPEGs (bench setup)",
                    f"{time.perf_counter() - started:.0f} s",
                    f"{total / COUNT / 1000:.0f} KB each on average, {total / 1e6:.0f} MB",
                )
            )
            creds = platform.credentials
            project = Project("demo", creds["client_id"], creds["client_secret"], platform.api_url)
            snap = project.directory.get("packed-bench").snapshot("packed-bench-v1")
            started = time.perf_counter()
            job = snap.pack(SHARD_BYTES)
            packing = time.perf_counter() - started
            shards = snap.packed_shards(SHARD_BYTES)
            urls = project.client.get(f"/projects/demo/exports/{job['export_id']}/shards")["shards"]
            by_name = {shard["name"]: shard["url"] for shard in urls}
            shard_urls = [by_name[shard["shard"]] for shard in shards.shards]
            rows.append(
                (
                    f"pack {COUNT} files into {len(shards.shards)} shards of <= {SHARD_BYTES >> 20} MiB",
                    f"{packing:.1f} s",
                    f"export state machine on the emulator; index {job['size_bytes'] / COUNT:.0f} B a file",
                )
            )
            per_object, n = _sdk_rate(snap.to_pytorch(streaming=True, decode=False, seed=1), collate_fn=list)
            packed_stream = snap.to_pytorch(packed=True, shard_bytes=SHARD_BYTES, decode=False, seed=1)
            packed, n_packed = _sdk_rate(packed_stream, collate_fn=list)
            packed_tensors, _ = _sdk_rate(packed_stream)
            webdataset, n_wds = _webdataset_rate(shard_urls)
            limit, n_limit = _rate(
                DataLoader(
                    WholeShards(list(zip(shard_urls, shards.lengths, strict=True))),
                    batch_size=BATCH,
                    num_workers=WORKERS,
                    collate_fn=list,
                )
            )
            assert n == n_packed == n_wds == n_limit == COUNT, (n, n_packed, n_wds, n_limit)
            decoded_per_object, _ = _sdk_rate(snap.to_pytorch(streaming=True, seed=1))
            decoded_packed, _ = _sdk_rate(snap.to_pytorch(packed=True, shard_bytes=SHARD_BYTES, seed=1))
            loader = f"DataLoader(num_workers={WORKERS}), bytes only, collate_fn=list"
            rows += [
                ("(a) per object: to_pytorch(streaming=True)", f"{per_object:.0f} samples/s", loader),
                ("(b) packed: to_pytorch(packed=True)", f"{packed:.0f} samples/s", f"{packed / per_object:.1f}x (a)"),
                (
                    "(c) webdataset over the same shards (pipe:curl)",
                    f"{webdataset:.0f} samples/s",
                    f"(b) = {packed / webdataset:.2f}x (c); (c) = {webdataset / per_object:.1f}x (a)",
                ),
                (
                    "(d) limit: whole-shard GETs, no parsing",
                    f"{limit:.0f} samples/s",
                    f"(b) = {packed / limit:.2f}x (d)",
                ),
                ("(b) packed, detection_collate (tensors)", f"{packed_tensors:.0f} samples/s", "bytes only"),
                (
                    "(a) decoded / (b) decoded",
                    f"{decoded_per_object:.0f} / {decoded_packed:.0f}",
                    f"samples/s; {decoded_packed / decoded_per_object:.1f}x",
                ),
            ]
        finally:
            platform.stop(timeout=600)
    return rows
