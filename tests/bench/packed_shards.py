"""Packed shards against per-object streaming, webdataset and MDS, on the local platform, same data, same S3.

Starts ``python -m infra.local`` (what ``make up`` runs), stores ``ANNOLAKE_BENCH_PACKED_FILES`` (10,000) noise
JPEGs of 30–100 KB with boxes through the service's code (each original PUT where the ingest puts it, the records
written by the ingest's ``record_new_files``; not the ingest's image work, which made 10,000 files slow to seed),
takes a snapshot and packs it (``snap.pack``: the export state machine on the emulator's Step Functions, timed).
Then, on two endpoints in turn, the emulator's S3 and a fast static server (``static_server``) serving the same
objects at the same paths (the API's pages, the pack's index and the shard listing still come from the emulator),
each into ``DataLoader(num_workers=2)``, batches of 32, bytes only (no decoding, so the figures are of reading,
not of JPEG decoding on 2 cores):

(a) packed: ``snap.to_pytorch(packed=True)``: one GET per shard, samples cut out by the index;
(b) webdataset: ``webdataset.WebDataset`` over the same shards' presigned URLs (``pipe:curl``), split by worker:
    the shards are plain webdataset tars, so it reads them as they are;
(c) MDS: the same samples (media bytes + the shard's JSON) written by mosaicml-streaming's ``MDSWriter`` into
    shards of the same size, uploaded to the same emulator S3, read by ``StreamingDataset`` from ``s3://`` (a
    fresh local cache each epoch, so every epoch downloads);
(d) per object: ``snap.to_pytorch(streaming=True)``: pages of presigned URLs, one GET per sample;
the limit: each worker GETs its share of the shards whole and counts their samples (no parsing), and the same
with each sample's bytes cut out by the index and handed to the main process (what any reader must at least do),
and with each sample's bytes and its annotation JSON parsed (what any reader that hands over annotations does).

Each figure is the best of 3 epochs (the machine is shared). Every loader hands batches as lists
(``collate_fn=list``: the samples as the reader made them, the SDK's dicts with parsed annotations, webdataset's
(jpg bytes, parsed json) tuples, MDS's {jpg: bytes, json: parsed} dicts), so the figures compare reading; then (a)
with the SDK's ``detection_collate`` (tensors), and (a) and (d) decoded, for scale. Nothing asserts; the numbers
go in docs/snapshots.md.

``ANNOLAKE_BENCH_BASELINE_SDK=<a checkout's sdk/ folder>`` also measures (a) with that SDK against this one and
the limit with each sample's bytes handed over, each in a child process of its own, taking turns (``ROUNDS`` each)
on the same shards in the same run, so a change to the reader is measured under the same load as what it replaces
and as its bound.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import urllib3
from annolake.snapshots import Snapshot
from PIL import Image
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from tests.bench.streaming import RehostedPages, _configure_service_for, _rehost
from tests.e2e.conftest import free_port, start_platform

COUNT = int(os.environ.get("ANNOLAKE_BENCH_PACKED_FILES", "10000"))
SHARD_BYTES = 16 << 20
WORKERS, BATCH = 2, 32
EPOCHS = 3  # each loader's best epoch is reported: a shared machine's load only ever slows a run down
# turns each of the baseline SDK, this one and the limit take (ANNOLAKE_BENCH_BASELINE_SDK)
ROUNDS = int(os.environ.get("ANNOLAKE_BENCH_PACKED_ROUNDS", "3"))
REPO = Path(__file__).resolve().parents[2]


def noise_image(i: int) -> tuple[bytes, int, int]:
    """Noise of a size drawn per ``i`` (30–100 KB as JPEG: it does not compress, like a photo's detail); the JPEG,
    its width and height."""
    rng = np.random.default_rng(i)
    width, height = int(rng.integers(220, 420)), int(rng.integers(165, 290))
    buffer = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, size=(height, width, 3), dtype=np.uint8)).save(buffer, "JPEG", quality=85)
    return buffer.getvalue(), width, height


def _stored(project_id: str, body: bytes, width: int, height: int, static_root: Path | None = None) -> dict:
    """Put an original where the ingest puts it and return the facts the ingest would record for it. Not the
    ingest's image work (decoding to check and measure, a thumbnail): the bench made the JPEG and knows its size,
    and nothing here reads thumbnails (their key is recorded, no object written)."""
    import hashlib

    from annolake_service.adapters import storage
    from annolake_service.domain import media
    from annolake_service.shared.settings import get_settings

    content_hash = hashlib.sha256(body).hexdigest()
    file_id = media.file_id_for_content(project_id, content_hash)
    original = storage.original_key(project_id, file_id, "jpg")
    bucket = get_settings().media_bucket
    storage.write_object(bucket, original, body, "image/jpeg")
    if static_root is not None:  # where the static server serves it, at its presigned URL's path
        (static_root / bucket / original).parent.mkdir(parents=True, exist_ok=True)
        (static_root / bucket / original).write_bytes(body)
    return {
        "file_id": file_id,
        "media_type": "image",
        "mime_type": "image/jpeg",
        "width": width,
        "height": height,
        "size_bytes": len(body),
        "content_hash": content_hash,
        "original_key": original,
        "thumbnail_key": storage.thumbnail_key(project_id, file_id),
    }


def _seed(project_id: str, dataset_name: str, count: int, static_root: Path | None = None) -> int:
    """Store ``count`` noise JPEGs with boxes in the media bucket and record them with the ingest's record code
    (``record_new_files``: file items, annotation versions, memberships, as the ingest writes them); their
    total bytes. With ``static_root``, each original is written there too. The JPEGs are made in batches while
    the previous batch's records are written."""
    from concurrent.futures import ThreadPoolExecutor

    from annolake_service.services import ingest, projects, schema

    from tests.support.slice_data import LABELS, boxes

    schema.add_labels(project_id, list(LABELS))
    dataset = projects.ensure_dataset(project_id, dataset_name)
    total = 0
    with ThreadPoolExecutor(8) as pool, ThreadPoolExecutor(1) as recorder:
        recorded = None
        for start in range(0, count, 500):
            indices = range(start, min(count, start + 500))
            images = [noise_image(i) for i in indices]
            total += sum(len(body) for body, _w, _h in images)
            facts = list(pool.map(lambda image: _stored(project_id, *image, static_root), images))
            if recorded is not None:
                recorded.result()
            rows = [
                {"name": f"noise_{i:06d}.jpg", "facts": f, "instance_list": boxes(i, w, h), "metadata": {}}
                for i, f, (_b, w, h) in zip(indices, facts, images, strict=True)
            ]
            recorded = recorder.submit(ingest.record_new_files, project_id, dataset.dataset_id, rows, author="seed")
        if recorded is not None:
            recorded.result()
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


def _child_rate(loader) -> dict[str, float]:  # noqa: ANN001
    """In a child process: the best rate of ``EPOCHS`` epochs, and the median CPU time a sample cost in this
    process (the main one: unpickling) and in its DataLoader workers (reaped at each epoch's end). CPU time
    moves far less with the machine's load than the rate does; the emulator's, the same GETs in every case, is
    not in it."""
    import resource
    import statistics

    def cpu(who: int) -> float:
        usage = resource.getrusage(who)
        return usage.ru_utime + usage.ru_stime

    best, main, workers = 0.0, [], []
    for _ in range(EPOCHS):
        started, own, reaped, samples = time.perf_counter(), cpu(resource.RUSAGE_SELF), cpu(resource.RUSAGE_CHILDREN), 0
        for batch in loader:
            samples += len(batch)
        best = max(best, samples / (time.perf_counter() - started))
        main.append((cpu(resource.RUSAGE_SELF) - own) / samples * 1e6)
        workers.append((cpu(resource.RUSAGE_CHILDREN) - reaped) / samples * 1e6)
    return {"rate": best, "main_us": statistics.median(main), "workers_us": statistics.median(workers), "n": samples}


def _sdk_rate(stream, **loader) -> tuple[float, int]:  # noqa: ANN001, ANN003
    from annolake.torch_data import SliceLoader

    return _rate(SliceLoader(stream, batch_size=BATCH, num_workers=WORKERS, **loader))


def _complete_snapshot(project, wait_s: float = 300.0):  # noqa: ANN001, ANN202
    """A snapshot of all ``COUNT`` seeded files: recorded files reach the snapshot's query a little later, so one
    taken at once may hold fewer; then another is taken (a snapshot never changes) until all are in."""
    deadline, attempt = time.monotonic() + wait_s, 1
    while True:
        try:
            snap = project.directory.get("packed-bench").snapshot(f"packed-bench-v{attempt}")
        except urllib3.exceptions.ProtocolError:  # the loaded emulator dropped the connection: ask again,
            snap = project.directory.get("packed-bench").snapshot(f"packed-bench-v{attempt}")  # the same content
        if len(snap) >= COUNT or time.monotonic() > deadline:
            return snap
        attempt += 1
        time.sleep(5)


def _packed_child() -> None:
    """(a) in a child process, with whichever ``annolake`` its ``PYTHONPATH`` finds first; prints its rate."""
    from annolake import Project

    creds = json.loads(os.environ["ANNOLAKE_BENCH_CREDS"])
    project = Project("demo", creds["client_id"], creds["client_secret"], creds["api_url"])
    snap = project.snapshot.get(creds["snapshot"])  # the parent's
    stream = snap.to_pytorch(packed=True, shard_bytes=SHARD_BYTES, decode=False, seed=1)
    from annolake.torch_data import SliceLoader

    measured = _child_rate(SliceLoader(stream, batch_size=BATCH, num_workers=WORKERS, collate_fn=list))
    assert measured["n"] == len(stream.shards), (measured, len(stream.shards))
    print(json.dumps(measured))


def _limit_child() -> None:
    """The limit (each sample's bytes handed over) in a child process, as (a) is measured; prints its rate."""
    import numpy.random  # noqa: F401 - as the SDK's datasets do, so the workers do not import it every epoch

    shards = json.loads(Path(os.environ["ANNOLAKE_BENCH_SHARDS"]).read_text())
    whole = WholeShards([(url, entries) for url, entries in shards], hand="bytes")
    measured = _child_rate(DataLoader(whole, batch_size=BATCH, num_workers=WORKERS, collate_fn=list))
    assert measured["n"] == sum(len(entries) for _url, entries in shards), measured
    print(json.dumps(measured))


def _packed_rate_with(sdk: Path, creds: dict, child: str = "_packed_child") -> dict[str, float]:  # noqa: ANN001
    env = {
        **os.environ,
        "PYTHONPATH": f"{sdk}:{REPO}:{os.environ.get('PYTHONPATH', '')}",
        "ANNOLAKE_BENCH_CREDS": json.dumps(creds),
    }
    code = f"from tests.bench.packed_shards import {child}; {child}()"
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True)  # noqa: S603
    if done.returncode:
        raise RuntimeError(f"(a) with the SDK at {sdk} failed: {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _baseline_rows(platform, snapshot: str, shards: list[tuple[str, list[list]]]) -> list[tuple[str, str, str]]:  # noqa: ANN001
    """(a) with ``ANNOLAKE_BENCH_BASELINE_SDK``, with this SDK and the limit (bytes handed over), taking turns;
    nothing if it is not set."""
    baseline = os.environ.get("ANNOLAKE_BENCH_BASELINE_SDK")
    if not baseline:
        return []
    creds = {**platform.credentials, "api_url": platform.api_url, "snapshot": snapshot}
    runs: dict[str, list[dict[str, float]]] = {"baseline": [], "this": [], "limit": []}
    with tempfile.NamedTemporaryFile("w", suffix=".json") as listing:
        listing.write(json.dumps(shards))
        listing.flush()
        os.environ["ANNOLAKE_BENCH_SHARDS"] = listing.name
        for _ in range(ROUNDS):
            runs["baseline"].append(_packed_rate_with(Path(baseline), creds))
            runs["this"].append(_packed_rate_with(REPO / "sdk", creds))
            runs["limit"].append(_packed_rate_with(REPO / "sdk", creds, "_limit_child"))
    old, new, limit = (max(run["rate"] for run in runs[k]) for k in ("baseline", "this", "limit"))
    turns = ", ".join(
        f"{a['rate']:.0f}/{b['rate']:.0f}/{c['rate']:.0f}" for a, b, c in zip(*runs.values(), strict=True)
    )

    def cpu(kind: str) -> tuple[float, float]:  # the median over the turns of each turn's median epoch
        import statistics

        return (
            statistics.median(run["main_us"] for run in runs[kind]),
            statistics.median(run["workers_us"] for run in runs[kind]),
        )

    cpus = {kind: cpu(kind) for kind in runs}
    return [
        (
            "(a) packed, baseline SDK / this SDK / limit, taking turns",
            f"{old:.0f} / {new:.0f} / {limit:.0f} samples/s",
            f"this = {new / old:.2f}x the baseline; of the limit (bytes handed over): baseline {old / limit:.2f}x, "
            f"this {new / limit:.2f}x (best of {ROUNDS} turns each, child processes: {turns})",
        ),
        (
            "  CPU a sample: main process + workers, baseline / this / limit",
            " / ".join(f"{main:.0f}+{workers:.0f}" for main, workers in cpus.values()) + " us",
            "median of the turns' median epochs; the emulator's CPU (the same GETs) not counted",
        ),
    ]


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
    """The limit: each worker GETs its shards whole and yields, per sample they hold, a placeholder (``hand``
    ``"count"``: no parsing), its media bytes cut out by the index's offsets (``"bytes"``), or those and its
    annotation JSON parsed (``"json"``: what a reader that hands over annotations must at least do)."""

    def __init__(self, shards: list[tuple[str, list[list]]], *, hand: str = "count") -> None:
        self.shards, self.hand = shards, hand

    def __iter__(self):  # noqa: ANN204
        worker = get_worker_info()
        mine = self.shards[worker.id :: worker.num_workers] if worker else self.shards
        http = urllib3.PoolManager()
        for url, entries in mine:
            data = http.request("GET", url).data
            assert data
            if self.hand == "json":
                yield from ((data[e[3] : e[3] + e[4]], json.loads(data[e[5] : e[5] + e[6]])) for e in entries)
            elif self.hand == "bytes":
                yield from (data[entry[3] : entry[3] + entry[4]] for entry in entries)
            else:
                yield from range(len(entries))


def _import_streaming():  # noqa: ANN202
    """mosaicml-streaming. Its package imports, beside the MDS writer and ``StreamingDataset``, its text, vision
    and multimodal datasets and a ``StreamingDataLoader``, which need ``transformers`` and ``torchvision``, and this
    bench uses none of them. Where ``transformers`` is not installed (``pip install --no-deps
    mosaicml-streaming==0.10.0`` plus xxhash, zstd, Brotli and python-snappy, what its MDS path imports), those
    subpackages are stood in for by empty modules and ``transformers`` by one naming the two classes the data
    loader module imports; as where torchvision cannot load (a CUDA build beside the CPU torch)."""
    import sys
    import types

    try:
        import transformers  # noqa: F401
    except ImportError:
        for name in ("streaming.text", "streaming.vision", "streaming.multimodal"):
            sys.modules.setdefault(name, types.ModuleType(name))
        stand_in = types.ModuleType("transformers")
        stand_in.BatchEncoding = stand_in.BatchFeature = type("NotInstalled", (), {})  # type: ignore[attr-defined]
        sys.modules.setdefault("transformers", stand_in)
    try:
        import torchvision  # noqa: F401
    except (ImportError, RuntimeError):
        sys.modules.setdefault("streaming.vision", types.ModuleType("streaming.vision"))
    import streaming

    return streaming


def _write_mds(streaming, shards, shard_urls: list[str], out: Path) -> int:  # noqa: ANN001
    """The pack's samples (media bytes, the shard's JSON parsed) as MDS shards of ``SHARD_BYTES``; their count."""
    import json

    http, count = urllib3.PoolManager(), 0
    columns = {"jpg": "bytes", "json": "json"}
    with streaming.MDSWriter(out=str(out), columns=columns, size_limit=SHARD_BYTES) as writer:
        for url, shard in zip(shard_urls, shards.shards, strict=True):
            data = http.request("GET", url).data
            for _index, _file_id, _ext, media_at, media_size, json_at, json_size in shard["samples"]:
                item = json.loads(data[json_at : json_at + json_size])
                writer.write({"jpg": data[media_at : media_at + media_size], "json": item})
                count += 1
    return count


def _mds_rate(streaming, remote: str, cache: Path) -> tuple[float, int]:  # noqa: ANN001
    """Best of ``EPOCHS``, each a fresh ``StreamingDataset`` over a fresh local cache (so it downloads)."""
    import shutil

    best, samples = 0.0, 0
    for epoch in range(EPOCHS):
        streaming.base.util.clean_stale_shared_memory()
        started, samples = time.perf_counter(), 0
        dataset = streaming.StreamingDataset(
            remote=remote, local=str(cache / f"epoch-{epoch}"), shuffle=False, batch_size=BATCH
        )
        for batch in DataLoader(dataset, batch_size=BATCH, num_workers=WORKERS, collate_fn=list):
            samples += len(batch)
        best = max(best, samples / (time.perf_counter() - started))
        del dataset
        shutil.rmtree(cache / f"epoch-{epoch}", ignore_errors=True)
    return best, samples


def _mds_converted(platform, shards, shard_urls: list[str], tmp: Path):  # noqa: ANN001, ANN202
    """(c)'s data: the pack's samples as MDS shards, uploaded to the emulator's media bucket under ``bench-mds/``;
    (streaming, the MDS folder, a note), or (None, None, why) where mosaicml-streaming does not import."""
    import boto3

    try:
        streaming = _import_streaming()
    except ImportError as error:
        return None, None, f"mosaicml-streaming does not import here: {error}"
    out = tmp / "mds"
    started = time.perf_counter()
    written = _write_mds(streaming, shards, shard_urls, out)
    converting = time.perf_counter() - started
    assert written == len(shards), (written, len(shards))
    creds = platform.credentials
    s3 = boto3.client("s3", endpoint_url=creds["aws_endpoint_url"], region_name=creds["aws_region"])
    files = sorted(path for path in out.rglob("*") if path.is_file())
    for path in files:
        s3.upload_file(str(path), os.environ["MEDIA_BUCKET"], f"bench-mds/{path.relative_to(out)}")
    note = f"mosaicml-streaming {streaming.__version__}; {len(files) - 1} shards, converted in {converting:.1f} s"
    return streaming, out, note


class RehostedSnapshot(RehostedPages, Snapshot):
    """A snapshot whose stream pages point their media URLs at another host (the static server). It starts with
    the label schema ``snap`` read, as (a)'s workers and the emulator's (d) start with it (same measure)."""

    def __init__(self, snap: Snapshot, media_host: str) -> None:
        super().__init__(snap.scope, snap._data)
        self._label_ids = snap.label_ids
        self.media_host = media_host


def _endpoint_rates(snap, shard_urls: list[str], entries: list[list], mds, tmp: Path, host: str | None = None):  # noqa: ANN001, ANN202
    """(a), (b), (c), (d) and the limits on one endpoint: the emulator's S3, or with ``host`` the static server
    serving the same objects (the pages, the pack's index and the shard listing still come from the API)."""
    rates: dict[str, float] = {}
    urls = [_rehost(url, host) for url in shard_urls] if host else shard_urls
    packed_stream = snap.to_pytorch(packed=True, shard_bytes=SHARD_BYTES, decode=False, seed=1)
    if host:
        packed_stream.shards._urls = {name: _rehost(url, host) for name, url in packed_stream.shards._urls.items()}
    rates["a"], n_packed = _sdk_rate(packed_stream, collate_fn=list)
    rates["b"], n_wds = _webdataset_rate(urls)
    assert n_packed == n_wds == sum(map(len, entries)), (n_packed, n_wds)
    streaming, out, _note = mds
    if streaming is not None:
        endpoint = host or os.environ["AWS_ENDPOINT_URL"]
        os.environ["S3_ENDPOINT_URL"] = endpoint  # where streaming's S3 downloads go
        remote = f"s3://{os.environ['MEDIA_BUCKET']}/bench-mds"
        rates["c"], n_mds = _mds_rate(streaming, remote, tmp / f"mds-cache-{'static' if host else 'emulator'}")
        assert n_mds == n_packed, (n_mds, n_packed)
    per_object = RehostedSnapshot(snap, host) if host else snap
    rates["d"], _ = _sdk_rate(per_object.to_pytorch(streaming=True, decode=False, seed=1), collate_fn=list)
    for hand in ("count", "bytes", "json"):
        whole = WholeShards(list(zip(urls, entries, strict=True)), hand=hand)
        rates[hand], n_limit = _rate(DataLoader(whole, batch_size=BATCH, num_workers=WORKERS, collate_fn=list))
        assert n_limit == n_packed, n_limit
    return rates


def _endpoint_rows(where: str, rates: dict[str, float], mds_note: str) -> list[tuple[str, str, str]]:
    a = rates["a"]
    loader = f"DataLoader(num_workers={WORKERS}), bytes only, collate_fn=list"

    def vs(key: str, goal: float) -> str:
        met = "met" if a / rates[key] >= goal else "NOT met"
        return f"(a) = {a / rates[key]:.2f}x, goal >= {goal}x {met}"

    rows = [
        (f"{where}: (a) packed: to_pytorch(packed=True)", f"{a:.0f} samples/s", loader),
        (f"{where}: (b) webdataset over the same shards (pipe:curl)", f"{rates['b']:.0f} samples/s", vs("b", 1.0)),
    ]
    if "c" in rates:
        rows.append((f"{where}: (c) MDS: StreamingDataset over s3://", f"{rates['c']:.0f} samples/s", vs("c", 1.0)))
    else:
        rows.append((f"{where}: (c) MDS: not measured", "-", mds_note))
    rows += [
        (
            f"{where}: (d) per object: to_pytorch(streaming=True)",
            f"{rates['d']:.0f} samples/s",
            f"(a) = {a / rates['d']:.1f}x"
            + (f", goal >= 10x {'met' if a / rates['d'] >= 10 else 'NOT met'}" if where == "emulator" else ""),
        ),
        (
            f"{where}: limit: whole-shard GETs, no parsing",
            f"{rates['count']:.0f} samples/s",
            f"(a) = {a / rates['count']:.2f}x",
        ),
        (
            f"{where}: limit: the same, each sample's bytes handed over",
            f"{rates['bytes']:.0f} samples/s",
            vs("bytes", 0.9),
        ),
        (
            f"{where}: limit: the same, bytes and parsed JSON handed over",
            f"{rates['json']:.0f} samples/s",
            f"(a) = {a / rates['json']:.2f}x",
        ),
    ]
    return rows


def _serve_static(root: Path) -> tuple[subprocess.Popen, str]:
    from tests.e2e.conftest import free_port as port_for

    port = port_for()
    server = subprocess.Popen([sys.executable, "-m", "tests.bench.static_server", str(root), str(port)])  # noqa: S603
    http = urllib3.PoolManager(retries=urllib3.Retry(connect=50, backoff_factor=0.1))
    http.request("GET", f"http://127.0.0.1:{port}/")
    return server, f"http://127.0.0.1:{port}"


def _static_copy(root: Path, shard_urls: list[str], mds_out: Path | None) -> None:
    """The shards (fetched from the emulator) and the MDS folder under the static root at the paths their URLs
    name; the originals were written there by the seed."""
    import shutil

    http = urllib3.PoolManager()
    for url in shard_urls:
        path = root / _rehost(url, "").lstrip("/").split("?", 1)[0]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(http.request("GET", url).data)
    if mds_out is not None:
        shutil.copytree(mds_out, root / os.environ["MEDIA_BUCKET"] / "bench-mds")


def run() -> list[tuple[str, str, str]]:
    from annolake import Project

    rows: list[tuple[str, str, str]] = []
    load = [os.getloadavg()[0]]
    with tempfile.TemporaryDirectory() as tmp:
        platform = start_platform(
            Path(tmp) / "home", free_port(), free_port(), timeout_s=900, snapshot_seconds=24 * 3600
        )
        static_root = Path(tmp) / "static"
        try:
            _configure_service_for(platform)
            started = time.perf_counter()
            total = _seed("demo", "packed-bench", COUNT, static_root)
            rows.append(
                (
                    f"seed {COUNT} noise JPEGs with boxes (bench setup)",
                    f"{time.perf_counter() - started:.0f} s",
                    f"{total / COUNT / 1000:.0f} KB each on average, {total / 1e6:.0f} MB; originals PUT and records "
                    "written by the service's code, no ingest image work",
                )
            )
            creds = platform.credentials
            project = Project("demo", creds["client_id"], creds["client_secret"], platform.api_url)
            snap = _complete_snapshot(project)

            started = time.perf_counter()
            job = snap.pack(SHARD_BYTES)
            packing = time.perf_counter() - started
            shards = snap.packed_shards(SHARD_BYTES)
            urls = project.client.get(f"/projects/demo/exports/{job['export_id']}/shards")["shards"]
            by_name = {shard["name"]: shard["url"] for shard in urls}
            shard_urls = [by_name[shard["shard"]] for shard in shards.shards]
            entries = [shard["samples"] for shard in shards.shards]
            rows.append(
                (
                    f"pack {len(shards)} of {COUNT} files into {len(shards.shards)} shards of <= "
                    f"{SHARD_BYTES >> 20} MiB",
                    f"{packing:.1f} s",
                    f"export state machine on the emulator; index {job['size_bytes'] / COUNT:.0f} B a file",
                )
            )
            mds = _mds_converted(platform, shards, shard_urls, Path(tmp))
            load.append(os.getloadavg()[0])
            emulator = _endpoint_rates(snap, shard_urls, entries, mds, Path(tmp))
            load.append(os.getloadavg()[0])
            packed_tensors, _ = _sdk_rate(snap.to_pytorch(packed=True, shard_bytes=SHARD_BYTES, decode=False, seed=1))
            rows += _baseline_rows(platform, snap.name, list(zip(shard_urls, entries, strict=True)))
            decoded_per_object, _ = _sdk_rate(snap.to_pytorch(streaming=True, seed=1))
            decoded_packed, _ = _sdk_rate(snap.to_pytorch(packed=True, shard_bytes=SHARD_BYTES, seed=1))
            _static_copy(static_root, shard_urls, mds[1])
            server, host = _serve_static(static_root)
            try:
                load.append(os.getloadavg()[0])
                static = _endpoint_rates(snap, shard_urls, entries, mds, Path(tmp), host)
                load.append(os.getloadavg()[0])
            finally:
                server.terminate()
                server.wait(timeout=30)
            rows += _endpoint_rows("emulator", emulator, mds[2])
            rows += _endpoint_rows("static server", static, mds[2])
            rows += [
                ("(c) MDS conversion", "", mds[2]),
                ("emulator: (a) packed, detection_collate (tensors)", f"{packed_tensors:.0f} samples/s", "bytes only"),
                (
                    "emulator: (d) decoded / (a) decoded",
                    f"{decoded_per_object:.0f} / {decoded_packed:.0f}",
                    f"samples/s; {decoded_packed / decoded_per_object:.1f}x",
                ),
                (
                    "load average (1 min) before / between / after the endpoints' runs",
                    " / ".join(f"{x:.1f}" for x in load),
                    "",
                ),
            ]
        finally:
            platform.stop(timeout=600)
    return rows
